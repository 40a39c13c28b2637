import { createAPI, fetchV17, OutOfBoundsError, Reader, readRecordsBatch, ResponseError, type Consumer, type KafkaRecord, type RecordsBatch } from '@platformatic/kafka';
import { answerApiLookUp } from './api-lookup.js';

type FetchResponse = fetchV17.FetchResponse;
type FetchResponsePartition = fetchV17.FetchResponsePartition;

/*
 * A Fetch response (v17) read from one flat buffer. @platformatic/kafka (1.22) reads every field
 * through a buffer list that it searches from its start at each read and that answers each varint
 * with a new [value, size] array: on the dispatcher's consuming path that was most of the library's
 * CPU per record and much of the garbage. This reads the same response into the same objects
 * (test/unit/core/event-log/platformatic/fetch-response.test.ts compares them with the library's)
 * with plain Buffer reads. A compressed batch is the library's to read.
 *
 *   Fetch v17  throttle_time_ms error_code session_id [topic_id [partition error_code high_watermark
 *              last_stable_offset log_start_offset [producer_id first_offset TAG]
 *              preferred_read_replica records TAG] TAG] TAG
 */

/** RecordBatch v2: baseOffset and length come before the rest of a batch. */
const BATCH_HEAD = 12;
const COMPRESSION = 0x07;
/** timestampDelta is 0 for every record of a batch written at once (our producers' case): no BigInt to make. */
const ZERO = 0n;

class FlatReader {
  constructor(
    readonly buffer: Buffer,
    public at: number,
  ) {}

  int8(): number {
    return this.buffer.readInt8(this.at++);
  }

  int16(): number {
    const value = this.buffer.readInt16BE(this.at);
    this.at += 2;
    return value;
  }

  int32(): number {
    const value = this.buffer.readInt32BE(this.at);
    this.at += 4;
    return value;
  }

  uint32(): number {
    const value = this.buffer.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }

  int64(): bigint {
    const value = this.buffer.readBigInt64BE(this.at);
    this.at += 8;
    return value;
  }

  /** As the library reads it (its values fit in 32 bits; a longer one wraps alike). */
  unsignedVarInt(): number {
    const buffer = this.buffer;
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      if (this.at >= buffer.length) throw new RangeError('past the end of the response');
      byte = buffer[this.at++]!;
      value += (byte & 0x7f) << shift;
      shift += 7;
    } while (byte >= 0x80);
    return value;
  }

  varInt(): number {
    const value = this.unsignedVarInt();
    return (value >>> 1) ^ -(value & 1);
  }

  varLong(): bigint {
    const buffer = this.buffer;
    const start = this.at;
    // One byte, the common case (small deltas): no BigInt arithmetic.
    const first = buffer[start]!;
    if (first < 0x80) {
      this.at++;
      const value = (first >>> 1) ^ -(first & 1);
      return value === 0 ? ZERO : BigInt(value);
    }
    let value = 0n;
    let shift = 0n;
    let byte: number;
    do {
      if (this.at >= buffer.length) throw new RangeError('past the end of the response');
      byte = buffer[this.at++]!;
      value |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
    } while (byte >= 0x80);
    return (value >> 1n) ^ -(value & 1n);
  }

  /** A record's key, value or header part: a view of the response, empty when absent (length -1), as the library reads it. */
  varIntBytes(): Buffer {
    let length = this.varInt();
    if (length === -1) length = 0;
    const start = this.at;
    this.at += length;
    if (this.at > this.buffer.length) throw new RangeError('past the end of the response');
    return this.buffer.subarray(start, this.at);
  }

  uuid(): string {
    const hex = this.buffer.toString('hex', this.at, this.at + 16);
    this.at += 16;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** A compact array's length; -1 for null. */
  compactLength(): number {
    return this.unsignedVarInt() - 1;
  }

  /** A tagged-field section, as Kafka writes it (see tagged-fields.ts). */
  taggedFields(): void {
    const count = this.unsignedVarInt();
    for (let i = 0; i < count; i++) {
      this.unsignedVarInt(); // the tag
      const size = this.unsignedVarInt();
      this.at += size;
    }
  }
}

export function parseFetchResponse(correlationId: number, apiKey: number, apiVersion: number, reader: Reader): FetchResponse {
  try {
    return parseFlat(apiKey, apiVersion, reader);
  } catch (error) {
    // A response shorter than it says: the library's error for it (Buffer reads throw RangeError).
    if (error instanceof RangeError) throw new OutOfBoundsError('Out of bounds.', { correlationId });
    throw error;
  }
}

