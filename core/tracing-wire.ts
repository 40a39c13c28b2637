import type { Attributes, AttributeValue, HrTime } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

/**
 * Ended spans as bytes, for the hop from the main thread to the export worker
 * (core/tracing-export.ts). Each span is written into a buffer as it ends, so the main thread
 * keeps no span object alive (they die young, cheap for the GC), and a batch crosses to the
 * worker as a transferred ArrayBuffer (no structured clone). Span names and attribute
 * keys, which repeat, are written as indexes into a string table that grows as new ones come;
 * a resource or instrumentation scope is sent once, by value, and referred to by index after.
 *
 * The worker encodes OTLP protobuf from these bytes directly (core/tracing-otlp.ts), so the
 * fields come in about the order the protobuf Span wants them.
 *
 * One span (integers little-endian; str = u32 byte length + UTF-8; ref = u32 string-table index):
 *
 *   ref name, u8 kind, 32 hex trace id, 16 hex span id, u8 trace flags, u8 has (HAS_* bits),
 *   [16 hex parent span id], [str trace state], u32 start s, u32 start ns, u32 end s, u32 end ns,
 *   u8 status code, [str status message], u32 dropped attributes, links, events, dropped links,
 *   dropped events (u32 each), u16 resource, u16 scope, attributes, [events], [links]
 *
 *   attributes = u16 count, then per attribute: ref key, u8 type (T_*), value
 *   links      = u16 count, then per link: 32 hex trace id, 16 hex span id, u8 flags, u8 remote,
 *                str trace state ('' = none), attributes, u32 dropped attributes
 *   events     = u16 count, then per event: str name, u32 s, u32 ns, attributes, u32 dropped attributes
 */
export interface WireBatch {
  /** The spans' bytes, to be transferred; undefined when they were copied into the caller's buffer (take). */
  readonly bytes: ArrayBuffer | undefined;
  readonly length: number;
  readonly count: number;
  /** Entries added to the string table since the previous batch, in index order. */
  readonly strings: string[];
  /** Resources first seen in this batch, in index order: their attributes. */
  readonly resources: Attributes[];
  /** Scopes first seen in this batch, in index order: name, version, schema URL. */
  readonly scopes: [string, string | undefined, string | undefined][];
}

/**
 * A span that keeps its start and end as milliseconds since the epoch (or an HrTime when given
 * one): the packer reads these rather than ReadableSpan's startTime and endTime arrays.
 */
export interface WireTimes {
  readonly startAt: number | HrTime;
  readonly endAt: number | HrTime;
}

/**
 * The names of a span's fixed attributes, in the order of its values (WireAttributes). Made once
 * per kind of span, at module load: the packer keeps their string-table indexes per FixedKeys, so
 * a span with fixed attributes is written with no attribute object built and no key looked up.
 */
export class FixedKeys {
  constructor(readonly names: readonly string[]) {
    if (new Set(names).size !== names.length || names.some((name) => name.length === 0)) throw new Error(`fixed attribute keys must be distinct and non-empty: ${names.join(', ')}`);
  }
}

/** A value for each of `keys`' names, in order; undefined or null: that attribute is not set. */
export type FixedValues = (AttributeValue | undefined)[];

/**
 * A span whose attributes are fixed keys with their values plus an object of the others (set
 * later, e.g. the status code): the packer writes these rather than reading `attributes`.
 */
export interface WireAttributes {
  readonly fixedKeys: FixedKeys | undefined;
  readonly fixedValues: FixedValues;
  readonly moreAttributes: Attributes;
}

/** Fixed keys with their values, then `more`, as one attributes object (what ReadableSpan shows). */
export function attributesOf(keys: FixedKeys, values: FixedValues, more?: Attributes): Attributes {
  const out: Attributes = {};
  const names = keys.names;
  for (let i = 0; i < names.length; i++) {
    const value = values[i];
    if (value !== undefined && value !== null) out[names[i]!] = value;
  }
  if (more !== undefined) for (const key in more) Object.defineProperty(out, key, { value: more[key], enumerable: true, writable: true, configurable: true });
  return out;
}

/**
 * This thread's performance.timeOrigin, read once: a getter, which cost a sixth of each clock
 * reading of a span. Constant for the life of the thread.
 */
export const TIME_ORIGIN = performance.timeOrigin;

/** The whole seconds of a time in milliseconds since the epoch, as an HrTime's first element. */
export function epochSeconds(ms: number): number {
  const seconds = Math.floor(ms / 1000);
  return Math.round((ms - seconds * 1000) * 1e6) >= 1e9 ? seconds + 1 : seconds;
}

/** The nanoseconds past epochSeconds(ms), as an HrTime's second element. */
export function epochNanos(ms: number): number {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos >= 1e9 ? nanos - 1e9 : nanos;
}

export const HAS_PARENT = 1;
export const HAS_REMOTE_PARENT = 2;
export const HAS_TRACE_STATE = 4;
export const HAS_STATUS_MESSAGE = 8;
export const HAS_LINKS = 16;
export const HAS_EVENTS = 32;

export const T_STRING = 0;
export const T_NUMBER = 1;
export const T_TRUE = 2;
export const T_FALSE = 3;
/** Arrays: as JSON (rare in our spans; a homogeneous array of primitives round-trips). */
export const T_JSON = 4;

