import type { Attributes, AttributeValue } from '@opentelemetry/api';
import {
  HAS_EVENTS, HAS_LINKS, HAS_PARENT, HAS_REMOTE_PARENT, HAS_STATUS_MESSAGE, HAS_TRACE_STATE, T_FALSE, T_JSON, T_NUMBER, T_STRING, T_TRUE, type WireBatch,
} from './tracing-wire.js';

/**
 * OTLP protobuf straight from the wire format (core/tracing-wire.ts), in the export worker. The
 * SDK's exporter first rebuilt every span as objects and then serialised them, which cost the
 * worker more than making the spans cost the main thread; here each span's bytes become the
 * bytes of its protobuf `Span` message in one pass (strings are copied as the UTF-8 they already
 * are, names and attribute keys are encoded once per string-table entry), and a request is those
 * messages concatenated under their resource and scope.
 *
 * The output is the SDK's, byte for byte (opentelemetry-proto trace/v1/trace.proto, the fields in
 * the order and with the defaults of @opentelemetry/otlp-transformer's ProtobufTraceSerializer):
 * test/unit/core/tracing-wire.test.ts compares the two.
 */

/** A resource's `Resource` message, sent once; the batch span processor asks whether it is complete. */
export interface EncodedResource {
  readonly message: Uint8Array;
  readonly asyncAttributesPending: false;
}

/** An instrumentation scope's `InstrumentationScope` message and its ScopeSpans schema URL. */
export interface EncodedScope {
  readonly message: Uint8Array;
  readonly schemaUrl: Uint8Array | undefined;
}

/** What the batch span processor reads of a span: that it is sampled (only sampled spans cross). */
const SAMPLED = Object.freeze({ traceFlags: 1 });

/**
 * One span as a field of ScopeSpans (its tag, its length, its `Span` message): bytes start..end of
 * a chunk shared with the other spans of its batch, which follow one another there, so that a
 * request copies a run of them at once (otlpTraceRequest).
 */
export class EncodedSpan {
  constructor(
    readonly chunk: Uint8Array,
    readonly start: number,
    readonly end: number,
    readonly resource: EncodedResource,
    readonly scope: EncodedScope,
  ) {}

  spanContext(): { readonly traceFlags: number } {
    return SAMPLED;
  }
}

// Wire types and the tags used below ((field << 3) | wire type).
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;
const tag = (field: number, wireType: number): number => (field << 3) | wireType;

/** OTLP's span flags: the W3C flags, and whether the parent is remote (known, so always said). */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

/** Hex digit values by character code (the ids come as lower-case hex text). */
const HEX = new Uint8Array(256);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** KeyValue.key, KeyValue.value, AnyValue.string_value: one-byte tags of length-delimited fields. */
const KEY_TAG = tag(1, LEN);
const VALUE_TAG = tag(2, LEN);
const STRING_VALUE_TAG = tag(1, LEN);

