import { randomBytes } from 'node:crypto';
import {
  INVALID_SPANID, INVALID_TRACEID, isSpanContextValid, ROOT_CONTEXT, SamplingDecision, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type AttributeValue, type Context, type Exception, type HrTime, type Link,
  type Span, type SpanContext, type SpanOptions, type SpanStatus, type TimeInput, type Tracer,
} from '@opentelemetry/api';
import { hrTimeDuration, isAttributeValue, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { IdGenerator, ReadableSpan, Sampler, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { attributesOf, epochNanos, epochSeconds, TIME_ORIGIN, type FixedKeys, type FixedValues, type WireAttributes, type WireTimes } from './tracing-wire.js';

/**
 * A lean tracer for the broker's own spans, used when the spans go to the OTLP export worker
 * (core/tracing.ts). It makes the same spans as the SDK's tracer (same sampler, id generator,
 * resource, scope; its spans are ReadableSpans handed to a SpanProcessor on end) with a fraction
 * of the work per span, which at 100 % sampling is most of tracing's cost on the event loop
 * (docs/tracing.md, Cost). What it leaves out, the broker does not use: span limits beyond
 * ATTRIBUTE_COUNT_LIMIT (its spans carry a dozen attributes at most), the SDK's own metrics, the
 * onStart hook's parent context (the processors here ignore it), and an active context
 * (startActiveSpan runs `fn` with the span; the broker passes parents explicitly).
 * test/unit/core/tracing-tracer.test.ts checks it against the SDK's tracer.
 */
export class LeanTracer implements Tracer {
  /**
   * The decision of the two samplers the broker is usually run with (always_on, and the default
   * parentbased_always_on), made without a Context: 'on' samples every span, 'parent' samples a
   * span with a parent when the parent is sampled, and a root span always. Undefined: ask the sampler.
   */
  private readonly knownSampler: 'on' | 'parent' | undefined;

  constructor(
    private readonly sampler: Sampler,
    private readonly ids: IdGenerator,
    readonly resource: Resource,
    readonly scope: InstrumentationScope,
    readonly processor: SpanProcessor,
  ) {
    const name = sampler.toString();
    this.knownSampler = name === 'AlwaysOnSampler' ? 'on' : name === PARENT_BASED_ALWAYS_ON ? 'parent' : undefined;
  }

  /**
   * startSpan for the broker's call sites (core/tracing.ts): the parent comes as a span context
   * already checked (a validated traceparent, or a span of ours), so no Context is built to carry
   * it and its ids are not checked again, unless the sampler needs the Context. The span keeps
   * `attributes` as its own when it can (no copy: one object fewer per span); the call sites
   * build one per span and do not touch it after. `fixedKeys` with `fixedValues` (one array per
   * span, kept as the span's own likewise): attributes of fixed names, which the export worker's
   * packer writes without an attribute object (core/tracing-wire.ts); `attributes` adds to them.
   */
  startSpanFrom(
    name: string, kind: SpanKind, parent: SpanContext | undefined, attributes: Attributes | undefined, links: Link[] | undefined, startTime: TimeInput | undefined,
    fixedKeys?: FixedKeys, fixedValues?: FixedValues,
  ): Span {
    const spanId = this.ids.generateSpanId();
    const traceId = parent?.traceId ?? this.ids.generateTraceId();
    let sampled: boolean;
    let traceState = parent?.traceState;
    let sampledAttributes: Attributes | undefined;
    if (this.knownSampler === 'on' || (this.knownSampler === 'parent' && (parent === undefined || (parent.traceFlags & TraceFlags.SAMPLED) !== 0))) sampled = true;
    else if (this.knownSampler === 'parent') sampled = false;
    else {
      const context = parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent);
      const all = fixedKeys === undefined ? attributes ?? {} : attributesOf(fixedKeys, fixedValues ?? [], attributes ?? NO_ATTRIBUTES);
      const result = this.sampler.shouldSample(context, traceId, name, kind, all, links ?? []);
      if (result.decision === SamplingDecision.NOT_RECORD) {
        const unsampled: SpanContext = { traceId, spanId, traceFlags: TraceFlags.NONE };
        const state = result.traceState ?? traceState;
        if (state !== undefined) unsampled.traceState = state;
        return trace.wrapSpanContext(unsampled);
      }
      sampled = result.decision === SamplingDecision.RECORD_AND_SAMPLED;
      traceState = result.traceState ?? traceState;
      sampledAttributes = result.attributes;
    }
    const spanContext: SpanContext = { traceId, spanId, traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE };
    if (traceState !== undefined) spanContext.traceState = traceState;
    if (!sampled && this.knownSampler !== undefined) return trace.wrapSpanContext(spanContext);
    const span = new LeanSpan(this, spanContext, parent, name, kind, startTime, attributes ?? NO_ATTRIBUTES, attributes !== undefined, fixedKeys, fixedValues);
    if (sampledAttributes !== undefined) span.setAttributes(sampledAttributes);
    if (links !== undefined) for (const link of links) span.addLink(link);
    return span;
  }

  startSpan(name: string, options: SpanOptions = {}, context: Context = ROOT_CONTEXT): Span {
    const parent = options.root === true ? undefined : trace.getSpanContext(context);
    const validParent = parent !== undefined && isSpanContextValid(parent) ? parent : undefined;
    const spanId = this.ids.generateSpanId();
    const traceId = validParent?.traceId ?? this.ids.generateTraceId();
    const kind = options.kind ?? SpanKind.INTERNAL;
    const links = options.links ?? [];
    const attributes = options.attributes ?? {};
    const sampled = this.sampler.shouldSample(context, traceId, name, kind, attributes, links);
    const spanContext: SpanContext = {
      traceId,
      spanId,
      traceFlags: sampled.decision === SamplingDecision.RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE,
    };
    const traceState = sampled.traceState ?? validParent?.traceState;
    if (traceState !== undefined) spanContext.traceState = traceState;
    if (sampled.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(spanContext);
    const span = new LeanSpan(this, spanContext, validParent, name, kind, options.startTime, attributes);
    if (sampled.attributes !== undefined) span.setAttributes(sampled.attributes);
    for (const link of links) span.addLink(link);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: [F] | [SpanOptions, F] | [SpanOptions, Context, F]): ReturnType<F> {
    const fn = args[args.length - 1] as F;
    const options = args.length >= 2 ? args[0] as SpanOptions : undefined;
    const context = args.length === 3 ? args[1] : undefined;
    return fn(this.startSpan(name, options, context)) as ReturnType<F>;
  }
}

const PARENT_BASED_ALWAYS_ON = 'ParentBased{root=AlwaysOnSampler, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}';

/** Shared by the spans with no attributes of their own, until one is set (setAttribute replaces it). */
const NO_ATTRIBUTES: Attributes = Object.freeze({});

/** Shared until a status is set (setStatus replaces it): one object fewer per span. */
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

/**
 * Span and trace ids from a pool of random bytes (node:crypto, refilled every 512 span ids), cut
 * out of one hex string per refill: per id a slice of a string rather than the SDK generator's
 * four Math.random calls and a hex conversion.
 */
export class PooledIdGenerator implements IdGenerator {
  private hex = '';
  private at = 0;

  generateTraceId(): string {
    return this.next(32, INVALID_TRACEID);
  }

  generateSpanId(): string {
    return this.next(16, INVALID_SPANID);
  }

  private next(length: number, invalid: string): string {
    for (;;) {
      if (this.at + length > this.hex.length) {
        this.hex = randomBytes(POOL_BYTES).toString('hex');
        this.at = 0;
      }
      const id = this.hex.slice(this.at, this.at + length);
      this.at += length;
      // All zeroes is the invalid id (one chance in 2^64 or 2^128): take the next.
      if (id !== invalid) return id;
    }
  }
}

const POOL_BYTES = 4096;

/** The SDK's default (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT). */
const ATTRIBUTE_COUNT_LIMIT = 128;

/** Shared by the spans without links or events (most of them): one array fewer to allocate each. */
const NONE: never[] = Object.freeze([]) as unknown as never[];

/**
 * Whether a span may keep the caller's attributes object as its own rather than copy it: a plain,
 * extensible object whose every key and value the copy would keep as they are. Its number of
 * attributes if so (no Object.keys array to count them), else -1.
 */
function adoptable(attributes: Attributes): number {
  if (Object.getPrototypeOf(attributes) !== Object.prototype || !Object.isExtensible(attributes)) return -1;
  let count = 0;
  for (const key in attributes) {
    const type = typeof attributes[key];
    if ((type !== 'string' && type !== 'number' && type !== 'boolean') || key.length === 0 || key === '__proto__' || !Object.hasOwn(attributes, key)) return -1;
    count++;
  }
  return count <= ATTRIBUTE_COUNT_LIMIT ? count : -1;
}

class LeanSpan implements Span, ReadableSpan, WireTimes, WireAttributes {
  /** Attributes of fixed names (core/tracing-wire.ts), or undefined: all are in moreAttributes. */
  readonly fixedKeys: FixedKeys | undefined;
  readonly fixedValues: FixedValues = NONE;
  /** The attributes not among fixedKeys. */
  moreAttributes: Attributes;
  links: Link[] = NONE;
  events: TimedEvent[] = NONE;
  /**
   * Start and end as milliseconds since the epoch (an HrTime only when one was given): the
   * [seconds, nanoseconds] arrays of ReadableSpan are made when asked for, which the export
   * worker's packer never does (four arrays fewer per span).
   */
  readonly startAt: number | HrTime;
  endAt: number | HrTime = 0;
  status: SpanStatus = UNSET;
  droppedAttributesCount = 0;
  ended = false;
  private attributeCount = 0;

  constructor(
    /** Where the resource, scope and processor are: one field for the three, which every span shares. */
    private readonly tracer: LeanTracer,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    public name: string,
    readonly kind: SpanKind,
    startTime: TimeInput | undefined,
    attributes: Attributes,
    adopt = false,
    fixedKeys?: FixedKeys,
    fixedValues?: FixedValues,
  ) {
    this.startAt = timeOf(startTime);
    this.fixedKeys = fixedKeys !== undefined && fixedKeys.names.length <= ATTRIBUTE_COUNT_LIMIT ? fixedKeys : undefined;
    if (this.fixedKeys !== undefined) {
      const values = fixedValues ?? [];
      let count = 0;
      for (let i = 0; i < values.length; i++) {
        const value = values[i];
        if (value === undefined || value === null) continue;
        if (typeof value === 'object' && !isAttributeValue(value)) values[i] = undefined;
        else count++;
      }
      this.fixedValues = values;
      this.attributeCount = count;
      if (attributes === NO_ATTRIBUTES) {
        this.moreAttributes = NO_ATTRIBUTES;
        return;
      }
    } else if (fixedKeys !== undefined) {
      // More fixed keys than a span may have (never, for the broker's spans): as an object.
      attributes = attributesOf(fixedKeys, fixedValues ?? [], attributes);
      adopt = false;
    }
    const adopted = adopt && this.attributeCount === 0 ? adoptable(attributes) : -1;
    if (adopted >= 0) {
      this.moreAttributes = attributes;
      this.attributeCount = adopted;
      return;
    }
    this.moreAttributes = {};
    if (this.fixedKeys !== undefined) {
      for (const key in attributes) if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key]);
      return;
    }
    // The first attributes need no check for keys already set.
    const own = this.moreAttributes;
    for (const key in attributes) {
      const value = attributes[key];
      if (value === undefined || value === null || key.length === 0 || !Object.hasOwn(attributes, key)) continue;
      if (typeof value === 'object' && !isAttributeValue(value)) continue;
      if (this.attributeCount >= ATTRIBUTE_COUNT_LIMIT) this.droppedAttributesCount++;
      else if (key === '__proto__') this.setAttribute(key, value);
      else {
        own[key] = value;
        this.attributeCount++;
      }
    }
  }

  spanContext(): SpanContext {
    return this.context;
  }

  /** All attributes as one object: made when asked for, which the export worker's packer never does. */
  get attributes(): Attributes {
    return this.fixedKeys === undefined ? this.moreAttributes : attributesOf(this.fixedKeys, this.fixedValues, this.moreAttributes);
  }

  // What every span of a tracer shares, and what no span of ours has, as getters: fewer fields
  // to allocate per span.
  get resource(): Resource {
    return this.tracer.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.tracer.scope;
  }

  get droppedEventsCount(): number {
    return 0;
  }

  get droppedLinksCount(): number {
    return 0;
  }

  get startTime(): HrTime {
    return hrOf(this.startAt);
  }

  /** [0, 0] until the span ends, as in the SDK. */
  get endTime(): HrTime {
    return this.ended ? hrOf(this.endAt) : [0, 0];
  }

  get duration(): HrTime {
    return hrTimeDuration(this.startTime, this.endTime);
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (value === undefined || value === null || this.ended || key.length === 0) return this;
    if (typeof value === 'object' && !isAttributeValue(value)) return this;
    const fixed = this.fixedKeys;
    if (fixed !== undefined) {
      const i = fixed.names.indexOf(key);
      if (i >= 0) {
        const values = this.fixedValues;
        if (values[i] === undefined || values[i] === null) {
          if (this.attributeCount >= ATTRIBUTE_COUNT_LIMIT) {
            this.droppedAttributesCount++;
            return this;
          }
          this.attributeCount++;
        }
        values[i] = value;
        return this;
      }
    }
    if (this.moreAttributes === NO_ATTRIBUTES) this.moreAttributes = {};
    const own = this.moreAttributes;
    if (!Object.hasOwn(own, key)) {
      if (this.attributeCount >= ATTRIBUTE_COUNT_LIMIT) {
        this.droppedAttributesCount++;
        return this;
      }
      this.attributeCount++;
      // A key such as __proto__ is an attribute like any other, not the object's prototype.
      if (key === '__proto__') {
        Object.defineProperty(own, key, { value, enumerable: true, writable: true, configurable: true });
        return this;
      }
    }
    own[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key of Object.keys(attributes)) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const isTime = attributesOrTime instanceof Date || typeof attributesOrTime === 'number' || Array.isArray(attributesOrTime);
    const attributes: Attributes = {};
    if (!isTime && attributesOrTime !== undefined) {
      for (const key of Object.keys(attributesOrTime)) {
        const value = attributesOrTime[key];
        if (value !== undefined && value !== null && isAttributeValue(value)) Object.defineProperty(attributes, key, { value, enumerable: true, writable: true, configurable: true });
      }
    }
    if (this.events === NONE) this.events = [];
    this.events.push({ name, attributes, time: hrTimeOf(isTime ? attributesOrTime : time), droppedAttributesCount: 0 });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    const attributes = link.attributes === undefined || Object.keys(link.attributes).length === 0 ? undefined : { ...link.attributes };
    if (this.links === NONE) this.links = [];
    this.links.push(attributes === undefined ? { context: link.context } : { context: link.context, attributes });
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    this.status = status.code === SpanStatusCode.ERROR && typeof status.message === 'string' ? { code: status.code, message: status.message } : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    const end = timeOf(endTime);
    const start = this.startAt;
    // An end before the start (a clock step, a bad argument) is a span of no length, as in the SDK.
    if (typeof end === 'number' && typeof start === 'number') this.endAt = end < start ? start : end;
    else {
      const [e, s] = [hrOf(end), hrOf(start)];
      this.endAt = e[0] < s[0] || (e[0] === s[0] && e[1] < s[1]) ? [s[0], s[1]] : e;
    }
    this.ended = true;
    this.tracer.processor.onEnd(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else {
      const type = exception.code !== undefined ? String(exception.code) : exception.name;
      if (type !== undefined && type !== '') attributes['exception.type'] = type;
      if (exception.message !== undefined && exception.message !== '') attributes['exception.message'] = exception.message;
      if (exception.stack !== undefined && exception.stack !== '') attributes['exception.stacktrace'] = exception.stack;
    }
    if (attributes['exception.type'] !== undefined || attributes['exception.message'] !== undefined) this.addEvent('exception', attributes, time);
  }
}

/**
 * A time as milliseconds since the epoch, as the SDK reads one (core's timeInputToHrTime): a
 * number below half the time origin is a performance timestamp (no process runs that long), any
 * other milliseconds since the epoch; an HrTime stays as given. No clock reading to classify it.
 */
function timeOf(time: TimeInput | undefined): number | HrTime {
  if (time === undefined) return TIME_ORIGIN + performance.now();
  if (typeof time === 'number') return time < HALF_ORIGIN ? TIME_ORIGIN + time : time;
  if (Array.isArray(time)) return time;
  return time.getTime();
}

const HALF_ORIGIN = TIME_ORIGIN / 2;

/** A time from timeOf as [seconds, nanoseconds] since the epoch. */
function hrOf(at: number | HrTime): HrTime {
  return typeof at === 'number' ? [epochSeconds(at), epochNanos(at)] : at;
}

function hrTimeOf(time: TimeInput | undefined): HrTime {
  return hrOf(timeOf(time));
}
