import { createAPI, crc32c, DynamicBuffer, produceV11, Writer, type CreateRecordsBatchOptions, type MessageRecord, type Producer } from '@platformatic/kafka';
import { answerApiLookUp } from './api-lookup.js';

/*
 * A Produce request (v11) written into one buffer. @platformatic/kafka (1.22) builds each record
 * from a dozen buffers of a few bytes (one per varint and per integer), then joins them twice (for
 * the CRC, then for the socket): on the broker's append path that was most of the library's CPU and
 * a third of the garbage per record. This writes the same bytes (test/unit/platformatic-produce-
 * request.test.ts compares them with the library's, field for field) after measuring them, in one
 * allocation. A request it does not cover (transactions, compression, keys or values that are not
 * Buffers) is the library's own.
 *
 *   Produce v11  transactional_id acks timeout_ms [name [index records TAG] TAG] TAG
 *   records      RecordBatch v2: baseOffset length leaderEpoch magic crc | attributes ... [record]
 *   record       length attributes timestampDelta offsetDelta key value [header key value]
 */

type Options = Partial<CreateRecordsBatchOptions>;

/** RecordBatch v2 up to its first record: 8+4+4+1+4 (to the CRC's end), then 2+4+8+8+8+2+4+4. */
const BATCH_HEAD_BYTES = 61;
/** Where the CRC's data starts in a batch: after baseOffset, length, leaderEpoch, magic and the CRC itself. */
const CRC_START = 21;
const MAGIC = 2;
/** Parts up to this many bytes are copied byte by byte (measured: Buffer#copy costs ~0.1 µs a call). */
const SMALL_COPY = 32;

interface Batch {
  readonly partition: number;
  readonly messages: MessageRecord[];
  /** Each record's size from its attributes on (its length prefix excluded), measured once. */
  readonly bodies: number[];
  readonly bytes: number;
}

export function createProduceRequest(acks: number | undefined, timeout: number | undefined, messages: MessageRecord[], options: Options = {}): Writer {
  const fallBack = (): Writer => produceV11.createRequest(acks, timeout, messages, options);
  if ((options.transactionalId !== undefined && options.transactionalId !== null) || (options.compression ?? 'none') !== 'none') return fallBack();
  const topics = new Map<string, Map<number, MessageRecord[]>>();
  for (const message of messages) {
    let partitions = topics.get(message.topic);
    if (partitions === undefined) topics.set(message.topic, (partitions = new Map()));
    const partition = message.partition ?? 0;
    const list = partitions.get(partition);
    if (list === undefined) partitions.set(partition, [message]);
    else list.push(message);
  }
  const now = BigInt(Date.now());
  // Measure first: names, batch sizes, then the whole.
  const names: Buffer[] = [];
  const batches: Batch[][] = [];
  let size = 1 + 2 + 4 + unsignedVarIntBytes(topics.size + 1) + 1;
  for (const [topic, partitions] of topics) {
    const name = Buffer.from(topic, 'utf8');
    names.push(name);
    const list: Batch[] = [];
    // The library sends a topic's partitions in ascending order; so does this.
    for (const partition of [...partitions.keys()].sort((a, b) => a - b)) {
      const batch = measureBatch(partition, partitions.get(partition)!, now);
      if (batch === undefined) return fallBack();
      list.push(batch);
      size += 4 + unsignedVarIntBytes(batch.bytes + 1) + batch.bytes + 1;
    }
    batches.push(list);
    size += unsignedVarIntBytes(name.length + 1) + name.length + unsignedVarIntBytes(list.length + 1) + 1;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  out[at++] = 0; // transactional_id: null
  at = out.writeInt16BE(acks ?? 1, at);
  at = out.writeInt32BE(timeout ?? 0, at);
  at = writeUnsignedVarInt(out, at, topics.size + 1);
  for (let t = 0; t < names.length; t++) {
    const name = names[t]!;
    at = writeUnsignedVarInt(out, at, name.length + 1);
    at += name.copy(out, at);
    at = writeUnsignedVarInt(out, at, batches[t]!.length + 1);
    for (const batch of batches[t]!) {
      at = out.writeInt32BE(batch.partition, at);
      at = writeUnsignedVarInt(out, at, batch.bytes + 1);
      at = writeBatch(out, at, batch, now, options);
      out[at++] = 0; // the partition's tagged fields
    }
    out[at++] = 0; // the topic's tagged fields
  }
  out[at] = 0; // the request's tagged fields
  const writer = new Writer(new DynamicBuffer(out));
  if (acks === 0) writer.context.noResponse = true;
  return writer;
}

const isBytes = (value: unknown): value is Buffer | undefined | null => value === undefined || value === null || Buffer.isBuffer(value);

/** The length a record's key, value or header part takes: the library writes a missing one as empty (length 0). */
const lengthOf = (bytes: Buffer | undefined | null): number => (bytes === undefined || bytes === null ? 0 : bytes.length);

/** A record's timestamp from the batch's first: no BigInt made for the usual 0 (every record stamped "now"). */
function deltaOf(record: MessageRecord, now: bigint, first: bigint): bigint {
  const ts = record.timestamp ?? now;
  return ts === first ? 0n : ts - first;
}

function timestampsOf(records: readonly MessageRecord[], now: bigint): { first: bigint; max: bigint } {
  const first = records[0]!.timestamp ?? now;
  let max = first;
  for (const record of records) {
    const ts = record.timestamp ?? now;
    if (ts > max) max = ts;
  }
  return { first, max };
}

/**
 * A record's size from its attributes on; -1 when this does not write it (not Buffers, a
 * timestamp that is not a bigint: the library converts those).
 */
function recordBodyBytes(record: MessageRecord, offsetDelta: number, timestampDelta: bigint): number {
  const { key, value, headers } = record;
  if (!isBytes(key) || !isBytes(value)) return -1;
  const keyLength = lengthOf(key);
  const valueLength = lengthOf(value);
  let bytes = 1 + varLongBytes(timestampDelta) + varIntBytes(offsetDelta) + varIntBytes(keyLength) + keyLength + varIntBytes(valueLength) + valueLength;
  if (headers === undefined) return bytes + 1;
  if (!(headers instanceof Map)) return -1;
  bytes += varIntBytes(headers.size);
  for (const [name, headerValue] of headers) {
    if (!Buffer.isBuffer(name) || !Buffer.isBuffer(headerValue)) return -1;
    bytes += varIntBytes(name.length) + name.length + varIntBytes(headerValue.length) + headerValue.length;
  }
  return bytes;
}

function measureBatch(partition: number, messages: MessageRecord[], now: bigint): Batch | undefined {
  for (const message of messages) if (message.timestamp !== undefined && typeof message.timestamp !== 'bigint') return undefined;
  const { first } = timestampsOf(messages, now);
  const bodies: number[] = [];
  let bytes = BATCH_HEAD_BYTES;
  for (let i = 0; i < messages.length; i++) {
    const body = recordBodyBytes(messages[i]!, i, deltaOf(messages[i]!, now, first));
    if (body < 0) return undefined;
    bodies.push(body);
    bytes += varIntBytes(body) + body;
  }
  return { partition, messages, bodies, bytes };
}

function writeBatch(out: Buffer, start: number, { messages: records, bodies }: Batch, now: bigint, options: Options): number {
  const { first, max } = timestampsOf(records, now);
  let at = out.writeBigInt64BE(0n, start); // baseOffset: Kafka assigns it
  const lengthAt = at;
  at += 4;
  at = out.writeInt32BE(options.partitionLeaderEpoch ?? 0, at);
  out[at++] = MAGIC;
  at += 4; // the CRC, written last
  const head = records[0]!;
  at = out.writeInt16BE(0, at); // attributes: no compression, not transactional
  at = out.writeInt32BE(records.length - 1, at);
  at = out.writeBigInt64BE(first, at);
  at = out.writeBigInt64BE(max, at);
  at = out.writeBigInt64BE(options.producerId ?? -1n, at);
  at = out.writeInt16BE(options.producerEpoch ?? 0, at);
  at = out.writeInt32BE(options.sequences === undefined ? 0 : options.sequences.getWithDefault(`${head.topic}:${head.partition ?? 0}`, 0), at);
  at = out.writeInt32BE(records.length, at);
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    const timestampDelta = deltaOf(record, now, first);
    at = writeVarInt(out, at, bodies[i]!);
    out[at++] = 0; // record attributes
    at = writeVarLong(out, at, timestampDelta);
    at = writeVarInt(out, at, i);
    at = writeBytes(out, at, record.key);
    at = writeBytes(out, at, record.value);
    const headers = record.headers;
    at = writeVarInt(out, at, headers?.size ?? 0);
    if (headers !== undefined) {
      for (const [name, value] of headers) {
        at = writeBytes(out, at, name);
        at = writeBytes(out, at, value);
      }
    }
  }
  out.writeInt32BE(at - lengthAt - 4, lengthAt);
  out.writeUInt32BE(crc32c(new DynamicBuffer(out.subarray(start + CRC_START, at))), start + CRC_START - 4);
  return at;
}

