import type { AttributeValue, Attributes, HrTime, Link, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import { hrTimeDuration, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

/**
 * Ended spans as bytes, for the hop from the main thread to the export worker
 * (core/tracing-export.ts). Each span is written into a buffer as it ends, so the main thread
 * keeps no span object alive (they die young, cheap for the GC), and a batch crosses to the
 * worker as a transferred ArrayBuffer (no structured clone). Span names and attribute
 * keys, which repeat, are written as indexes into a string table that grows as new ones come;
 * a resource or instrumentation scope is sent once, by value, and referred to by index after.
 *
 * One span (integers little-endian; str = u32 byte length + UTF-8; ref = u32 string-table index):
 *
 *   ref name, u8 kind, 32 hex trace id, 16 hex span id, u8 trace flags, u8 has (HAS_* bits),
 *   [16 hex parent span id], [str trace state], u32 start s, u32 start ns, u32 end s, u32 end ns,
 *   u8 status code, [str status message], u32 dropped attributes, links, events, dropped links,
 *   dropped events (u32 each), u16 resource, u16 scope, attributes, [links], [events]
 *
 *   attributes = u16 count, then per attribute: ref key, u8 type (T_*), value
 *   links      = u16 count, then per link: 32 hex trace id, 16 hex span id, u8 flags, u8 remote,
 *                str trace state ('' = none), attributes, u32 dropped attributes
 *   events     = u16 count, then per event: str name, u32 s, u32 ns, attributes, u32 dropped attributes
 */
export interface WireBatch {
  readonly bytes: ArrayBuffer;
  readonly length: number;
  readonly count: number;
  /** Entries added to the string table since the previous batch, in index order. */
  readonly strings: string[];
  /** Resources first seen in this batch, in index order: their attributes. */
  readonly resources: Attributes[];
  /** Scopes first seen in this batch, in index order: name, version, schema URL. */
  readonly scopes: [string, string | undefined, string | undefined][];
}

const HAS_PARENT = 1;
const HAS_REMOTE_PARENT = 2;
const HAS_TRACE_STATE = 4;
const HAS_STATUS_MESSAGE = 8;
const HAS_LINKS = 16;
const HAS_EVENTS = 32;

const T_STRING = 0;
const T_NUMBER = 1;
const T_TRUE = 2;
const T_FALSE = 3;
/** Arrays: as JSON (rare in our spans; a homogeneous array of primitives round-trips). */
const T_JSON = 4;

const INITIAL_BYTES = 128 * 1024;

/** Writes spans; keeps the string, resource and scope tables of one worker (one packer per worker). */
export class WirePacker {
  private readonly strings = new Map<string, number>();
  private readonly resources = new Map<Resource, number>();
  private readonly scopes = new Map<InstrumentationScope, number>();
  private buf = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private pos = 0;
  private spans = 0;
  private newStrings: string[] = [];
  private newResources: Attributes[] = [];
  private newScopes: [string, string | undefined, string | undefined][] = [];

  get count(): number {
    return this.spans;
  }

  get bytes(): number {
    return this.pos;
  }

  add(span: ReadableSpan): void {
    const context = span.spanContext();
    const parent = span.parentSpanContext;
    const traceState = context.traceState?.serialize();
    const message = span.status.message;
    const links = span.links;
    const events = span.events;
    let has = 0;
    if (parent !== undefined) has |= parent.isRemote === true ? HAS_PARENT | HAS_REMOTE_PARENT : HAS_PARENT;
    if (traceState !== undefined && traceState !== '') has |= HAS_TRACE_STATE;
    if (message !== undefined && message !== '') has |= HAS_STATUS_MESSAGE;
    if (links.length > 0) has |= HAS_LINKS;
    if (events.length > 0) has |= HAS_EVENTS;
    this.ensure(128);
    this.ref(span.name);
    this.u8(span.kind);
    this.ascii(context.traceId, 32);
    this.ascii(context.spanId, 16);
    this.u8(context.traceFlags);
    this.u8(has);
    if (parent !== undefined) this.ascii(parent.spanId, 16);
    if ((has & HAS_TRACE_STATE) !== 0) this.str(traceState!);
    this.ensure(64);
    this.u32(span.startTime[0]);
    this.u32(span.startTime[1]);
    this.u32(span.endTime[0]);
    this.u32(span.endTime[1]);
    this.u8(span.status.code);
    if ((has & HAS_STATUS_MESSAGE) !== 0) this.str(message!);
    this.ensure(32);
    this.u32(span.droppedAttributesCount);
    this.u32(span.droppedLinksCount);
    this.u32(span.droppedEventsCount);
    this.u16(this.resourceIndex(span.resource));
    this.u16(this.scopeIndex(span.instrumentationScope));
    this.attributes(span.attributes);
    if ((has & HAS_LINKS) !== 0) {
      this.ensure(2);
      this.u16(links.length);
      for (const link of links) {
        const c = link.context;
        this.ensure(64);
        this.ascii(c.traceId, 32);
        this.ascii(c.spanId, 16);
        this.u8(c.traceFlags);
        this.u8(c.isRemote === true ? 1 : 0);
        this.str(c.traceState?.serialize() ?? '');
        this.attributes(link.attributes ?? {});
        this.ensure(4);
        this.u32(link.droppedAttributesCount ?? 0);
      }
    }
    if ((has & HAS_EVENTS) !== 0) {
      this.ensure(2);
      this.u16(events.length);
      for (const event of events) {
        this.str(event.name);
        this.ensure(8);
        this.u32(event.time[0]);
        this.u32(event.time[1]);
        this.attributes(event.attributes ?? {});
        this.ensure(4);
        this.u32(event.droppedAttributesCount ?? 0);
      }
    }
    this.spans++;
  }

  /**
   * The spans written since the last take (their bytes copied out, to be transferred), and the
   * tables' new entries. The working buffer stays: a fresh large one per batch cost more, in page
   * faults, than the copy of a batch kept under ~100 KiB (core/tracing-export.ts).
   */
  take(): WireBatch {
    const batch: WireBatch = {
      bytes: (this.buf.buffer as ArrayBuffer).slice(this.buf.byteOffset, this.buf.byteOffset + this.pos), length: this.pos, count: this.spans,
      strings: this.newStrings, resources: this.newResources, scopes: this.newScopes,
    };
    this.pos = 0;
    this.spans = 0;
    this.newStrings = [];
    this.newResources = [];
    this.newScopes = [];
    return batch;
  }

  private attributes(attributes: Attributes): void {
    this.ensure(2);
    const countAt = this.pos;
    this.pos += 2;
    let count = 0;
    for (const key in attributes) {
      const value = attributes[key];
      if (value === undefined || value === null) continue;
      this.ensure(16);
      this.ref(key);
      switch (typeof value) {
        case 'string':
          this.u8(T_STRING);
          this.str(value);
          break;
        case 'number':
          this.u8(T_NUMBER);
          this.view.setFloat64(this.pos, value, true);
          this.pos += 8;
          break;
        case 'boolean':
          this.u8(value ? T_TRUE : T_FALSE);
          break;
        default:
          this.u8(T_JSON);
          this.str(JSON.stringify(value));
      }
      count++;
    }
    this.view.setUint16(countAt, count, true);
  }

  /** Room for `n` more bytes (a string checks its own). */
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  private u8(n: number): void {
    this.buf[this.pos++] = n;
  }

  private u16(n: number): void {
    this.view.setUint16(this.pos, n, true);
    this.pos += 2;
  }

  private u32(n: number): void {
    this.view.setUint32(this.pos, n, true);
    this.pos += 4;
  }

  private ascii(text: string, length: number): void {
    this.buf.write(text, this.pos, length, 'latin1');
    this.pos += length;
  }

  private str(text: string): void {
    this.ensure(4 + text.length * 3);
    const written = this.buf.write(text, this.pos + 4, 'utf8');
    this.view.setUint32(this.pos, written, true);
    this.pos += 4 + written;
  }

  private ref(text: string): void {
    let index = this.strings.get(text);
    if (index === undefined) {
      index = this.strings.size;
      this.strings.set(text, index);
      this.newStrings.push(text);
    }
    this.u32(index);
  }

  private resourceIndex(resource: Resource): number {
    let index = this.resources.get(resource);
    if (index === undefined) {
      index = this.resources.size;
      this.resources.set(resource, index);
      this.newResources.push({ ...resource.attributes });
    }
    return index;
  }

  private scopeIndex(scope: InstrumentationScope): number {
    let index = this.scopes.get(scope);
    if (index === undefined) {
      index = this.scopes.size;
      this.scopes.set(scope, index);
      this.newScopes.push([scope.name, scope.version, scope.schemaUrl]);
    }
    return index;
  }
}

/** What the exporter needs of a trace state: its serialised form. */
function traceStateOf(text: string): NonNullable<SpanContext['traceState']> {
  return { serialize: () => text, get: () => undefined, set() { return this; }, unset() { return this; } };
}

/**
 * The worker's side: reads spans back as ReadableSpans, sharing one object per resource and
 * scope (the OTLP serialiser groups spans by their identity). `makeResource` builds a resource
 * from its attributes (injected: the worker loads @opentelemetry/resources, this module does not).
 */
export class WireUnpacker {
  private readonly strings: string[] = [];
  private readonly resources: Resource[] = [];
  private readonly scopes: InstrumentationScope[] = [];
  private buf = Buffer.alloc(0);
  private view = new DataView(new ArrayBuffer(0));
  private pos = 0;

  constructor(private readonly makeResource: (attributes: Attributes) => Resource) {}

  unpack(batch: WireBatch): ReadableSpan[] {
    for (const text of batch.strings) this.strings.push(text);
    for (const attributes of batch.resources) this.resources.push(this.makeResource(attributes));
    for (const [name, version, schemaUrl] of batch.scopes) {
      const scope: { name: string; version?: string; schemaUrl?: string } = { name };
      if (version !== undefined) scope.version = version;
      if (schemaUrl !== undefined) scope.schemaUrl = schemaUrl;
      this.scopes.push(scope);
    }
    this.buf = Buffer.from(batch.bytes, 0, batch.length);
    this.view = new DataView(batch.bytes, 0, batch.length);
    this.pos = 0;
    const out: ReadableSpan[] = [];
    for (let i = 0; i < batch.count; i++) out.push(this.span());
    return out;
  }

  private span(): ReadableSpan {
    const name = this.ref();
    const kind = this.u8() as SpanKind;
    const context: SpanContext = { traceId: this.ascii(32), spanId: this.ascii(16), traceFlags: this.u8() };
    const has = this.u8();
    const parentSpanContext: SpanContext | undefined = (has & HAS_PARENT) === 0 ? undefined
      : { traceId: context.traceId, spanId: this.ascii(16), traceFlags: context.traceFlags, isRemote: (has & HAS_REMOTE_PARENT) !== 0 };
    if ((has & HAS_TRACE_STATE) !== 0) context.traceState = traceStateOf(this.str());
    const startTime: HrTime = [this.u32(), this.u32()];
    const endTime: HrTime = [this.u32(), this.u32()];
    const status: SpanStatus = { code: this.u8() };
    if ((has & HAS_STATUS_MESSAGE) !== 0) status.message = this.str();
    const droppedAttributesCount = this.u32();
    const droppedLinksCount = this.u32();
    const droppedEventsCount = this.u32();
    const resource = this.resources[this.u16()];
    const scope = this.scopes[this.u16()];
    if (resource === undefined || scope === undefined) throw new Error('tracing wire: a span refers to a resource or scope never sent');
    const attributes = this.attributes();
    const links: Link[] = [];
    if ((has & HAS_LINKS) !== 0) {
      for (let n = this.u16(); n > 0; n--) {
        const linked: SpanContext = { traceId: this.ascii(32), spanId: this.ascii(16), traceFlags: this.u8(), isRemote: this.u8() === 1 };
        const state = this.str();
        if (state !== '') linked.traceState = traceStateOf(state);
        links.push({ context: linked, attributes: this.attributes(), droppedAttributesCount: this.u32() });
      }
    }
    const events: TimedEvent[] = [];
    if ((has & HAS_EVENTS) !== 0) {
      for (let n = this.u16(); n > 0; n--) {
        events.push({ name: this.str(), time: [this.u32(), this.u32()], attributes: this.attributes(), droppedAttributesCount: this.u32() });
      }
    }
    return {
      name, kind, spanContext: () => context, parentSpanContext, startTime, endTime, duration: hrTimeDuration(startTime, endTime), ended: true,
      status, attributes, droppedAttributesCount, links, droppedLinksCount, events, droppedEventsCount, resource, instrumentationScope: scope,
    };
  }

  private attributes(): Attributes {
    const out: Attributes = {};
    for (let n = this.u16(); n > 0; n--) {
      const key = this.ref();
      const type = this.u8();
      let value: AttributeValue;
      if (type === T_STRING) value = this.str();
      else if (type === T_NUMBER) {
        value = this.view.getFloat64(this.pos, true);
        this.pos += 8;
      } else if (type === T_TRUE || type === T_FALSE) value = type === T_TRUE;
      else value = JSON.parse(this.str()) as AttributeValue;
      // defineProperty: a key such as __proto__ stays an attribute (the keys came from our spans, but still).
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  private u8(): number {
    return this.buf[this.pos++]!;
  }

  private u16(): number {
    const n = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return n;
  }

  private u32(): number {
    const n = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return n;
  }

  private ascii(length: number): string {
    const text = this.buf.toString('latin1', this.pos, this.pos + length);
    this.pos += length;
    return text;
  }

  private str(): string {
    const length = this.u32();
    const text = this.buf.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return text;
  }

  private ref(): string {
    const text = this.strings[this.u32()];
    if (text === undefined) throw new Error('tracing wire: a string-table index never sent');
    return text;
  }
}

