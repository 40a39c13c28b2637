import type { CloudEvent } from '../core/cloudevents/event.js';
import { decodeHttp, isHttpCloudEvent } from '../core/cloudevents/http-binding.js';
import { ttlOf, withTtl } from '../core/cloudevents/ttl.js';

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
 * that echoes every event cannot make it circulate forever. The TTL rules live in
 * core/cloudevents/ttl.ts, shared with the ingress.
 */

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
    event: withTtl(reply, ttl),
  };
}
