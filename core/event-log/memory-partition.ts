import type { Headers } from './port.js';

/**
 * One partition of the in-memory log: records addressed by offset, removable from the head the way
 * Kafka's retention removes whole segments (here one record at a time). Offsets keep counting:
 * after removal the partition starts at a later offset, never at 0 again.
 *
 *   removed        start                      end
 *   ─ ─ ─ ─ ─ ─ ─ ─[ 7 ][ 8 ][ 9 ][ 10 ][ 11 ]  ← append
 */
export interface StoredRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Headers;
  readonly timestamp: number;
  /** What the record costs the retention bound: value, key and header bytes. */
  readonly bytes: number;
}

/** What retention needs of a held record without unpacking it. */
export interface RecordMeta {
  readonly timestamp: number;
  readonly bytes: number;
}

/**
 * A held record: key, value and headers packed into one buffer outside the JS heap. Every event a
 * developer sends stays held (up to the retention bounds), and each as a dozen small heap objects
 * (headers object, a Buffer per header) made every young-generation GC copy them all: pauses of
 * tens of ms at 1,000 events/s, the in-memory latency tail of issue 17. Packed, it is two objects;
 * a read unpacks views into the buffer, which die young.
 */
interface Held extends RecordMeta {
  readonly packed: Buffer;
}

export class PartitionLog {
  private readonly records: Held[] = [];
  private head = 0;
  private startOffset = 0;
  /** Set when its topic is deleted: entries left in the retention queue are then skipped. */
  deleted = false;

  /** The earliest offset still held (the end when empty). */
  get start(): number {
    return this.startOffset;
  }

  /** The offset the next append gets. */
  get end(): number {
    return this.startOffset + this.records.length - this.head;
  }

  /** The record at `offset`, or undefined when it was removed or is not written yet. */
  get(offset: number): StoredRecord | undefined {
    if (offset < this.startOffset) return undefined;
    const held = this.records[this.head + offset - this.startOffset];
    return held === undefined ? undefined : unpackRecord(held.packed, held.timestamp, held.bytes);
  }

  /** The timestamp and size of the record at `offset`, without unpacking it. */
  meta(offset: number): RecordMeta | undefined {
    if (offset < this.startOffset) return undefined;
    return this.records[this.head + offset - this.startOffset];
  }

  append(record: StoredRecord): number {
    this.records.push({ packed: pack(record.key, record.value, record.headers), timestamp: record.timestamp, bytes: record.bytes });
    return this.end - 1;
  }

  /** The oldest record still held. */
  first(): RecordMeta | undefined {
    return this.records[this.head];
  }

  /** Removes the oldest record. */
  removeFirst(): void {
    const record = this.records[this.head];
    if (record === undefined) return;
    this.records[this.head] = undefined as unknown as Held;
    this.head++;
    this.startOffset++;
    // Compact now and then so the array does not keep a hole the size of everything removed.
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Bytes of the records still held. */
  bytes(): number {
    let n = 0;
    for (let i = this.head; i < this.records.length; i++) n += this.records[i]!.bytes;
    return n;
  }
}

const NONE = 0xffffffff;

/**
 * key, value and headers in one buffer: [u32 key length | NONE][key][u32 value length | NONE][value]
 * [u32 header count] then per header [u32 name bytes][name, UTF-8][u32 value length][value].
 */
export function pack(key: Buffer | null, value: Buffer | null, headers: Headers): Buffer {
  const entries = Object.entries(headers);
  let size = 12 + (key?.length ?? 0) + (value?.length ?? 0);
  for (const [name, header] of entries) size += 8 + Buffer.byteLength(name) + header.length;
  // Small ones share Buffer's pool slabs (one heap object each, not two); records leave in the
  // order they came (retention), so a slab is let go with its last record.
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  const put = (bytes: Buffer | null): void => {
    out.writeUInt32LE(bytes === null ? NONE : bytes.length, at);
    at += 4;
    if (bytes !== null) at += bytes.copy(out, at);
  };
  put(key);
  put(value);
  out.writeUInt32LE(entries.length, at);
  at += 4;
  for (const [name, header] of entries) {
    const length = out.write(name, at + 4, 'utf8');
    out.writeUInt32LE(length, at);
    at += 4 + length;
    put(header);
  }
  return out;
}

/** The inverse of pack: views into `packed`, and a null-prototype headers object. */
export function unpack(packed: Buffer): { key: Buffer | null; value: Buffer | null; headers: Headers } {
  return unpackRecord(packed, 0, 0);
}

/**
 * unpack, with the held record's timestamp and size, in one object. Written out straight, with no
 * closure over the read position and no spread into a second object: the in-memory consumer calls
 * it per record handed out, and that shape cost ~2.8 µs a record more (~7 % of a dispatched event's CPU).
 */
function unpackRecord(packed: Buffer, timestamp: number, bytes: number): StoredRecord {
  let at = 0;
  let length = packed.readUInt32LE(at);
  at += 4;
  let key: Buffer | null = null;
  if (length !== NONE) {
    key = packed.subarray(at, at + length);
    at += length;
  }
  length = packed.readUInt32LE(at);
  at += 4;
  let value: Buffer | null = null;
  if (length !== NONE) {
    value = packed.subarray(at, at + length);
    at += length;
  }
  const count = packed.readUInt32LE(at);
  at += 4;
  const headers = Object.create(null) as Record<string, Buffer>;
  for (let i = 0; i < count; i++) {
    length = packed.readUInt32LE(at);
    const name = packed.toString('utf8', at + 4, at + 4 + length);
    at += 4 + length;
    // A header value is never NONE (pack writes every one as bytes).
    length = packed.readUInt32LE(at);
    at += 4;
    headers[name] = packed.subarray(at, at + length);
    at += length;
  }
  return { key, value, headers, timestamp, bytes };
}

export function storedBytes(key: Buffer | null, value: Buffer | null, headers: Headers): number {
  let n = (key?.length ?? 0) + (value?.length ?? 0);
  // for-in, not Object.entries: no array of pairs per record appended.
  for (const name in headers) n += name.length + headers[name]!.length;
  return n;
}

/**
 * Which partition holds the log's oldest record: one entry per appended record, in append order,
 * so the front entry names the partition whose head goes first when the log is over its bounds.
 */
export class AppendOrder {
  private readonly entries: PartitionLog[] = [];
  private head = 0;

  push(partition: PartitionLog): void {
    this.entries.push(partition);
  }

  /** The partition holding the oldest live record (entries of deleted topics are dropped). */
  front(): PartitionLog | undefined {
    while (this.head < this.entries.length && this.entries[this.head]!.deleted) this.shift();
    return this.entries[this.head];
  }

  shift(): void {
    this.entries[this.head] = undefined as unknown as PartitionLog;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }
}
