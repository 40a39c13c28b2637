import type { CloudEvent } from '../core/cloudevents/event.js';
import { decodeHttp, isHttpCloudEvent } from '../core/cloudevents/http-binding.js';

/**
 * Replies: a subscriber may answer an event with another one (Knative Eventing, "Reply"), which
 * goes back into the broker like any event and so through every trigger's filter.
 *
 * What counts as a reply:
 *   202 Accepted                         → never a reply (the subscriber only queued the event);
 *   2xx that is not a CloudEvent message → not a reply (no `ce-specversion` header, and not
 *                                          `application/cloudevents…` content): the event is done;
 *   2xx that is a CloudEvent message     → a reply, if it decodes and validates to one event;
 *                                          otherwise the delivery failed (retried, dead-lettered).
 *
 * Loop protection (Knative's broker TTL): the ingress stamps `knativebrokerttl` on each event; the
 * dispatcher removes it from the event it delivers, and gives a reply the original's TTL minus one,
 * whatever the subscriber sent. A reply whose TTL would be 0 or less is dropped, so a subscriber
 * that echoes every event cannot make it circulate forever.
 */
export const TTL_ATTRIBUTE = 'knativebrokerttl';
/** The TTL an event without one is given (Knative's default broker TTL). */
export const DEFAULT_TTL = 255;

export type ResponseReply =
  | { readonly kind: 'none' }
  | { readonly kind: 'reply'; readonly event: CloudEvent }
  | { readonly kind: 'invalid'; readonly reason: string };

export function replyOf(status: number, headers: Readonly<Record<string, string>>, body: Buffer, truncated: boolean): ResponseReply {
  if (status === 202 || !isHttpCloudEvent(headers)) return { kind: 'none' };
  if (truncated) return { kind: 'invalid', reason: 'the reply is larger than the dispatcher reads (maxResponseBytes)' };
  const decoded = decodeHttp(headers, body);
  if (!decoded.ok) return { kind: 'invalid', reason: decoded.error.message };
  if (decoded.events.length !== 1) return { kind: 'invalid', reason: `a reply is one event, not a batch of ${decoded.events.length}` };
  return { kind: 'reply', event: decoded.events[0]! };
}

/** The event's TTL: its `knativebrokerttl` as an integer, or the default when absent or not one. */
export function ttlOf(event: CloudEvent): number {
  const value = event.attributes[TTL_ATTRIBUTE];
  if (value === undefined) return DEFAULT_TTL;
  const ttl = typeof value === 'number' ? value : Number(String(value).trim());
  return Number.isInteger(ttl) ? ttl : DEFAULT_TTL;
}

/** The event without its TTL: what the subscriber is sent. */
export function withoutTtl(event: CloudEvent): CloudEvent {
  if (!(TTL_ATTRIBUTE in event.attributes)) return event;
  const { [TTL_ATTRIBUTE]: _ttl, ...attributes } = event.attributes;
  return event.data === undefined ? { attributes } : { attributes, data: event.data };
}

export type ReplyToForward =
  | { readonly kind: 'forward'; readonly event: CloudEvent; readonly ttl: number }
  | { readonly kind: 'ttl-exhausted'; readonly ttl: number };

/** Stamps the reply with the original's TTL minus one, or says it must be dropped. */
export function stampReply(reply: CloudEvent, original: CloudEvent): ReplyToForward {
  const ttl = ttlOf(original) - 1;
  if (ttl <= 0) return { kind: 'ttl-exhausted', ttl };
  return {
    kind: 'forward',
    ttl,
    event: reply.data === undefined ? { attributes: { ...reply.attributes, [TTL_ATTRIBUTE]: ttl } } : { attributes: { ...reply.attributes, [TTL_ATTRIBUTE]: ttl }, data: reply.data },
  };
}
