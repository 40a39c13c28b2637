import { SpanKind, type Link, type Span, type Tracer } from '@opentelemetry/api';
import type { CloudEvent } from '../core/cloudevents/event.js';
import type { BrokerError } from '../core/errors.js';
import { traceHeadersOfEvent, type TraceHeaders } from '../core/trace-context.js';
import { ATTR, endSpan, FixedKeys, type FixedValues, headersOf, linkTo, remoteParent, spanStartTime, startSpanFixed } from '../core/tracing.js';
import type { IngressEntry } from './ingress-table.js';

/**
 * The ingress's spans, only when tracing is on:
 *
 *   [producer's span] ─▶ receive (SERVER: decode, validate, TTL) ─▶ append (PRODUCER: durable write)
 *
 * `receive` continues the request's `traceparent` header, else (one event, no header) the event's
 * distributed-tracing extension; when both are there and differ, the extension becomes a link.
 * The records carry `append`'s context, which the dispatcher continues.
 */

export interface IngressSpans {
  /** The context written into the records' headers. */
  readonly recordContext: TraceHeaders | undefined;
  end(error?: BrokerError): void;
}

export function startIngressSpans(tracer: Tracer, hop: TraceHeaders | undefined, entry: IngressEntry, path: string, events: readonly CloudEvent[], startTime: number): IngressSpans {
  const single = events.length === 1 ? events[0]! : undefined;
  const extension = single === undefined ? undefined : traceHeadersOfEvent(single);
  let links: Link[] | undefined;
  if (hop !== undefined && extension !== undefined && hop.traceparent !== extension.traceparent) {
    const link = linkTo(extension);
    if (link !== undefined) links = [link];
  }
  // Few attributes: each costs CPU per span (test/bench/tracing.bench.ts). The status code and
  // error type are set as the request ends: their places are there from the start.
  const receive = single === undefined
    ? startSpanFixed(tracer, 'receive', SpanKind.SERVER, remoteParent(hop ?? extension), BATCH_KEYS, [path, events.length, undefined, undefined], startTime, links)
    : startSpanFixed(tracer, 'receive', SpanKind.SERVER, remoteParent(hop ?? extension), EVENT_KEYS, eventValues(single, path), startTime, links);
  // The receive span is ours (a valid context), or a no-op tracer's (invalid: then a root, as
  // the SDK makes of a child of an invalid parent).
  const append = startSpanFixed(tracer, 'append', SpanKind.PRODUCER, receive.spanContext(), APPEND_KEYS, [entry.topic, undefined]);
  return new ReceiveAndAppend(receive, append);
}

/** A class, not an object with a closure: one allocation fewer per request. */
class ReceiveAndAppend implements IngressSpans {
  readonly recordContext: TraceHeaders | undefined;

  constructor(private readonly receive: Span, private readonly append: Span) {
    this.recordContext = headersOf(append);
  }

  end(error?: BrokerError): void {
    // One clock reading for both: the append's end is the receive's (the answer follows at once).
    const now = spanStartTime();
    endSpan(this.append, error === undefined ? undefined : { type: error.code, message: error.message }, now);
    endReceive(this.receive, error, now);
  }
}

/** A request refused before any append (not a CloudEvent, invalid, TTL spent): one span. */
export function recordRefused(tracer: Tracer, hop: TraceHeaders | undefined, entry: IngressEntry, path: string, error: BrokerError, startTime: number): void {
  const broker = `${entry.reference.namespace}/${entry.reference.name}`;
  const receive = startSpanFixed(tracer, 'receive', SpanKind.SERVER, remoteParent(hop), REFUSED_KEYS, [path, broker, undefined, undefined], startTime);
  endReceive(receive, error);
}

function endReceive(span: Span, error: BrokerError | undefined, endTime?: number): void {
  span.setAttribute(ATTR.httpStatus, error?.status ?? 202);
  // A server span fails on 5xx only; a 4xx is the client's problem (HTTP semantic conventions).
  if (error === undefined) return endSpan(span, undefined, endTime);
  span.setAttribute(ATTR.errorType, error.code);
  return error.status >= 500 ? endSpan(span, { type: error.code, message: error.message }, endTime) : endSpan(span, undefined, endTime);
}

/** The request's path and the event's id, source and type, in the order of EVENT_KEYS. */
function eventValues(event: CloudEvent, path: string): FixedValues {
  const a = event.attributes;
  return [path, String(a['id']), String(a['source']), String(a['type']), undefined, undefined];
}

// The names of each span's attributes (core/tracing-wire.ts), in the order their values are given.
const EVENT_KEYS = new FixedKeys([ATTR.urlPath, ATTR.eventId, ATTR.eventSource, ATTR.eventType, ATTR.httpStatus, ATTR.errorType]);
const BATCH_KEYS = new FixedKeys([ATTR.urlPath, ATTR.batchCount, ATTR.httpStatus, ATTR.errorType]);
const REFUSED_KEYS = new FixedKeys([ATTR.urlPath, ATTR.broker, ATTR.httpStatus, ATTR.errorType]);
const APPEND_KEYS = new FixedKeys([ATTR.destination, ATTR.errorType]);
