import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRecordsBatch, DynamicBuffer, fetchV17, NumericMap, Reader, type MessageRecord } from '@platformatic/kafka';
// Both readers read tagged fields as Kafka writes them (the adapter's fix, applied on load).
import '../../../../../core/event-log/platformatic/client.js';
import { parseFetchResponse } from '../../../../../core/event-log/platformatic/fetch-response.js';

/* Fetch v17 responses built by hand from the library's own record batches, read by both readers. */

const u32 = (n: number): Buffer => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const i16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const i64 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
};
function uvarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
const NO_TAGS = Buffer.from([0]);
/** A tagged-field section with one field (as Kafka sends a partition's new leader). */
const ONE_TAG = Buffer.concat([Buffer.from([1, 0, 3]), Buffer.from([7, 8, 9])]);

interface PartitionSpec {
  readonly index: number;
  readonly error?: number;
  readonly aborted?: readonly [bigint, bigint][];
  readonly records: Buffer;
  readonly tags?: Buffer;
}

function response(topics: readonly { id: string; partitions: readonly PartitionSpec[] }[], errorCode = 0): Buffer {
  const parts: Buffer[] = [u32(0), i16(errorCode), u32(77), uvarint(topics.length + 1)];
  for (const topic of topics) {
    parts.push(Buffer.from(topic.id.replaceAll('-', ''), 'hex'), uvarint(topic.partitions.length + 1));
    for (const p of topic.partitions) {
      parts.push(u32(p.index), i16(p.error ?? 0), i64(1000n), i64(990n), i64(5n));
      const aborted = p.aborted ?? [];
      parts.push(uvarint(aborted.length + 1));
      for (const [producerId, firstOffset] of aborted) parts.push(i64(producerId), i64(firstOffset), NO_TAGS);
      parts.push(u32(0xffffffff), uvarint(p.records.length + 1), p.records, p.tags ?? NO_TAGS);
    }
    parts.push(NO_TAGS);
  }
  parts.push(NO_TAGS);
  return Buffer.concat(parts);
}

const h = (entries: Record<string, string>): Map<Buffer, Buffer> => new Map(Object.entries(entries).map(([k, v]) => [Buffer.from(k), Buffer.from(v)]));

function batch(messages: readonly Omit<MessageRecord, 'topic'>[], options: Parameters<typeof createRecordsBatch>[1] = {}, firstOffset = 0n): Buffer {
  const bytes = Buffer.from(createRecordsBatch(messages.map((m) => ({ topic: 't', partition: 0, ...m })), options).buffer);
  bytes.writeBigInt64BE(firstOffset, 0); // Kafka writes the base offset the producer left at 0
  return bytes;
}

const events = Array.from({ length: 40 }, (_, i) => ({
  key: i % 3 === 0 ? Buffer.from(`k${i}`) : undefined,
  value: Buffer.alloc(i * 13, 'v'),
  headers: h({ ce_id: `e-${i}`, ce_source: '/s', ce_type: 't', ce_specversion: '1.0', 'content-type': 'application/octet-stream' }),
  timestamp: 1_700_000_000_000n + BigInt(i % 5 === 0 ? -i * 1000 : i),
}));
const idempotent = { producerId: 42n, producerEpoch: 2, sequences: new NumericMap() };

const cases: { name: string; body: Buffer }[] = [
  { name: 'one topic, one partition, one batch', body: response([{ id: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', partitions: [{ index: 0, records: batch(events.slice(0, 5), idempotent, 100n) }] }]) },
  {
    name: 'several batches, partitions and topics; aborted transactions; a trailing part-batch; tagged fields',
    body: response([
      {
        id: '11111111-2222-3333-4444-555555555555',
        partitions: [
          { index: 2, records: Buffer.concat([batch(events.slice(0, 20), idempotent, 7n), batch(events.slice(20), {}, 27n), batch(events.slice(0, 3)).subarray(0, 30)]), tags: ONE_TAG },
          { index: 0, aborted: [[9n, 3n], [10n, 4n]], records: batch(events.slice(5, 9), { ...idempotent, transactionalId: 'tx' }, 3n) },
          { index: 1, records: Buffer.alloc(0) },
        ],
      },
      { id: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', partitions: [{ index: 5, records: batch([{ value: Buffer.alloc(0) }]) }] },
    ]),
  },
  { name: 'a compressed batch among plain ones', body: response([{ id: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', partitions: [{ index: 0, records: Buffer.concat([batch(events.slice(0, 4)), batch(events.slice(4, 12), { compression: 'gzip' }, 4n), batch(events.slice(12, 14), {}, 12n)]) }] }]) },
  { name: 'no topics', body: response([]) },
];

/** The response as the connection hands it over: a reader over the chunks the socket delivered. */
function chunked(body: Buffer, size: number): Reader {
  const chunks: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) chunks.push(body.subarray(at, at + size));
  return new Reader(new DynamicBuffer(chunks));
}

for (const { name, body } of cases) {
  test(`a Fetch v17 response reads into the same objects as the library's: ${name}`, () => {
    const theirs = fetchV17.parseResponse(1, 1, 17, chunked(body, body.length));
    for (const size of [body.length, 1000, 97, 7]) {
      assert.deepEqual(parseFetchResponse(1, 1, 17, chunked(body, size)), theirs, `read from chunks of ${size} bytes`);
    }
  });
}

test('record parts are views of the response, not copies', () => {
  const body = cases[0]!.body;
  const parsed = parseFetchResponse(1, 1, 17, Reader.from(body));
  const value = parsed.responses[0]!.partitions[0]!.records![0]!.records[1]!.value;
  assert.equal(value.buffer, body.buffer);
});

test('a partition error is the library\'s ResponseError, carrying the response read', () => {
  const body = response([{ id: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', partitions: [{ index: 0, error: 1, records: Buffer.alloc(0) }, { index: 1, records: batch(events.slice(0, 2)) }] }]);
  const theirs = (() => {
    try {
      fetchV17.parseResponse(1, 1, 17, Reader.from(body));
    } catch (error) {
      return error as { code: string; errors: { path: string; code: string }[]; response: unknown };
    }
    return assert.fail('the library read it without an error');
  })();
  assert.throws(() => parseFetchResponse(1, 1, 17, Reader.from(body)), (error: typeof theirs) => {
    assert.equal(error.code, theirs.code);
    assert.deepEqual(error.errors.map((e) => [e.path, e.code]), theirs.errors.map((e) => [e.path, e.code]));
    assert.deepEqual(error.response, theirs.response);
    return true;
  });
});

test('a response cut short is an out-of-bounds error, as with the library', () => {
  const body = cases[0]!.body;
  const cut = body.subarray(0, 30);
  assert.throws(() => fetchV17.parseResponse(1, 1, 17, Reader.from(cut)), { code: 'PLT_KFK_OUT_OF_BOUNDS' });
  assert.throws(() => parseFetchResponse(1, 1, 17, Reader.from(cut)), { code: 'PLT_KFK_OUT_OF_BOUNDS' });
});
