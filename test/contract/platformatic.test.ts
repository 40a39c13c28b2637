import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { ConsumedRecord } from '../../core/event-log/port.js';
import { kafkaBootstrapServers, kafkaEventLog } from '../helpers/kafka.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { describeEventLog } from './event-log.suite.js';

// The Kafka adapter with appends and consumer groups on @platformatic/kafka (admin on kafkajs).
describeEventLog('kafka (platformatic client)', { timeoutMs: 45_000, create: (t) => kafkaEventLog(t, 'contract-suite-plt', 'platformatic') });

// Beyond the contract: how this consumer spreads its in-flight bound over partitions.
describe('platformatic consumer: hand-out across partitions', () => {
  test('at the bound, every partition with records has some out, and a freed slot costs no refetch', { timeout: 60_000 }, async (t) => {
    const log = kafkaEventLog(t, 'plt-spread', 'platformatic');
    const topic = uniqueName('spread');
    await log.ensureTopic(topic, { partitions: 4, replicationFactor: 1 });
    // Keyed, so the records spread over the partitions.
    await log.append(topic, Array.from({ length: 100 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(String(i)) })));
    const records: ConsumedRecord[] = [];
    const consumer = await log.consume({ groupId: uniqueName('g'), topics: [topic], start: 'earliest', maxInFlight: 8, onRecord: (r) => records.push(r) });
    t.after(() => consumer.close());
    await waitUntil(() => records.length === 8, { timeoutMs: 30_000, message: '8 records out' });
    // An ordered dispatcher delivers one record per partition at a time: all 4 must have work.
    const first = new Set(records.map((r) => r.partition));
    // Done one at a time, synchronously in order: every slot is refilled at once from what was fetched.
    const started = performance.now();
    for (let i = 0; i < 100 - 8; i++) {
      const before = records.length;
      records[i]!.done();
      if (records.length === before) await waitUntil(() => records.length > before, { timeoutMs: 10_000, message: `record ${before + 1}` });
    }
    assert.equal(records.length, 100);
    const used = new Set(records.map((r) => r.partition));
    assert.deepEqual(first, used, 'records of every partition that has any were among the first out');
    for (const p of used) {
      const offsets = records.filter((r) => r.partition === p).map((r) => Number(r.offset));
      assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${p} in order, nothing twice`);
    }
    // 92 round trips of the fetch wait (250 ms) would take over 20 s; refills from the buffer take none.
    assert.ok(performance.now() - started < 10_000, `refilled in ${(performance.now() - started).toFixed(0)} ms`);
  });
});

// Beyond the contract: a topic that transactional producers write to (an external topic, a
// KafkaSource's): read committed, as kafkajs reads it.
describe('platformatic consumer: transactions', () => {
  for (const client of ['platformatic', 'kafkajs'] as const) {
    test(`${client}: hands out (and reads without a group) committed records only, never an aborted one or a transaction marker, and commits past them`, { timeout: 60_000 }, async (t) => {
      const log = kafkaEventLog(t, `plt-txn-${client}`, client);
      const topic = uniqueName('txn');
      await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
      const kafka = new Kafka({ clientId: 'txn-writer', brokers: kafkaBootstrapServers(), logLevel: logLevel.NOTHING });
      const producer = kafka.producer({ transactionalId: uniqueName('txn-writer'), idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      t.after(() => producer.disconnect());
      const write = async (values: string[], outcome: 'commit' | 'abort'): Promise<void> => {
        const txn = await producer.transaction();
        await txn.send({ topic, messages: values.map((value) => ({ value })) });
        await txn[outcome]();
      };
      await write(['c1', 'c2'], 'commit'); // offsets 0, 1; marker 2
      await write(['a1', 'a2'], 'abort'); // 3, 4; marker 5
      await write(['c3'], 'commit'); // 6; marker 7
      await log.append(topic, [{ value: Buffer.from('p1') }]); // 8, outside any transaction

      const records: ConsumedRecord[] = [];
      const groupId = uniqueName('g');
      const consumer = await log.consume({ groupId, topics: [topic], start: 'earliest', commitIntervalMs: 100_000, onRecord: (r) => {
        records.push(r);
        r.done();
      } });
      let closed = false;
      t.after(() => (closed ? undefined : consumer.close()));
      await waitUntil(() => records.some((r) => r.value?.toString() === 'p1'), { timeoutMs: 30_000, message: 'the record after the transactions' });
      // A moment for anything that should not be there to arrive too.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(records.map((r) => [r.offset, r.value?.toString()]), [['0', 'c1'], ['1', 'c2'], ['6', 'c3'], ['8', 'p1']]);
      await consumer.close();
      closed = true;
      const lag = await log.groupLag!(groupId, [topic]);
      assert.deepEqual(lag.map((l) => [l.committed, l.end]), [['9', '9']]);
      // `tail` and the dead-letter pages read the same way, without a group.
      const read: string[] = [];
      for await (const r of log.read(topic)) read.push(`${r.offset}:${r.value?.toString()}`);
      assert.deepEqual(read, ['0:c1', '1:c2', '6:c3', '8:p1']);
    });
  }
});