function writeBytes(out: Buffer, at: number, bytes: Buffer | undefined | null): number {
  if (bytes === undefined || bytes === null) return writeVarInt(out, at, 0);
  const length = bytes.length;
  at = writeVarInt(out, at, length);
  // Header names and most values are a few bytes: a loop costs less than a native copy's call.
  if (length <= SMALL_COPY) {
    for (let i = 0; i < length; i++) out[at + i] = bytes[i]!;
  } else {
    out.set(bytes, at);
  }
  return at + length;
}

function unsignedVarIntBytes(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    bytes++;
  }
  return bytes;
}

/** Zig-zag, as Kafka's varint: small negative numbers stay short. */
const zigZag = (value: number): number => ((value << 1) ^ (value >> 31)) >>> 0;
const varIntBytes = (value: number): number => unsignedVarIntBytes(zigZag(value));

function writeUnsignedVarInt(out: Buffer, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[at++] = value;
  return at;
}

const writeVarInt = (out: Buffer, at: number, value: number): number => writeUnsignedVarInt(out, at, zigZag(value));

const zigZag64 = (value: bigint): bigint => (value << 1n) ^ (value >> 63n);

function varLongBytes(value: bigint): number {
  if (value === 0n) return 1;
  let rest = BigInt.asUintN(64, zigZag64(value));
  let bytes = 1;
  while (rest >= 0x80n) {
    rest >>= 7n;
    bytes++;
  }
  return bytes;
}

function writeVarLong(out: Buffer, at: number, value: bigint): number {
  if (value === 0n) {
    out[at++] = 0;
    return at;
  }
  let rest = BigInt.asUintN(64, zigZag64(value));
  while (rest >= 0x80n) {
    out[at++] = Number(rest & 0x7fn) | 0x80;
    rest >>= 7n;
  }
  out[at++] = Number(rest);
  return at;
}

/** Produce v11 with the request written by createProduceRequest and the response read by the library. */
const produceInOneBuffer = createAPI(0, 11, createProduceRequest, produceV11.parseResponse);

/**
 * Has `producer` write its Produce v11 requests with createProduceRequest (see answerApiLookUp).
 */
export function writeProduceInOneBuffer(producer: Producer): void {
  answerApiLookUp(producer, produceV11.api, produceInOneBuffer);
}
