import { setAttribute, type AttributeValue, type CloudEvent } from './event.js';

/**
 * Loop protection (Knative's broker TTL), in one place for the ingress and the dispatcher.
 *
 * The ingress stamps `knativebrokerttl` on every event entering a broker (255 when absent,
 * the incoming value minus one otherwise) and refuses one that reaches 0; the dispatcher gives a
 * reply the original's TTL minus one and drops it at 0. A producer cannot switch this off by
 * sending a huge TTL: any value is capped at MAX_TTL first. Subscribers and dead-letter sinks
 * never see the extension: it is the broker's bookkeeping, not part of the event.
 */
export const TTL_ATTRIBUTE = 'knativebrokerttl';
/** What an event without a TTL starts with (Knative's default broker TTL). */
export const DEFAULT_TTL = 255;
/** No TTL is ever taken above this, whatever a producer sends. */
export const MAX_TTL = 255;

/**
 * A TTL value as an integer capped at MAX_TTL; undefined when it is not an integer (a number, or
 * a string of decimal digits with an optional sign, as every attribute is a string on the wire).
 */
export function parseTtl(value: AttributeValue): number | undefined {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) n = Number(value);
  else return undefined;
  // Digits beyond a double's range parse to ±Infinity: still an integer on the wire.
  if (!Number.isFinite(n)) return n > 0 ? MAX_TTL : 0;
  return Number.isInteger(n) ? Math.min(n, MAX_TTL) : undefined;
}

/** The event's TTL: its own, capped, or the default when absent or not an integer. */
export function ttlOf(event: CloudEvent): number {
  const value = ownAttribute(event, TTL_ATTRIBUTE);
  if (value === undefined) return DEFAULT_TTL;
  return parseTtl(value) ?? DEFAULT_TTL;
}

/** The event without its TTL: what subscribers and dead-letter sinks are sent. */
export function withoutTtl(event: CloudEvent): CloudEvent {
  if (!Object.hasOwn(event.attributes, TTL_ATTRIBUTE)) return event;
  const attributes = copyAttributes(event.attributes, TTL_ATTRIBUTE);
  return event.data === undefined ? { attributes } : { attributes, data: event.data };
}

/** The event with its TTL set to `ttl`. */
export function withTtl(event: CloudEvent, ttl: number): CloudEvent {
  const attributes = copyAttributes(event.attributes);
  attributes[TTL_ATTRIBUTE] = ttl;
  return event.data === undefined ? { attributes } : { attributes, data: event.data };
}

/**
 * The own attributes, without `except`. A loop rather than spread or rest: those took 1.5 to 4 µs
 * an event here (ten times the loop), on every event the ingress stamps and every delivery.
 */
function copyAttributes(source: Readonly<Record<string, AttributeValue>>, except?: string): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {};
  for (const name in source) {
    if (name === except || !Object.hasOwn(source, name)) continue;
    // setAttribute keeps an attribute named `__proto__` an own property.
    setAttribute(attributes, name, source[name]!);
  }
  return attributes;
}

function ownAttribute(event: CloudEvent, name: string): AttributeValue | undefined {
  return Object.hasOwn(event.attributes, name) ? event.attributes[name] : undefined;
}
