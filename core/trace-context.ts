import type { CloudEvent } from './cloudevents/event.js';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as the broker passes it along, with or
 * without OpenTelemetry: a `traceparent` and an optional `tracestate`, read from HTTP headers,
 * Kafka record headers or the CloudEvents distributed-tracing extension, and written to the next
 * hop. Pure and free of OpenTelemetry, so that the pass-through (tracing off) costs a check by
 * position and two header copies. See docs/tracing.md for which carrier wins.
 */
export interface TraceHeaders {
  readonly traceparent: string;
  readonly tracestate?: string | undefined;
}

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

/**
 * version-traceid-parentid-flags, lower-case hex (§3.2.2): `vv-<32>-<16>-ff`, 55 characters. A
 * later version may append fields after a dash (§4.3: parse what is known and pass the rest on);
 * version ff is invalid, and so are an all-zero trace id or parent id. Checked by position in
 * one pass, with no regular expression: every event with a trace context pays for this check,
 * with tracing off as well, and a match array with its captured strings cost more than the rest.
 */
export function isTraceparent(value: string): boolean {
  const length = value.length;
  if (length < TRACEPARENT_LENGTH || length > TRACEPARENT_MAX_LENGTH) return false;
  if (value.charCodeAt(2) !== DASH || value.charCodeAt(35) !== DASH || value.charCodeAt(52) !== DASH) return false;
  if (length > TRACEPARENT_LENGTH && value.charCodeAt(TRACEPARENT_LENGTH) !== DASH) return false;
  if (hexRun(value, 0, 2) < 0 || hexRun(value, 53, 55) < 0) return false;
  // Version ff is invalid; version 00 has exactly four fields (§3.2.4).
  const v0 = value.charCodeAt(0);
  const v1 = value.charCodeAt(1);
  if ((v0 === LOWER_F && v1 === LOWER_F) || (v0 === ZERO && v1 === ZERO && length !== TRACEPARENT_LENGTH)) return false;
  // Lower-case hex, not all zeroes (§3.2.2.3, §3.2.2.4).
  return hexRun(value, 3, 35) > 0 && hexRun(value, 36, 52) > 0;
}

/** Whether value[from, to) is lower-case hex: -1 if not, else how many of its digits are not '0'. */
function hexRun(value: string, from: number, to: number): number {
  let nonZero = 0;
  for (let i = from; i < to; i++) {
    const c = value.charCodeAt(i);
    if (c === ZERO) continue;
    if (!((c > ZERO && c <= NINE) || (c >= LOWER_A && c <= LOWER_F))) return -1;
    nonZero++;
  }
  return nonZero;
}

const TRACEPARENT_LENGTH = 55;
const DASH = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_A = 0x61;
const LOWER_F = 0x66;
/** A header value this long is not a trace context but a way to grow every record. */
const TRACEPARENT_MAX_LENGTH = 256;
/** §3.3.1.5: vendors SHOULD propagate at least 512 characters; past that we drop tracestate whole. */
export const TRACESTATE_MAX_LENGTH = 512;

/**
 * A trace context from two raw values, or undefined when `traceparent` is missing or malformed
 * (§3.3: then `tracestate` is ignored too). An over-long or empty `tracestate` is dropped.
 */
export function traceHeaders(traceparent: unknown, tracestate: unknown): TraceHeaders | undefined {
  if (typeof traceparent !== 'string' || !isTraceparent(traceparent)) return undefined;
  if (typeof tracestate !== 'string' || tracestate.length === 0 || tracestate.length > TRACESTATE_MAX_LENGTH) return { traceparent };
  return { traceparent, tracestate };
}

/**
 * From HTTP request headers (lower-case names, as Node gives them). Two `traceparent` headers
 * are invalid (§3.2.1); several `tracestate` headers are one list (§3.3.1).
 */
export function traceHeadersOfHttp(headers: Readonly<Record<string, string | string[] | undefined>>): TraceHeaders | undefined {
  const traceparent = headers[TRACEPARENT];
  if (traceparent === undefined) return undefined;
  const tracestate = headers[TRACESTATE];
  return traceHeaders(traceparent, Array.isArray(tracestate) ? tracestate.join(',') : tracestate);
}

/** From a Kafka record's headers (the broker writes `traceparent` / `tracestate` there). */
export function traceHeadersOfRecord(headers: Readonly<Record<string, Buffer>>): TraceHeaders | undefined {
  const traceparent = headers[TRACEPARENT];
  if (traceparent === undefined) return undefined;
  return traceHeaders(traceparent.toString('latin1'), headers[TRACESTATE]?.toString('latin1'));
}

/** From the CloudEvents distributed-tracing extension: the producer's context, never rewritten. */
export function traceHeadersOfEvent(event: CloudEvent): TraceHeaders | undefined {
  const attributes = event.attributes;
  if (!Object.hasOwn(attributes, TRACEPARENT)) return undefined;
  return traceHeaders(attributes[TRACEPARENT], Object.hasOwn(attributes, TRACESTATE) ? attributes[TRACESTATE] : undefined);
}

/** Adds the context to outgoing HTTP headers (in place). */
export function setTraceHeaders(headers: Record<string, string>, context: TraceHeaders | undefined): void {
  if (context === undefined) return;
  headers[TRACEPARENT] = context.traceparent;
  if (context.tracestate !== undefined) headers[TRACESTATE] = context.tracestate;
}
