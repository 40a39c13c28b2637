import type { CloudEvent } from './cloudevents/event.js';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as the broker passes it along, with or
 * without OpenTelemetry: a `traceparent` and an optional `tracestate`, read from HTTP headers,
 * Kafka record headers or the CloudEvents distributed-tracing extension, and written to the next
 * hop. Pure and free of OpenTelemetry, so that the pass-through (tracing off) costs a regex test
 * and two header copies. See docs/tracing.md for which carrier wins.
 */
export interface TraceHeaders {
  readonly traceparent: string;
  readonly tracestate?: string | undefined;
}

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

/**
 * version-traceid-parentid-flags, lower-case hex (§3.2.2). A later version may append fields
 * after a dash (§4.3: parse what is known and pass the rest on); version ff is invalid.
 */
const TRACEPARENT_FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-[^]*)?$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_PARENT_ID = '0'.repeat(16);
/** A header value this long is not a trace context but a way to grow every record. */
const TRACEPARENT_MAX_LENGTH = 256;
/** §3.3.1.5: vendors SHOULD propagate at least 512 characters; past that we drop tracestate whole. */
export const TRACESTATE_MAX_LENGTH = 512;

export function isTraceparent(value: string): boolean {
  if (value.length > TRACEPARENT_MAX_LENGTH) return false;
  const match = TRACEPARENT_FORMAT.exec(value);
  if (match === null) return false;
  const version = match[1]!;
  if (version === 'ff') return false;
  // Version 00 has exactly four fields (§3.2.4).
  if (version === '00' && match[4] !== undefined) return false;
  return match[2] !== ZERO_TRACE_ID && match[3] !== ZERO_PARENT_ID;
}

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
