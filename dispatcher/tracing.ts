import { SpanKind, type Attributes, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import type { CloudEvent } from '../core/cloudevents/event.js';
import type { Egress, Resource } from '../core/contract/types.js';
import type { ConsumedRecord } from '../core/event-log/port.js';
import { traceHeadersOfEvent, traceHeadersOfRecord, type TraceHeaders } from '../core/trace-context.js';
import { ATTR, endSpan, headersOf, remoteParent, startSpan, startSpanUnder } from '../core/tracing.js';
import type { AttemptResult } from './delivery.js';

/**
 * The trace of one record at one egress. The record continues the context in its
 * `traceparent` header (the ingress's append span, or a reply span), else its event's
 * distributed-tracing extension. With tracing on, the spans are:
 *
 *   [append or reply] ─┬─▶ filter       (CONSUMER, matched or not)
 *                      ├─▶ deliver      (CLIENT, one per attempt) ─▶ [subscriber] ; reply (PRODUCER or CLIENT)
 *                      └─▶ dead-letter  (CLIENT, one per attempt)
 *
 * A reply continues the delivery attempt that returned it, so the triggers that take the reply
 * hang below it in the same trace. With tracing off there are no spans: every request and the
 * reply's record carry the record's own context (a pass-through).
 */
export class RecordTrace {
  private eventId: string | undefined;
  private egressRef: string | undefined;
  /** `context` taken apart, once for the filter span and every attempt (null: not yet). */
  private parentContext: SpanContext | undefined | null = null;

  private constructor(
    private readonly tracer: Tracer | undefined,
    /** The context this record continues. */
    readonly context: TraceHeaders | undefined,
    private readonly record: ConsumedRecord,
    private readonly event: CloudEvent,
    private readonly resource: Resource,
    private readonly egress: Egress,
  ) {}

  static of(tracer: Tracer | undefined, record: ConsumedRecord, event: CloudEvent, resource: Resource, egress: Egress): RecordTrace {
    return new RecordTrace(tracer, traceHeadersOfRecord(record.headers) ?? traceHeadersOfEvent(event), record, event, resource, egress);
  }

  get on(): boolean {
    return this.tracer !== undefined;
  }

  /** Records the filter's verdict (a span of its own, with the time it took). */
  filtered(matched: boolean, startTime: number): void {
    if (this.tracer === undefined) return;
    const span = startSpanUnder(this.tracer, 'filter', SpanKind.CONSUMER, this.parentOf(this.context), {
      attributes: this.base({
        [ATTR.messagingSystem]: 'kafka',
        [ATTR.messagingOperation]: 'process',
        [ATTR.destination]: this.record.topic,
        [ATTR.partition]: String(this.record.partition),
        [ATTR.offset]: Number(this.record.offset),
        [ATTR.consumerGroup]: this.egress.consumerGroup,
        [ATTR.broker]: `${this.resource.reference.namespace}/${this.resource.reference.name}`,
        [ATTR.filterMatched]: matched,
      }),
      startTime,
    });
    endSpan(span);
  }

  /**
   * One HTTP attempt (`deliver`, `dead-letter`, or `reply` to a URL) continuing `parent`; undefined
   * when tracing is off.
   */
  attempt(name: 'deliver' | 'dead-letter' | 'reply', parent: TraceHeaders | undefined, url: string, attempt: number): AttemptSpan | undefined {
    if (this.tracer === undefined) return undefined;
    const attributes = this.base({ [ATTR.urlFull]: url });
    if (attempt > 1) attributes[ATTR.httpResendCount] = attempt - 1;
    return new AttemptSpan(startSpanUnder(this.tracer, name, SpanKind.CLIENT, this.parentOf(parent), { attributes }));
  }

  /** `parent` as a span context: the record's own is taken apart once. */
  private parentOf(parent: TraceHeaders | undefined): SpanContext | undefined {
    if (parent !== this.context) return remoteParent(parent);
    if (this.parentContext === null) this.parentContext = remoteParent(parent);
    return this.parentContext;
  }

  /** The append of a reply to the broker's topic, continuing the delivery that returned it. */
  replyAppend(parent: TraceHeaders | undefined, topic: string): { readonly headers: TraceHeaders | undefined; end(error?: unknown): void } | undefined {
    if (this.tracer === undefined) return undefined;
    const span = startSpan(this.tracer, 'reply', SpanKind.PRODUCER, parent, {
      attributes: this.base({ [ATTR.destination]: topic }),
    });
    return {
      headers: headersOf(span),
      end: (error) => endSpan(span, error === undefined ? undefined : { type: 'append', message: error instanceof Error ? error.message : String(error) }),
    };
  }

  /**
   * What every span of the record says, the event and the trigger, added to a span's own
   * `attributes` (assigned one by one: spreading a cached object cost more than the span's other
   * work here). Where the record was (topic, partition, offset, group) is said once, by the filter
   * span: each attribute costs CPU per span.
   */
  private base(attributes: Attributes): Attributes {
    const a = this.event.attributes;
    this.eventId ??= String(a['id']);
    this.egressRef ??= `${this.egress.reference.namespace}/${this.egress.reference.name}`;
    attributes[ATTR.eventId] = this.eventId;
    attributes[ATTR.eventSource] = String(a['source']);
    attributes[ATTR.eventType] = String(a['type']);
    attributes[this.egress.reference.kind === 'Subscription' ? ATTR.subscription : ATTR.trigger] = this.egressRef;
    return attributes;
  }
}

export class AttemptSpan {
  /** The context the request carries (the subscriber continues it). */
  readonly headers: TraceHeaders | undefined;

  constructor(private readonly span: Span) {
    this.headers = headersOf(span);
  }

  end(result: AttemptResult): void {
    switch (result.kind) {
      case 'response': {
        this.span.setAttribute(ATTR.httpStatus, result.status);
        const failed = result.status < 200 || result.status >= 300;
        return endSpan(this.span, failed ? { type: String(result.status), message: `HTTP ${result.status}` } : undefined);
      }
      case 'timeout':
        return endSpan(this.span, { type: 'timeout', message: 'the attempt timed out' });
      case 'network':
        return endSpan(this.span, { type: 'network', message: result.message });
      case 'aborted':
        return endSpan(this.span, { type: 'aborted', message: 'given up: the dispatcher is stopping or lost the partition' });
      default: {
        const never: never = result;
        return never;
      }
    }
  }
}