/** An unsigned varint below 2^32 into `buf` at `pos` (room made by the caller); the position after it. */
function varintAt(buf: Uint8Array, pos: number, n: number): number {
  while (n > 0x7f) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

/** A growable protobuf writer. Nested messages reserve one byte for their length and move up when it needs more. */
class Writer {
  buf = Buffer.allocUnsafeSlow(64 * 1024);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  /** An unsigned varint below 2^32 (tags, lengths, counts). */
  uvarint(n: number): void {
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    while (n > 0x7f) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  /** An int64 varint from an integral number (negative ones in two's complement, ten bytes). */
  int64(n: number): void {
    if (n >= 0 && n <= 0xffffffff) return this.uvarint(n);
    let low: number;
    let high: number;
    const abs = Math.abs(n);
    low = abs >>> 0;
    high = Math.floor(abs / 0x100000000) >>> 0;
    if (n < 0) {
      low = (~low + 1) >>> 0;
      high = (~high + (low === 0 ? 1 : 0)) >>> 0;
    }
    this.ensure(10);
    const buf = this.buf;
    while (high > 0 || low > 0x7f) {
      buf[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low;
  }

  fixed32(n: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(n >>> 0, this.pos);
    this.pos += 4;
  }

  double(n: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(n, this.pos);
    this.pos += 8;
  }

  /**
   * Nanoseconds since the epoch (fixed64) from seconds and nanoseconds, exactly: seconds split
   * at 2^16 keeps every product below 2^53.
   */
  time(seconds: number, nanos: number): void {
    const upper = Math.floor(seconds / 0x10000) * 1e9; // times 2^16 below
    const lower = (seconds % 0x10000) * 1e9 + nanos;
    const low = (upper % 0x10000) * 0x10000 + (lower % 0x100000000);
    const high = Math.floor(upper / 0x10000) + Math.floor(lower / 0x100000000) + Math.floor(low / 0x100000000);
    this.ensure(8);
    this.buf.writeUInt32LE(low >>> 0, this.pos);
    this.buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  /** Bytes from `src`, as they are (the caller wrote the tag and length). */
  raw(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    const buf = this.buf;
    if (n < 48) {
      // A typed-array copy costs more than a loop for the short strings most of these are.
      let pos = this.pos;
      for (let i = start; i < end; i++) buf[pos++] = src[i]!;
      this.pos = pos;
    } else {
      buf.set(src.subarray(start, end), this.pos);
      this.pos += n;
    }
  }

  /**
   * A KeyValue whose value is a string (most attributes): its tag and length, the key (`key`: a
   * string-table entry, length first), and the AnyValue with `length` UTF-8 bytes of `src` at
   * `at`. Room is made once, and the bytes copied in one loop, rather than a call per part.
   */
  stringKeyValue(kvTag: number, key: Uint8Array, src: Uint8Array, at: number, length: number): void {
    const value = 1 + varintSize(length) + length;
    const kv = 1 + key.length + 1 + varintSize(value) + value;
    this.ensure(1 + 5 + kv);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = kvTag;
    pos = varintAt(buf, pos, kv);
    buf[pos++] = KEY_TAG;
    for (let i = 0; i < key.length; i++) buf[pos++] = key[i]!;
    buf[pos++] = VALUE_TAG;
    pos = varintAt(buf, pos, value);
    buf[pos++] = STRING_VALUE_TAG;
    pos = varintAt(buf, pos, length);
    if (length < 48) {
      for (let i = at; i < at + length; i++) buf[pos++] = src[i]!;
    } else {
      buf.set(src.subarray(at, at + length), pos);
      pos += length;
    }
    this.pos = pos;
  }

  /** A length-delimited field: tag, length, bytes. */
  field(tagByte: number, src: Uint8Array, start: number, end: number): void {
    this.uvarint(tagByte);
    this.uvarint(end - start);
    this.raw(src, start, end);
  }

  /** A one-byte tag and bytes that already start with their length. */
  tagged(tagByte: number, prefixed: Uint8Array): void {
    this.ensure(1);
    this.buf[this.pos++] = tagByte;
    this.raw(prefixed, 0, prefixed.length);
  }

  string(tagByte: number, text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    this.field(tagByte, bytes, 0, bytes.length);
  }

  /** 16 or 32 hex characters of `src` at `at`, as 8 or 16 bytes. */
  hexId(tagByte: number, src: Uint8Array, at: number, hexLength: number): void {
    this.ensure(2 + hexLength / 2);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = tagByte;
    buf[pos++] = hexLength / 2;
    for (let i = at; i < at + hexLength; i += 2) buf[pos++] = (HEX[src[i]!]! << 4) | HEX[src[i + 1]!]!;
    this.pos = pos;
  }

  /** Starts a nested message; returns where its length goes. */
  begin(tagByte: number): number {
    this.uvarint(tagByte);
    this.ensure(1);
    return this.pos++;
  }

  finish(at: number): void {
    const length = this.pos - at - 1;
    const size = varintSize(length);
    if (size > 1) {
      this.ensure(size - 1);
      this.buf.copyWithin(at + size, at + 1, this.pos);
      this.pos += size - 1;
    }
    const end = this.pos;
    this.pos = at;
    this.uvarint(length);
    this.pos = end;
  }

  take(): Uint8Array {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.pos = 0;
    return out;
  }
}

/** An attribute value given as a JavaScript value (resources, array attributes), as the SDK writes an AnyValue. */
function anyValue(w: Writer, value: unknown): void {
  if (typeof value === 'string') w.string(tag(1, LEN), value);
  else if (typeof value === 'boolean') {
    w.uvarint(tag(2, VARINT));
    w.uvarint(value ? 1 : 0);
  } else if (typeof value === 'number') number(w, value);
  else if (Array.isArray(value)) {
    const array = w.begin(tag(5, LEN));
    for (const item of value) {
      const at = w.begin(tag(1, LEN));
      anyValue(w, item);
      w.finish(at);
    }
    w.finish(array);
  }
  // Anything else (null in an array) is an empty AnyValue, as in the SDK.
}

const isInt64 = (value: number): boolean => Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63;

/** The bytes of an int64 varint: negative ones take ten. */
function int64Size(value: number): number {
  if (value < 0) return 10;
  if (value <= 0xffffffff) return varintSize(value);
  let size = 5;
  for (let rest = Math.floor(value / 2 ** 35); rest > 0; rest = Math.floor(rest / 128)) size++;
  return size;
}

/** int_value for an integer in the int64 range, else double_value (as the SDK decides). */
function number(w: Writer, value: number): void {
  if (isInt64(value)) {
    w.uvarint(tag(3, VARINT));
    w.int64(value);
  } else {
    w.uvarint(tag(4, FIXED64));
    w.double(value);
  }
}

function keyValues(w: Writer, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    const kv = w.begin(tag(field, LEN));
    w.string(tag(1, LEN), key);
    const value = w.begin(tag(2, LEN));
    anyValue(w, attributes[key]);
    w.finish(value);
    w.finish(kv);
  }
}

/**
 * The worker's side of the wire: reads batches of spans and encodes each as a protobuf `Span`.
 * Keeps the string, resource and scope tables the main thread's packer sends as they grow.
 */
export class OtlpSpanEncoder {
  /** String-table entries as a protobuf string's length and UTF-8 bytes, ready to follow a tag. */
  private readonly strings: Uint8Array[] = [];
  private readonly resources: EncodedResource[] = [];
  private readonly scopes: EncodedScope[] = [];
  private readonly w = new Writer();
  private readonly spanResources: EncodedResource[] = [];
  private readonly spanScopes: EncodedScope[] = [];
  private src: Uint8Array = new Uint8Array(0);
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private pos = 0;

  /** The batch's spans; `bytes` holds them (a slot of shared memory, or the transferred buffer). */
  encode(batch: WireBatch, bytes: Uint8Array): EncodedSpan[] {
    for (const text of batch.strings) {
      this.w.string(0, text);
      this.strings.push(this.w.take().subarray(1));
    }
    for (const attributes of batch.resources) {
      keyValues(this.w, 1, attributes);
      // dropped_attributes_count, always 0 (the SDK writes it).
      this.w.uvarint(tag(2, VARINT));
      this.w.uvarint(0);
      this.resources.push({ message: this.w.take(), asyncAttributesPending: false });
    }
    for (const [name, version, schemaUrl] of batch.scopes) {
      this.w.string(tag(1, LEN), name);
      if (version !== undefined && version !== '') this.w.string(tag(2, LEN), version);
      this.scopes.push({ message: this.w.take(), schemaUrl: schemaUrl === undefined || schemaUrl === '' ? undefined : Buffer.from(schemaUrl, 'utf8') });
    }
    this.src = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, batch.length);
    this.pos = 0;
    const starts: number[] = [];
    const w = this.w;
    for (let i = 0; i < batch.count; i++) {
      const at = w.pos;
      starts.push(at);
      // ScopeSpans.spans: the tag, two bytes kept for the length (a span of 128 bytes to 16 KiB,
      // nearly all), the message, then the length written, the message moved when it takes other than two.
      w.ensure(3);
      w.buf[at] = SPAN_FIELD_TAG;
      w.pos = at + 3;
      this.span();
      const length = w.pos - at - 3;
      const size = varintSize(length);
      if (size !== 2) {
        w.ensure(size);
        w.buf.copyWithin(at + 1 + size, at + 3, w.pos);
        w.pos += size - 2;
      }
      varintAt(w.buf, at + 1, length);
    }
    starts.push(this.w.pos);
    const chunk = this.w.take();
    const out: EncodedSpan[] = [];
    for (let i = 0; i < batch.count; i++) out.push(new EncodedSpan(chunk, starts[i]!, starts[i + 1]!, this.spanResources[i]!, this.spanScopes[i]!));
    this.spanResources.length = 0;
    this.spanScopes.length = 0;
    return out;
  }

  /** One span, from the wire to the writer; its resource and scope go to spanResources and spanScopes. */
  private span(): void {
    const w = this.w;
    const src = this.src;
    const name = this.ref();
    const kind = this.u8();
    const ids = this.pos;
    this.pos += 48;
    const traceFlags = this.u8();
    const has = this.u8();
    const parent = this.pos;
    if ((has & HAS_PARENT) !== 0) this.pos += 16;
    // trace_id, span_id, trace_state, parent_span_id
    w.hexId(tag(1, LEN), src, ids, 32);
    w.hexId(tag(2, LEN), src, ids + 32, 16);
    if ((has & HAS_TRACE_STATE) !== 0) this.strField(tag(3, LEN));
    if ((has & HAS_PARENT) !== 0) w.hexId(tag(4, LEN), src, parent, 16);
    // name, kind (the API's kind + 1: OTLP's 0 is unspecified)
    w.tagged(tag(5, LEN), name);
    w.uvarint(tag(6, VARINT));
    w.uvarint(kind + 1);
    // start and end times
    w.uvarint(tag(7, FIXED64));
    w.time(this.u32(), this.u32());
    w.uvarint(tag(8, FIXED64));
    w.time(this.u32(), this.u32());
    const statusCode = this.u8();
    const message = this.pos;
    if ((has & HAS_STATUS_MESSAGE) !== 0) this.pos += 4 + this.view.getUint32(this.pos, true);
    const droppedAttributes = this.u32();
    const droppedLinks = this.u32();
    const droppedEvents = this.u32();
    const resource = this.resources[this.u16()];
    const scope = this.scopes[this.u16()];
    if (resource === undefined || scope === undefined) throw new Error('tracing wire: a span refers to a resource or scope never sent');
    this.spanResources.push(resource);
    this.spanScopes.push(scope);
    this.attributes(9);
    w.uvarint(tag(10, VARINT));
    w.uvarint(droppedAttributes);
    if ((has & HAS_EVENTS) !== 0) {
      for (let n = this.u16(); n > 0; n--) {
        const event = w.begin(tag(11, LEN));
        const nameAt = this.pos;
        this.pos += 4 + this.view.getUint32(this.pos, true);
        w.uvarint(tag(1, FIXED64));
        w.time(this.u32(), this.u32());
        const after = this.pos;
        this.pos = nameAt;
        this.strField(tag(2, LEN));
        this.pos = after;
        this.attributes(3);
        w.uvarint(tag(4, VARINT));
        w.uvarint(this.u32());
        w.finish(event);
      }
    }
    w.uvarint(tag(12, VARINT));
    w.uvarint(droppedEvents);
    if ((has & HAS_LINKS) !== 0) {
      for (let n = this.u16(); n > 0; n--) {
        const link = w.begin(tag(13, LEN));
        const at = this.pos;
        this.pos += 48;
        w.hexId(tag(1, LEN), src, at, 32);
        w.hexId(tag(2, LEN), src, at + 32, 16);
        const flags = (this.u8() & 0xff) | HAS_IS_REMOTE | (this.u8() === 1 ? IS_REMOTE : 0);
        if (this.view.getUint32(this.pos, true) > 0) this.strField(tag(3, LEN));
        else this.pos += 4;
        this.attributes(4);
        w.uvarint(tag(5, VARINT));
        w.uvarint(this.u32());
        w.uvarint(tag(6, FIXED32));
        w.fixed32(flags);
        w.finish(link);
      }
    }
    w.uvarint(tag(14, VARINT));
    w.uvarint(droppedLinks);
    // status: message (when there is one), code (always)
    const status = w.begin(tag(15, LEN));
    if ((has & HAS_STATUS_MESSAGE) !== 0) {
      const after = this.pos;
      this.pos = message;
      this.strField(tag(2, LEN));
      this.pos = after;
    }
    w.uvarint(tag(3, VARINT));
    w.uvarint(statusCode);
    w.finish(status);
    w.uvarint(tag(16, FIXED32));
    w.fixed32((traceFlags & 0xff) | HAS_IS_REMOTE | ((has & HAS_REMOTE_PARENT) !== 0 ? IS_REMOTE : 0));
  }

  /**
   * Wire attributes as repeated KeyValue in `field`. A KeyValue's length and its AnyValue's are
   * known before they are written (a string's length is in the wire), so they are written first
   * rather than reserved and moved.
   */
  private attributes(field: number): void {
    const w = this.w;
    const kvTag = tag(field, LEN);
    for (let n = this.u16(); n > 0; n--) {
      const key = this.ref();
      const type = this.u8();
      const keyField = 1 + key.length;
      if (type === T_STRING) {
        const length = this.view.getUint32(this.pos, true);
        this.pos += 4;
        w.stringKeyValue(kvTag, key, this.src, this.pos, length);
        this.pos += length;
      } else if (type === T_NUMBER) {
        const number = this.view.getFloat64(this.pos, true);
        this.pos += 8;
        if (isInt64(number)) {
          this.keyValue(kvTag, key, keyField, 1 + int64Size(number));
          w.uvarint(tag(3, VARINT));
          w.int64(number);
        } else {
          this.keyValue(kvTag, key, keyField, 9);
          w.uvarint(tag(4, FIXED64));
          w.double(number);
        }
      } else if (type === T_TRUE || type === T_FALSE) {
        this.keyValue(kvTag, key, keyField, 2);
        w.uvarint(tag(2, VARINT));
        w.uvarint(type === T_TRUE ? 1 : 0);
      } else if (type === T_JSON) {
        const kv = w.begin(kvTag);
        w.tagged(tag(1, LEN), key);
        const value = w.begin(tag(2, LEN));
        const length = this.u32();
        anyValue(w, JSON.parse(Buffer.from(this.src.buffer, this.src.byteOffset + this.pos, length).toString('utf8')) as AttributeValue);
        this.pos += length;
        w.finish(value);
        w.finish(kv);
      } else throw new Error(`tracing wire: unknown attribute type ${type}`);
    }
  }

  /** A KeyValue's tag and length, its key, and its value's tag and length (`value` bytes follow). */
  private keyValue(kvTag: number, key: Uint8Array, keyField: number, value: number): void {
    const w = this.w;
    w.uvarint(kvTag);
    w.uvarint(keyField + 1 + varintSize(value) + value);
    w.tagged(tag(1, LEN), key);
    w.uvarint(tag(2, LEN));
    w.uvarint(value);
  }

  /** A wire string as a length-delimited field (its UTF-8 bytes copied as they are). */
  private strField(tagByte: number): void {
    const length = this.u32();
    this.w.field(tagByte, this.src, this.pos, this.pos + length);
    this.pos += length;
  }

  private u8(): number {
    return this.src[this.pos++]!;
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

  private ref(): Uint8Array {
    const text = this.strings[this.u32()];
    if (text === undefined) throw new Error('tracing wire: a string-table index never sent');
    return text;
  }
}

const lengthField = (length: number): number => 1 + varintSize(length) + length;

/** ScopeSpans.spans. */
const SPAN_FIELD_TAG = tag(2, LEN);

/**
 * An ExportTraceServiceRequest of these spans, grouped by resource and then scope in the order
 * each is first seen (as the SDK groups them).
 */
export function otlpTraceRequest(spans: readonly EncodedSpan[]): Uint8Array {
  const groups = new Map<EncodedResource, Map<EncodedScope, EncodedSpan[]>>();
  for (const span of spans) {
    let scopes = groups.get(span.resource);
    if (scopes === undefined) groups.set(span.resource, scopes = new Map());
    const list = scopes.get(span.scope);
    if (list === undefined) scopes.set(span.scope, [span]);
    else list.push(span);
  }
  // Lengths first (every nested length is known from the spans'), then one pass of copies.
  const sizes = new Map<object, number>();
  let total = 0;
  for (const [resource, scopes] of groups) {
    let resourceSpans = lengthField(resource.message.length);
    for (const [scope, list] of scopes) {
      let scopeSpans = lengthField(scope.message.length);
      for (const span of list) scopeSpans += span.end - span.start;
      if (scope.schemaUrl !== undefined) scopeSpans += lengthField(scope.schemaUrl.length);
      sizes.set(list, scopeSpans);
      resourceSpans += lengthField(scopeSpans);
    }
    sizes.set(scopes, resourceSpans);
    total += lengthField(resourceSpans);
  }
  const w = new Writer();
  w.buf = Buffer.allocUnsafe(total);
  for (const [resource, scopes] of groups) {
    w.uvarint(tag(1, LEN));
    w.uvarint(sizes.get(scopes)!);
    w.field(tag(1, LEN), resource.message, 0, resource.message.length);
    for (const [scope, list] of scopes) {
      w.uvarint(tag(2, LEN));
      w.uvarint(sizes.get(list)!);
      w.field(tag(1, LEN), scope.message, 0, scope.message.length);
      // Spans that follow one another in their chunk (most: a batch's, in order) in one copy.
      let run = list[0]!;
      let runEnd = run.end;
      for (let i = 1; i < list.length; i++) {
        const span = list[i]!;
        if (span.chunk === run.chunk && span.start === runEnd) {
          runEnd = span.end;
          continue;
        }
        w.raw(run.chunk, run.start, runEnd);
        run = span;
        runEnd = span.end;
      }
      w.raw(run.chunk, run.start, runEnd);
      if (scope.schemaUrl !== undefined) w.field(tag(3, LEN), scope.schemaUrl, 0, scope.schemaUrl.length);
    }
  }
  if (w.pos !== total) throw new Error(`OTLP request: wrote ${w.pos} bytes, expected ${total}`);
  return w.buf;
}
