import type { CloudEvent } from '../core/cloudevents/event.js';
import { decodeHttp, type HttpHeaders } from '../core/cloudevents/http-binding.js';
import { DEFAULT_TTL, parseTtl, TTL_ATTRIBUTE, withTtl } from '../core/cloudevents/ttl.js';
import type { ValidationIssue } from '../core/cloudevents/validate.js';
import { BrokerError } from '../core/errors.js';
import type { IngressEntry } from './ingress-table.js';

/**
 * Request → validated events, or the error that says why not. Pure: decoding and validation
 * (core/cloudevents), then the broker's hop limit. Every event of a batch passes every check
 * before any is appended.
 */

export type Received =
  | { readonly ok: true; readonly events: CloudEvent[]; readonly mode: 'binary' | 'structured' | 'batch'; readonly warnings?: readonly ValidationIssue[] }
  | { readonly ok: false; readonly error: BrokerError };

export function receive(entry: IngressEntry, headers: HttpHeaders, body: Buffer): Received {
  const decoded = decodeHttp(headers, body);
  if (!decoded.ok || !entry.hopLimited) return decoded;
  const events = decoded.events;
  for (let i = 0; i < events.length; i++) {
    const result = applyBrokerTtl(events[i]!, decoded.mode === 'batch' ? i : undefined);
    if (!result.ok) return result;
    events[i] = result.event;
  }
  return decoded;
}

/**
 * Loop protection as Knative's channel-based broker ingress does it: an event without
 * `knativebrokerttl` gets 255; one with it is capped at 255 (so a producer cannot switch the
 * protection off), decremented, and refused once that reaches 0. See core/cloudevents/ttl.ts.
 */
export function applyBrokerTtl(event: CloudEvent, index?: number): { ok: true; event: CloudEvent } | { ok: false; error: BrokerError } {
  const current = Object.hasOwn(event.attributes, TTL_ATTRIBUTE) ? event.attributes[TTL_ATTRIBUTE] : undefined;
  let ttl: number;
  if (current === undefined) {
    ttl = DEFAULT_TTL;
  } else {
    const parsed = parseTtl(current);
    if (parsed === undefined) {
      const message = `extension '${TTL_ATTRIBUTE}' must be an integer, got ${JSON.stringify(current)}`;
      return fail('EVENT_INVALID', message, { attribute: TTL_ATTRIBUTE, value: current, rule: 'integer', message }, index);
    }
    ttl = parsed - 1;
    if (ttl <= 0) {
      const message = `the event has passed through too many brokers: '${TTL_ATTRIBUTE}' was ${String(current)} and would become ${ttl} (a reply loop?)`;
      return fail('TTL_EXHAUSTED', message, { attribute: TTL_ATTRIBUTE, value: current, rule: 'hop-limit', message }, index);
    }
  }
  return { ok: true, event: withTtl(event, ttl) };
}

function fail(code: 'EVENT_INVALID' | 'TTL_EXHAUSTED', message: string, issue: Record<string, unknown>, index?: number): { ok: false; error: BrokerError } {
  const details: Record<string, unknown> = { issues: [issue] };
  if (index !== undefined) details['index'] = index;
  return { ok: false, error: new BrokerError(code, index === undefined ? message : `batch event ${index}: ${message}`, { details }) };
}
