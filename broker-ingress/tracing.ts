import { SpanKind, type Attributes, type Link, type Span, type Tracer } from '@opentelemetry/api';
import type { CloudEvent } from '../core/cloudevents/event.js';
import type { BrokerError } from '../core/errors.js';
import { traceHeadersOfEvent, type TraceHeaders } from '../core/trace-context.js';
import { ATTR, endSpan, headersOf, linkTo, spanStartTime, startChildSpan, startSpan } from '../core/tracing.js';
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
  // Few attributes: each costs CPU per span (test/bench/tracing.bench.ts).
  const attributes = single === undefined ? { [ATTR.urlPath]: path, [ATTR.batchCount]: events.length } : eventAttributes(single, path);
  const receive = startSpan(tracer, 'receive', SpanKind.SERVER, hop ?? extension, { attributes, links, startTime });
  const append = startChildSpan(tracer, 'append', SpanKind.PRODUCER, receive, {
    attributes: { [ATTR.destination]: entry.topic },
  });
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
  const receive = startSpan(tracer, 'receive', SpanKind.SERVER, hop, {
    attributes: { [ATTR.urlPath]: path, [ATTR.broker]: `${entry.reference.namespace}/${entry.reference.name}` },
    startTime,
  });
  endReceive(receive, error);
}

function endReceive(span: Span, error: BrokerError | undefined, endTime?: number): void {
  span.setAttribute(ATTR.httpStatus, error?.status ?? 202);
  // A server span fails on 5xx only; a 4xx is the client's problem (HTTP semantic conventions).
  if (error === undefined) return endSpan(span, undefined, endTime);
  span.setAttribute(ATTR.errorType, error.code);
  return error.status >= 500 ? endSpan(span, { type: error.code, message: error.message }, endTime) : endSpan(span, undefined, endTime);
}

/** The event's id, source and type (and the request's path), in one object: no copies per span. */
export function eventAttributes(event: CloudEvent, path: string): Attributes {
  const a = event.attributes;
  return {
    [ATTR.urlPath]: path,
    [ATTR.eventId]: String(a['id']),
    [ATTR.eventSource]: String(a['source']),
    [ATTR.eventType]: String(a['type']),
  };
}
