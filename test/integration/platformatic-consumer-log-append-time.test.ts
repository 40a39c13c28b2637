import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsumedRecord } from '../../core/event-log/port.js';
import { kafkaEventLog } from '../helpers/kafka.js';
import { consumerTopic } from '../helpers/platformatic-consumer.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * A topic with message.timestamp.type=LogAppendTime: Kafka stamps the batch's maxTimestamp with
 * the append time and flags the batch (attribute bit 3), leaving the producer's own times in the
 * records. A record's time is then the batch's maxTimestamp, as Kafka's consumer and kafkajs read it.
 */
test('a record of a LogAppendTime topic, consumed or read, carries the time Kafka appended it, not the producer\'s', { timeout: 60_000 }, async (t) => {
  const { topic, writer, consume } = await consumerTopic(t, 'log-append-time', { configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] });

  const before = Date.now();
  // Stamped by the producer in 2001: the log's own time replaces it.
  await writer.send({ topic, acks: -1, messages: [{ value: 'a', timestamp: '1000000000000' }, { value: 'b', timestamp: '1000000000005' }] });
  const after = Date.now();

  const { records: seen } = await consume({ onRecord: (record) => record.done() });
  await waitUntil(() => seen.length === 2, { message: 'both records consumed' });
  // And read without a group (tail, dead-letter pages).
  const read: Omit<ConsumedRecord, 'done'>[] = [];
  for await (const record of kafkaEventLog(t, 'lat-read', 'platformatic').read(topic)) read.push(record);
  assert.equal(read.length, 2);
  for (const record of [...seen, ...read]) {
    assert.ok(record.timestamp >= before - 1000 && record.timestamp <= after + 1000, `record ${record.value?.toString()} stamped ${new Date(record.timestamp).toISOString()}, appended between ${new Date(before).toISOString()} and ${new Date(after).toISOString()}`);
  }
});
