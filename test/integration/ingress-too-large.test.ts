/**
 * What can never be accepted is a 413 with a sentence, not a 503 a producer retries forever
 * (issue 14, item 4), on both logs:
 *  - a batch with more events than maxInFlightEvents;
 *  - an event larger than a record may be: checked up front against maxRecordBytes, and on Kafka
 *    also Kafka's own answer (MESSAGE_TOO_LARGE from a topic with a smaller max.message.bytes),
 *    mapped by its error type.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeBroker } from '../helpers/builders.js';
import { kafkaEventLog } from '../helpers/kafka.js';
import { uniqueName } from '../helpers/wait.js';
import { ceHeaders, logFactories, readAll, startTestIngress } from '../unit/broker-ingress/fixtures.js';

const KiB = 1024;

const batchOf = (n: number): string =>
  JSON.stringify(Array.from({ length: n }, (_, i) => ({ specversion: '1.0', id: uniqueName(`batch-${i}`), source: '/batch', type: 'test.batch', data: { i } })));
const batchHeaders = { 'content-type': 'application/cloudevents-batch+json' };

for (const factory of logFactories) {
  describe(`too large for the ${factory.name} log`, () => {
    test('a batch with more events than maxInFlightEvents is 413 BATCH_TOO_LARGE; one that fits is 202', async (t) => {
      const log = factory.create(t);
      const { post, path, topic } = await startTestIngress(t, log, { config: { maxInFlightEvents: 3 } });
      const tooMany = await post(path, batchHeaders, batchOf(4));
      assert.equal(tooMany.status, 413);
      assert.equal(tooMany.json()['code'], 'BATCH_TOO_LARGE');
      assert.match(String(tooMany.json()['message']), /4 events, more than the 3 .* smaller batches/);
      assert.equal(tooMany.headers['retry-after'], undefined, 'nothing to retry');
      assert.equal((await readAll(log, topic)).length, 0);
      assert.equal((await post(path, batchHeaders, batchOf(3))).status, 202);
      assert.equal((await readAll(log, topic)).length, 3);
    });

    test('an event larger than maxRecordBytes is 413 EVENT_TOO_LARGE before it reaches the log', async (t) => {
      const log = factory.create(t);
      const { post, path, topic } = await startTestIngress(t, log, { config: { maxRecordBytes: 8 * KiB } });
      const big = await post(path, ceHeaders({ 'content-type': 'application/octet-stream' }), Buffer.alloc(9 * KiB, 1));
      assert.equal(big.status, 413);
      assert.equal(big.json()['code'], 'EVENT_TOO_LARGE');
      assert.match(String(big.json()['message']), /more than the 8192 a record may be/);
      // In a batch, the event is named by its index.
      const events = [{ specversion: '1.0', id: 'ok', source: '/s', type: 't' }, { specversion: '1.0', id: 'big', source: '/s', type: 't', data: 'x'.repeat(9 * KiB) }];
      const batch = await post(path, batchHeaders, JSON.stringify(events));
      assert.equal(batch.status, 413);
      assert.match(String(batch.json()['message']), /^batch event 1 is too large/);
      assert.equal((await readAll(log, topic)).length, 0, 'nothing of either was appended');
      assert.equal((await post(path, ceHeaders(), JSON.stringify({ pad: 'x'.repeat(6 * KiB) }))).status, 202);
    });
  });
}

describe('too large for the topic on Kafka', () => {
  test("Kafka's MESSAGE_TOO_LARGE is 413 EVENT_TOO_LARGE; events that fit, sent alongside, are 202", async (t) => {
    const log = kafkaEventLog(t, 'ingress-too-large');
    const broker = makeBroker(uniqueName('small-records').toLowerCase(), [], {}, 'ns');
    await log.ensureTopic(broker.topics[0]!, { partitions: 2, replicationFactor: 1, config: { 'max.message.bytes': String(16 * KiB) } });
    const { post, path, topic } = await startTestIngress(t, log, { resources: [broker] });

    const big = post(path, ceHeaders({ 'ce-id': 'big', 'content-type': 'application/octet-stream' }), Buffer.alloc(32 * KiB, 2));
    const small = Array.from({ length: 5 }, (_, i) => post(path, ceHeaders({ 'ce-id': `small-${i}` }), JSON.stringify({ i })));
    const refused = await big;
    assert.equal(refused.status, 413, refused.body);
    assert.equal(refused.json()['code'], 'EVENT_TOO_LARGE');
    assert.deepEqual((refused.json()['details'] as Record<string, unknown>)['kafkaError'], 'MESSAGE_TOO_LARGE');
    assert.match(String(refused.json()['message']), /raise the topic's max\.message\.bytes/);
    assert.deepEqual((await Promise.all(small)).map((r) => r.status), [202, 202, 202, 202, 202]);
    // Appends sent in one produce with the big one fail with it and are tried again, so one may be
    // on the topic twice (at least once, as after any failed produce); the big one never is.
    const ids = new Set((await readAll(log, topic)).map((r) => r.headers['ce_id']?.toString()));
    assert.deepEqual([...ids].sort(), ['small-0', 'small-1', 'small-2', 'small-3', 'small-4']);
  });
});