function parseFlat(apiKey: number, apiVersion: number, reader: Reader): FetchResponse {
  // The response as one Buffer: a view when it came in one socket read, else one copy of it.
  const r = new FlatReader(reader.buffer.buffer, reader.position);
  const errors: [string, number][] = [];
  const throttleTimeMs = r.int32();
  const errorCode = r.int16();
  if (errorCode !== 0) errors.push(['', errorCode]);
  const sessionId = r.int32();
  const responses: FetchResponse['responses'] = [];
  const topics = Math.max(0, r.compactLength());
  for (let i = 0; i < topics; i++) {
    const topicId = r.uuid();
    const partitions: FetchResponsePartition[] = [];
    const count = Math.max(0, r.compactLength());
    for (let j = 0; j < count; j++) {
      const partitionIndex = r.int32();
      const partitionError = r.int16();
      const highWatermark = r.int64();
      const lastStableOffset = r.int64();
      const logStartOffset = r.int64();
      const abortedTransactions: FetchResponsePartition['abortedTransactions'] = [];
      const aborted = Math.max(0, r.compactLength());
      for (let k = 0; k < aborted; k++) {
        abortedTransactions.push({ producerId: r.int64(), firstOffset: r.int64() });
        r.taggedFields();
      }
      const partition: FetchResponsePartition = { partitionIndex, errorCode: partitionError, highWatermark, lastStableOffset, logStartOffset, abortedTransactions, preferredReadReplica: r.int32() };
      if (partitionError !== 0) errors.push([`/responses/${i}/partitions/${j}`, partitionError]);
      const recordsSize = r.unsignedVarInt() - 1;
      if (recordsSize > 0) {
        partition.records = readBatches(r.buffer.subarray(r.at, r.at + recordsSize));
        r.at += recordsSize;
      }
      r.taggedFields();
      partitions.push(partition);
    }
    r.taggedFields();
    responses.push({ topicId, partitions });
  }
  const response: FetchResponse = { throttleTimeMs, errorCode, sessionId, responses };
  if (errors.length > 0) throw new ResponseError(apiKey, apiVersion, Object.fromEntries(errors), response);
  return response;
}

/** The whole batches in `records` (a fetch may end in part of one, which is left for the next). */
function readBatches(records: Buffer): RecordsBatch[] {
  const batches: RecordsBatch[] = [];
  const r = new FlatReader(records, 0);
  while (records.length - r.at >= BATCH_HEAD && records.length - r.at - BATCH_HEAD >= records.readInt32BE(r.at + 8)) {
    const start = r.at;
    const end = start + BATCH_HEAD + records.readInt32BE(start + 8);
    if ((records.readInt16BE(start + 21) & COMPRESSION) !== 0) {
      batches.push(readRecordsBatch(Reader.from(records.subarray(start, end))));
      r.at = end;
      continue;
    }
    const batch: RecordsBatch = {
      firstOffset: r.int64(),
      length: r.int32(),
      partitionLeaderEpoch: r.int32(),
      magic: r.int8(),
      crc: r.uint32(),
      attributes: r.int16(),
      lastOffsetDelta: r.int32(),
      firstTimestamp: r.int64(),
      maxTimestamp: r.int64(),
      producerId: r.int64(),
      producerEpoch: r.int16(),
      firstSequence: r.int32(),
      records: [],
    };
    const count = r.int32();
    for (let i = 0; i < count; i++) batch.records.push(readRecord(r));
    batches.push(batch);
  }
  return batches;
}

function readRecord(r: FlatReader): KafkaRecord {
  const length = r.varInt();
  const attributes = r.int8();
  const timestampDelta = r.varLong();
  const offsetDelta = r.varInt();
  const key = r.varIntBytes();
  const value = r.varIntBytes();
  const count = r.varInt();
  const headers: [Buffer, Buffer][] = [];
  for (let i = 0; i < count; i++) headers.push([r.varIntBytes(), r.varIntBytes()]);
  return { length, attributes, timestampDelta, offsetDelta, key, value, headers };
}

/** Fetch v17 with the library's request and the response read by parseFetchResponse. */
const fetchFromOneBuffer = createAPI(1, 17, fetchV17.createRequest, parseFetchResponse);

/** Has `consumer` read its Fetch v17 responses with parseFetchResponse (see answerApiLookUp). */
export function readFetchFromOneBuffer(consumer: Consumer): void {
  answerApiLookUp(consumer, fetchV17.api, fetchFromOneBuffer);
}
