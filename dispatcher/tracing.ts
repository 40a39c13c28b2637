import { SpanKind, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import type { CloudEvent } from '../core/cloudevents/event.js';
import type { Egress, Resource } from '../core/contract/types.js';
import type { ConsumedRecord } from '../core/event-log/port.js';
import { traceHeadersOfEvent, traceHeadersOfRecord, type TraceHeaders } from '../core/trace-context.js';
import { ATTR, endSpan, FixedKeys, headersOf, remoteParent, startSpanFixed } from '../core/tracing.js';
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
  /** What every span of the record says (event id, source, type; the trigger or subscription): read once. */
  private eventId = '';
  private eventSource = '';
  private eventType = '';
  private egressRef = '';
  /** The fixed keys of this egress's kind (trigger or subscription). */
  private keys: SpanKeys = TRIGGER_KEYS;
  /** `context` taken apart, once for the filter span and every attempt (null: not yet). */
  private parentContext: SpanContext | undefined | null = null;

  private constructor(
    private readonly tracer: Tracer | undefined,
    /** The context this record continues. */
    readonly context: TraceHeaders | undefined,
    private readonly record: ConsumedRecord,
    private readonly resource: Resource,
    private readonly egress: Egress,
  ) {}

  static of(tracer: Tracer | undefined, record: ConsumedRecord, event: CloudEvent, resource: Resource, egress: Egress): RecordTrace {
    const trace = new RecordTrace(tracer, traceHeadersOfRecord(record.headers) ?? traceHeadersOfEvent(event), record, resource, egress);
    if (tracer !== undefined) {
      const a = event.attributes;
      trace.eventId = String(a['id']);
      trace.eventSource = String(a['source']);
      trace.eventType = String(a['type']);
      trace.egressRef = refOf(egress.reference);
      if (egress.reference.kind === 'Subscription') trace.keys = SUBSCRIPTION_KEYS;
    }
    return trace;
  }

  get on(): boolean {
    return this.tracer !== undefined;
  }

  /** Records the filter's verdict (a span of its own, with the time it took). */
  filtered(matched: boolean, startTime: number): void {
    if (this.tracer === undefined) return;
    const record = this.record;
    const span = startSpanFixed(this.tracer, 'filter', SpanKind.CONSUMER, this.parentOf(this.context), this.keys.filter, [
      this.eventId, this.eventSource, this.eventType, this.egressRef,
      'kafka', 'process', record.topic, String(record.partition), Number(record.offset), this.egress.consumerGroup,
      refOf(this.resource.reference), matched,
    ], startTime);
    endSpan(span);
  }

  /**
   * One HTTP attempt (`deliver`, `dead-letter`, or `reply` to a URL) continuing `parent`; undefined
   * when tracing is off.
   */
  attempt(name: 'deliver' | 'dead-letter' | 'reply', parent: TraceHeaders | undefined, url: string, attempt: number): AttemptSpan | undefined {
    if (this.tracer === undefined) return undefined;
    // The status code and error type are set as the attempt ends (AttemptSpan.end): their places
    // are there from the start, so that the array does not grow then.
    const values = [this.eventId, this.eventSource, this.eventType, this.egressRef, url, attempt > 1 ? attempt - 1 : undefined, undefined, undefined];
    return new AttemptSpan(startSpanFixed(this.tracer, name, SpanKind.CLIENT, this.parentOf(parent), this.keys.attempt, values));
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
    const span = startSpanFixed(this.tracer, 'reply', SpanKind.PRODUCER, this.parentOf(parent), this.keys.replyAppend, [
      this.eventId, this.eventSource, this.eventType, this.egressRef, topic, undefined,
    ]);
    return {
      headers: headersOf(span),
      end: (error) => endSpan(span, error === undefined ? undefined : { type: 'append', message: error instanceof Error ? error.message : String(error) }),
    };
  }
}

/**
 * The names of each span's attributes, in the order RecordTrace gives their values: first what
 * every span of the record says (the event and the trigger or subscription), then the span's own.
 * Where the record was (topic, partition, offset, group) is said once, by the filter span: each
 * attribute costs CPU per span.
 */
interface SpanKeys {
  readonly filter: FixedKeys;
  readonly attempt: FixedKeys;
  readonly replyAppend: FixedKeys;
}

function spanKeys(egressKey: string): SpanKeys {
  const common = [ATTR.eventId, ATTR.eventSource, ATTR.eventType, egressKey];
  return {
    filter: new FixedKeys([
      ...common, ATTR.messagingSystem, ATTR.messagingOperation, ATTR.destination, ATTR.partition, ATTR.offset, ATTR.consumerGroup, ATTR.broker, ATTR.filterMatched,
    ]),
    // The last three are set when they apply: a resend, and as the attempt ends.
    attempt: new FixedKeys([...common, ATTR.urlFull, ATTR.httpResendCount, ATTR.httpStatus, ATTR.errorType]),
    replyAppend: new FixedKeys([...common, ATTR.destination, ATTR.errorType]),
  };
}

/**
 * `<namespace>/<name>` of a contract reference, made once per reference object (a contract's
 * objects live until the next contract replaces them) rather than once per span.
 */
function refOf(reference: { readonly namespace: string; readonly name: string }): string {
  let ref = REFS.get(reference);
  if (ref === undefined) REFS.set(reference, ref = `${reference.namespace}/${reference.name}`);
  return ref;
}

const REFS = new WeakMap<object, string>();

const TRIGGER_KEYS = spanKeys(ATTR.trigger);
const SUBSCRIPTION_KEYS = spanKeys(ATTR.subscription);

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
