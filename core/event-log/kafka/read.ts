import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { BrokerError } from '../../errors.js';
import type { ConsumedRecord } from '../port.js';
import type { KafkaAdmin, TopicOffsets } from './admin.js';
import { toRecord } from './consumer.js';
import { kafkaErrorType, unavailable } from './errors.js';

/** Every record a topic holds now, oldest first per partition, moving no consumer group. */
export async function* readTopic(kafka: Kafka, topics: KafkaAdmin, topic: string): AsyncIterable<Omit<ConsumedRecord, 'done'>> {
  // kafkajs cannot fetch without a group, so a throwaway group that never commits reads the
  // topic and is deleted afterwards: nothing that other groups own is moved.
  const admin = await topics.connect();
  let ends: TopicOffsets;
  try {
    ends = await topics.topicOffsets(admin, topic);
  } catch (error) {
    if (kafkaErrorType(error) === 'UNKNOWN_TOPIC_OR_PARTITION') throw new BrokerError('TOPIC_NOT_FOUND', `topic ${topic} does not exist`, { details: { topic } });
    throw unavailable(`cannot read topic ${topic}`, error);
  }
  const remaining = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  if (remaining.size === 0) return;
  const groupId = `kafka-broker-read-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
  const buffered: Omit<ConsumedRecord, 'done'>[] = [];
  let wake: (() => void) | undefined;
  let failure: unknown;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = remaining.get(batch.partition);
        for (const m of batch.messages) {
          if (end === undefined || BigInt(m.offset) >= end) break;
          buffered.push(toRecord(topic, batch.partition, m));
          if (BigInt(m.offset) + 1n >= end) remaining.delete(batch.partition);
        }
        wake?.();
      },
    });
    consumer.on(consumer.events.CRASH, (event) => {
      failure = event.payload.error;
      wake?.();
    });
    while (remaining.size > 0 || buffered.length > 0) {
      if (buffered.length > 0) {
        yield buffered.shift()!;
        continue;
      }
      if (failure !== undefined) throw unavailable(`reading topic ${topic} failed`, failure);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 500).unref();
      });
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
}
