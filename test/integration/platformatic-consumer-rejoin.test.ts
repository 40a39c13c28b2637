import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { KafkaAdmin, type TopicOffsets } from '../../core/event-log/kafka/admin.js';
import { PlatformaticGroupConsumer } from '../../core/event-log/platformatic/consumer.js';
import type { ConsumedRecord, StartPosition } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { kafkaBootstrapServers, kafkaEventLog, testWriter } from '../helpers/kafka.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';

/**
 * A member that is handed partitions at a rejoin, while it consumes others, reads where each
 * starts; when that fails part way (Kafka away a moment) it tries again. What it started in the
 * first try and has handed records of must be kept, not started over: else those records come
 * out twice, and their slots are never freed.
 */

/** The real admin, with reads of the log's offsets failing while `failures` is above zero; group positions left as set. */
class FlakyAdmin extends KafkaAdmin {
  failures = 0;

  override async topicOffsets(admin: Admin, topic: string): Promise<TopicOffsets> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('the log offsets are not readable right now');
    }
    return super.topicOffsets(admin, topic);
  }

  // The test sets the group's positions itself: two partitions committed, two never.
  override async initGroup(_groupId: string, _topic: string, _position: StartPosition): Promise<void> {}
}

test('partitions placed before a failed attempt at a rejoin keep their records out: none handed out twice', { timeout: 120_000 }, async (t) => {
  const log = kafkaEventLog(t, 'plt-rejoin', 'platformatic');
  const topic = uniqueName('rejoin');
  const groupId = uniqueName('g');
  await log.ensureTopic(topic, { partitions: 4, replicationFactor: 1 });
  // Partitions 0 and 1 hold records and have committed positions; 2 and 3 are empty and have none.
  const kafka = new Kafka({ clientId: 'rejoin-writer', brokers: kafkaBootstrapServers(), logLevel: logLevel.NOTHING });
  const producer = testWriter(kafka);
  await producer.connect();
  await producer.send({ topic, messages: [0, 1].flatMap((partition) => Array.from({ length: 5 }, (_, i) => ({ partition, value: `p${partition}-${i}` }))) });
  await producer.disconnect();
  await log.setGroupOffsets!(groupId, topic, [{ partition: 0, offset: '0' }, { partition: 1, offset: '0' }]);

  const member = (name: string): { consumer: PlatformaticGroupConsumer; admin: FlakyAdmin; records: ConsumedRecord[] } => {
    const admin = new FlakyAdmin(new Kafka({ clientId: `rejoin-${name}`, brokers: kafkaBootstrapServers(), logLevel: logLevel.NOTHING }));
    t.after(() => admin.close());
    const records: ConsumedRecord[] = [];
    // Records are never done: whatever is handed out stays out.
    const consumer = new PlatformaticGroupConsumer({ brokers: kafkaBootstrapServers(), clientId: `rejoin-${name}` }, admin, { groupId, topics: [topic], onRecord: (r) => records.push(r) }, silentLogger(), () => {});
    return { consumer, admin, records };
  };
  const a = member('a');
  await a.consumer.start();
  let aClosed = false;
  t.after(() => (aClosed ? undefined : a.consumer.close()));
  const b = member('b');
  await b.consumer.start();
  t.after(() => b.consumer.close());
  // Round robin over two members: each has one partition with records and one without.
  await waitUntil(() => a.records.length >= 5 && b.records.length >= 5, { timeoutMs: 30_000, message: 'each member has its partition\'s records' });

  // A leaves; at the rejoin B is handed A's two partitions, and reading the log start for the
  // uncommitted one fails for a while: the committed one was placed, and is being consumed.
  b.admin.failures = 3;
  await a.consumer.close();
  aClosed = true;
  await waitUntil(() => b.records.length >= 10, { timeoutMs: 30_000, message: 'B has every record' });
  await waitUntil(() => b.admin.failures === 0, { timeoutMs: 30_000, message: 'the failed attempts were made' });
  // Time for a second start of the partition to hand its records out again.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const seen = b.records.map((r) => `${r.partition}:${r.offset}`);
  assert.deepEqual(seen.filter((s, i) => seen.indexOf(s) !== i), [], 'no record handed out twice');
  assert.equal(new Set(seen).size, 10, `records handed out: ${seen.join(" ")}`);
});
