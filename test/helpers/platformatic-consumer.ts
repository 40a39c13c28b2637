import type { TestContext } from 'node:test';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { KafkaAdmin } from '../../core/event-log/kafka/admin.js';
import { PlatformaticGroupConsumer } from '../../core/event-log/platformatic/consumer.js';
import type { ConsumedRecord, ConsumeOptions } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { kafkaBootstrapServers, testWriter } from './kafka.js';
import { uniqueName } from './wait.js';

/**
 * The scene of the platformatic consumer's real-Kafka tests: a topic of the test's own, written by
 * another client (kafkajs, through testWriter), and our admin for the consumer to start with.
 */
export interface ConsumerTopic {
  readonly topic: string;
  /** A connected kafkajs producer for the test's records. */
  readonly writer: Producer;
  readonly admin: KafkaAdmin;
  /**
   * Starts a group consumer of the topic from the earliest record, in a new group. Every record it
   * hands out is kept in `records` (in the order handed out) before `onRecord`, if any, sees it.
   */
  consume(options?: { readonly maxInFlight?: number; readonly onRecord?: (record: ConsumedRecord) => void }): Promise<{ readonly consumer: PlatformaticGroupConsumer; readonly records: ConsumedRecord[] }>;
}

/**
 * Creates the topic (named after `name`, unique) and the clients; when the test ends everything is
 * closed in the reverse order (the consumers first) and the topic deleted.
 */
export async function consumerTopic(
  t: Pick<TestContext, 'after'>,
  name: string,
  options: { readonly partitions?: number; readonly configEntries?: readonly { readonly name: string; readonly value: string }[] } = {},
): Promise<ConsumerTopic> {
  const closers: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const close of closers.reverse()) await close();
  });
  const kafka = new Kafka({ clientId: `${name}-writer`, brokers: kafkaBootstrapServers(), logLevel: logLevel.NOTHING });
  const topic = uniqueName(name);
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  closers.push(() => kafkaAdmin.disconnect());
  await kafkaAdmin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: options.partitions ?? 1, replicationFactor: 1, configEntries: [...(options.configEntries ?? [])] }],
  });
  closers.push(() => kafkaAdmin.deleteTopics({ topics: [topic] }).catch(() => undefined));
  const writer = testWriter(kafka);
  await writer.connect();
  closers.push(() => writer.disconnect());
  const admin = new KafkaAdmin(new Kafka({ clientId: `${name}-admin`, brokers: kafkaBootstrapServers(), logLevel: logLevel.NOTHING }));
  closers.push(() => admin.close());

  const consume: ConsumerTopic['consume'] = async (consumeOptions = {}) => {
    const records: ConsumedRecord[] = [];
    const onRecord = consumeOptions.onRecord;
    const settings: ConsumeOptions = {
      groupId: uniqueName(`${name}-group`),
      topics: [topic],
      start: 'earliest',
      ...(consumeOptions.maxInFlight === undefined ? {} : { maxInFlight: consumeOptions.maxInFlight }),
      onRecord: (record) => {
        records.push(record);
        onRecord?.(record);
      },
    };
    const consumer = new PlatformaticGroupConsumer({ brokers: kafkaBootstrapServers(), clientId: name }, admin, settings, silentLogger(), () => {});
    await consumer.start();
    closers.push(() => consumer.close());
    return { consumer, records };
  };
  return { topic, writer, admin, consume };
}