const INITIAL_BYTES = 512 * 1024;
/** Strings up to this long are tried as ASCII in a loop before a native UTF-8 write. */
const ASCII_LOOP_MAX = 128;

/** Writes spans; keeps the string, resource and scope tables of one worker (one packer per worker). */
export class WirePacker {
  private readonly strings = new Map<string, number>();
  private readonly resources = new Map<Resource, number>();
  private readonly scopes = new Map<InstrumentationScope, number>();
  /** Per set of fixed keys, their string-table indexes. */
  private readonly fixedRefs = new Map<FixedKeys, number[]>();
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
    const times = span as Partial<WireTimes>;
    if (times.startAt !== undefined && times.endAt !== undefined) {
      this.time(times.startAt);
      this.time(times.endAt);
    } else {
      this.time(span.startTime);
      this.time(span.endTime);
    }
    this.u8(span.status.code);
    if ((has & HAS_STATUS_MESSAGE) !== 0) this.str(message!);
    this.ensure(32);
    this.u32(span.droppedAttributesCount);
    this.u32(span.droppedLinksCount);
    this.u32(span.droppedEventsCount);
    this.u16(this.resourceIndex(span.resource));
    this.u16(this.scopeIndex(span.instrumentationScope));
    const wire = span as Partial<WireAttributes>;
    if (wire.fixedKeys !== undefined) this.fixedAttributes(wire.fixedKeys, wire.fixedValues!, wire.moreAttributes!);
    else this.attributes(span.attributes);
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
    this.spans++;
  }

  /**
   * The spans written since the last take, and the tables' new entries. The bytes are copied into
   * `into` when they fit (a slot of memory shared with the worker), else out into an ArrayBuffer
   * of their own, to be transferred. The working buffer stays: a fresh large one per batch cost
   * more, in page faults, than the copy of a batch kept under ~400 KiB (core/tracing-export.ts).
   */
  take(into?: Uint8Array): WireBatch {
    const fits = into !== undefined && this.pos <= into.length;
    if (fits) this.buf.copy(into, 0, 0, this.pos);
    const batch: WireBatch = {
      bytes: fits ? undefined : (this.buf.buffer as ArrayBuffer).slice(this.buf.byteOffset, this.buf.byteOffset + this.pos), length: this.pos, count: this.spans,
      strings: this.newStrings, resources: this.newResources, scopes: this.newScopes,
    };
    this.pos = 0;
    this.spans = 0;
    this.newStrings = [];
    this.newResources = [];
    this.newScopes = [];
    return batch;
  }

  /** u32 seconds, u32 nanoseconds. */
  private time(at: number | HrTime): void {
    if (typeof at === 'number') {
      this.u32(epochSeconds(at));
      this.u32(epochNanos(at));
    } else {
      this.u32(at[0]);
      this.u32(at[1]);
    }
  }

  private attributes(attributes: Attributes): void {
    this.ensure(2);
    const countAt = this.pos;
    this.pos += 2;
    this.view.setUint16(countAt, this.attributeEntries(attributes), true);
  }

  /**
   * Fixed attributes: each key's string-table index was looked up once for `keys`, so a value is
   * written after a stored index, with no attribute object walked nor key hashed per span.
   */
  private fixedAttributes(keys: FixedKeys, values: FixedValues, more: Attributes): void {
    let refs = this.fixedRefs.get(keys);
    if (refs === undefined) {
      refs = keys.names.map((name) => this.refIndex(name));
      this.fixedRefs.set(keys, refs);
    }
    this.ensure(2);
    const countAt = this.pos;
    this.pos += 2;
    let count = 0;
    const n = refs.length;
    for (let i = 0; i < n; i++) {
      const value = values[i];
      if (value === undefined || value === null) continue;
      this.ensure(16);
      this.u32(refs[i]!);
      this.value(value);
      count++;
    }
    this.view.setUint16(countAt, count + this.attributeEntries(more), true);
  }

  /** Writes each set attribute (ref key, type, value); how many. */
  private attributeEntries(attributes: Attributes): number {
    let count = 0;
    for (const key in attributes) {
      const value = attributes[key];
      if (value === undefined || value === null) continue;
      this.ensure(16);
      this.ref(key);
      this.value(value);
      count++;
    }
    return count;
  }

  private value(value: AttributeValue): void {
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

  /** Ids: hex text, one byte a character (a loop: a native write per id cost more). */
  private ascii(text: string, length: number): void {
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < length; i++) buf[pos++] = text.charCodeAt(i);
    this.pos = pos;
  }

  private str(text: string): void {
    const n = text.length;
    this.ensure(4 + n * 3);
    const buf = this.buf;
    const start = this.pos + 4;
    // Most strings are short and ASCII: copied in a loop, which costs less than a native write.
    if (n <= ASCII_LOOP_MAX) {
      let pos = start;
      for (let i = 0; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos++] = c;
      }
      if (pos - start === n) {
        this.view.setUint32(this.pos, n, true);
        this.pos = pos;
        return;
      }
    }
    const written = buf.write(text, start, 'utf8');
    this.view.setUint32(this.pos, written, true);
    this.pos = start + written;
  }

  private ref(text: string): void {
    this.u32(this.refIndex(text));
  }

  private refIndex(text: string): number {
    let index = this.strings.get(text);
    if (index === undefined) {
      index = this.strings.size;
      this.strings.set(text, index);
      this.newStrings.push(text);
    }
    return index;
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
