import type { AttributeValue, CloudEvent } from '../core/cloudevents/event.js';
import { decodeHttp, type HttpHeaders } from '../core/cloudevents/http-binding.js';
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

/** The hop-count extension Knative's brokers use to break reply loops. */
export const TTL_EXTENSION = 'knativebrokerttl';
/** What an event entering a broker for the first time starts with (Knative's default). */
export const DEFAULT_TTL = 255;

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
 * `knativebrokerttl` gets 255; one with it is decremented, and refused once that reaches 0.
 */
export function applyBrokerTtl(event: CloudEvent, index?: number): { ok: true; event: CloudEvent } | { ok: false; error: BrokerError } {
  const current = event.attributes[TTL_EXTENSION];
  let ttl: number;
  if (current === undefined) {
    ttl = DEFAULT_TTL;
  } else {
    const parsed = parseTtl(current);
    if (parsed === undefined) {
      const message = `extension '${TTL_EXTENSION}' must be an integer, got ${JSON.stringify(current)}`;
      return fail('EVENT_INVALID', message, { attribute: TTL_EXTENSION, value: current, rule: 'integer', message }, index);
    }
    ttl = parsed - 1;
    if (ttl <= 0) {
      const message = `the event has passed through too many brokers: '${TTL_EXTENSION}' was ${parsed} and would become ${ttl} (a reply loop?)`;
      return fail('TTL_EXHAUSTED', message, { attribute: TTL_EXTENSION, value: current, rule: 'hop-limit', message }, index);
    }
  }
  const attributes: Record<string, AttributeValue> = { ...event.attributes, [TTL_EXTENSION]: ttl };
  return { ok: true, event: event.data === undefined ? { attributes } : { attributes, data: event.data } };
}

function parseTtl(value: AttributeValue): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value === 'string' && /^[+-]?\d{1,10}$/.test(value)) return Number(value);
  return undefined;
}

function fail(code: 'EVENT_INVALID' | 'TTL_EXHAUSTED', message: string, issue: Record<string, unknown>, index?: number): { ok: false; error: BrokerError } {
  const details: Record<string, unknown> = { issues: [issue] };
  if (index !== undefined) details['index'] = index;
  return { ok: false, error: new BrokerError(code, index === undefined ? message : `batch event ${index}: ${message}`, { details }) };
}
