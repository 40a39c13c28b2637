import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consumerTopic } from '../helpers/platformatic-consumer.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * A consumed record's key, value and header values are views of its whole Fetch response
 * (fetch-response.ts); `detach` gives the record copies of its own, the same bytes, so that a
 * record kept for long (a waiting delivery) keeps only those alive.
 */
test('a consumed record is views of its Fetch response until detach() gives it bytes of its own', { timeout: 60_000 }, async (t) => {
  const { topic, writer, consume } = await consumerTopic(t, 'detach');

  // 200 records of 2 KiB in one batch: one fetch of ~400 KiB, each record a small part of it.
  const messages = Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(2048, i % 256), headers: { ce_id: `id-${i}`, 'content-type': 'application/octet-stream' } }));
  await writer.send({ topic, acks: -1, messages });

  const { records: seen } = await consume({ maxInFlight: 500 });
  await waitUntil(() => seen.length === 200, { message: 'all records consumed' });

  const record = seen[7]!;
  assert.ok(record.value!.buffer.byteLength > 100 * 1024, `the value is a view of ${record.value!.buffer.byteLength} bytes`);
  const response = record.value!.buffer;
  const before = { key: Buffer.from(record.key!), value: Buffer.from(record.value!), headers: Object.entries(record.headers).map(([n, v]) => [n, Buffer.from(v)]) };
  const headers = record.headers;
  assert.ok(record.detach !== undefined, 'the platformatic record can detach');
  record.detach();
  for (const bytes of [record.key!, record.value!, ...Object.values(record.headers)]) {
    assert.notEqual(bytes.buffer, response);
    assert.ok(bytes.buffer.byteLength <= Math.max(Buffer.poolSize, 2 * bytes.length), `${bytes.length} bytes keep ${bytes.buffer.byteLength} alive`);
  }
  assert.deepEqual(record.key, before.key);
  assert.deepEqual(record.value, before.value);
  assert.deepEqual(Object.entries(record.headers), before.headers);
  assert.equal(record.headers, headers, 'the same headers object, its values replaced');
  // Another record of the same fetch is left as it was.
  assert.equal(seen[8]!.value!.buffer, response);
  for (const r of seen) r.done();
});
