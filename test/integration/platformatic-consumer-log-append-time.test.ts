import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaAdmin } from '../../core/event-log/kafka/admin.js';
import { PlatformaticGroupConsumer } from '../../core/event-log/platformatic/consumer.js';
import type { ConsumedRecord } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { kafkaBootstrapServers, kafkaEventLog, testWriter } from '../helpers/kafka.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';

/**
 * A topic with message.timestamp.type=LogAppendTime: Kafka stamps the batch's maxTimestamp with
 * the append time and flags the batch (attribute bit 3), leaving the producer's own times in the
 * records. A record's time is then the batch's maxTimestamp, as Kafka's consumer and kafkajs read it.
 */
test('a record of a LogAppendTime topic, consumed or read, carries the time Kafka appended it, not the producer\'s', { timeout: 60_000 }, async (t) => {
  const kafka = new Kafka({ clientId: 'lat-test', brokers: kafkaBootstrapServers(), logLevel: logLevel.NOTHING });
  const topic = uniqueName('log-append-time');
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  t.after(() => kafkaAdmin.disconnect());
  await kafkaAdmin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] }] });
  t.after(() => kafkaAdmin.deleteTopics({ topics: [topic] }).catch(() => undefined));
  const producer = testWriter(kafka);
  await producer.connect();
  t.after(() => producer.disconnect());
  const admin = new KafkaAdmin(new Kafka({ clientId: 'lat-admin', brokers: kafkaBootstrapServers(), logLevel: logLevel.NOTHING }));
  t.after(() => admin.close());

  const before = Date.now();
  // Stamped by the producer in 2001: the log's own time replaces it.
  await producer.send({ topic, acks: -1, messages: [{ value: 'a', timestamp: '1000000000000' }, { value: 'b', timestamp: '1000000000005' }] });
  const after = Date.now();

  const seen: ConsumedRecord[] = [];
  const consumer = new PlatformaticGroupConsumer({ brokers: kafkaBootstrapServers(), clientId: 'lat' }, admin, {
    groupId: uniqueName('g'), topics: [topic], start: 'earliest',
    onRecord: (record) => {
      seen.push(record);
      record.done();
    },
  }, silentLogger(), () => {});
  await consumer.start();
  t.after(() => consumer.close());
  await waitUntil(() => seen.length === 2, { message: 'both records consumed' });
  // And read without a group (tail, dead-letter pages).
  const read: Omit<ConsumedRecord, 'done'>[] = [];
  for await (const record of kafkaEventLog(t, 'lat-read', 'platformatic').read(topic)) read.push(record);
  assert.equal(read.length, 2);
  for (const record of [...seen, ...read]) {
    assert.ok(record.timestamp >= before - 1000 && record.timestamp <= after + 1000, `record ${record.value?.toString()} stamped ${new Date(record.timestamp).toISOString()}, appended between ${new Date(before).toISOString()} and ${new Date(after).toISOString()}`);
  }
});
