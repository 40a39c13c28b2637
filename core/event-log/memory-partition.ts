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

export class PartitionLog {
  private readonly records: StoredRecord[] = [];
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
    return this.records[this.head + offset - this.startOffset];
  }

  append(record: StoredRecord): number {
    this.records.push(record);
    return this.end - 1;
  }

  /** The oldest record still held. */
  first(): StoredRecord | undefined {
    return this.records[this.head];
  }

  /** Removes the oldest record; returns it. */
  removeFirst(): StoredRecord | undefined {
    const record = this.records[this.head];
    if (record === undefined) return undefined;
    this.records[this.head] = undefined as unknown as StoredRecord;
    this.head++;
    this.startOffset++;
    // Compact now and then so the array does not keep a hole the size of everything removed.
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records.splice(0, this.head);
      this.head = 0;
    }
    return record;
  }

  /** Bytes of the records still held. */
  bytes(): number {
    let n = 0;
    for (let i = this.head; i < this.records.length; i++) n += this.records[i]!.bytes;
    return n;
  }
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
