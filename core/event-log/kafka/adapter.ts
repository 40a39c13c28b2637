import type { Kafka } from 'kafkajs';
import { BrokerError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type {
  AppendRecord, AppendResult, ConsumedRecord, ConsumeOptions, Consumer, EventLog, PartitionLag, PartitionOffset, PartitionRange, ReadOptions, StartPosition, TopicInfo, TopicSpec,
} from '../port.js';
import { KafkaAdmin } from './admin.js';
import { createKafkaClient } from './client.js';
import { KafkaGroupConsumer } from './consumer.js';
import { unavailable } from './errors.js';
import { PlatformaticGroupConsumer } from '../platformatic/consumer.js';
import { platformaticProducers } from '../platformatic/producer.js';
import { DEFAULT_KAFKA_CLIENT, type KafkaClientKind } from './client-kind.js';
import { KafkaAppender, kafkajsProducers } from './producer.js';
import { TopicReader } from './read.js';
import type { KafkaSecurity } from './security.js';

/**
 * The first append of a produce request waits this long for others to share it: each request
 * costs a socket write and a response to parse whatever it carries, so fewer, larger batches cost
 * less CPU per event (issue 17). Not Kafka's 5 ms (linger.ms since Kafka 4.0): with one request in
 * flight, a client that waits for each answer (HTTP) pays the linger on every event, and 5 ms
 * capped 64 such clients at about 10,000 events/s where 1 ms let 15,000 through.
 */
export const PRODUCE_LINGER_MS = 1;

export interface KafkaEventLogOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger: Logger;
  /** How to reach a secured Kafka (SASL, TLS); default PLAINTEXT. */
  readonly security?: KafkaSecurity | undefined;
  /** How long an append may wait for Kafka before it fails with LOG_UNAVAILABLE. Default 10 s. */
  readonly appendTimeoutMs?: number;
  /** Produce requests in flight at once; 1 keeps per-partition order even across retries. */
  readonly maxInFlightBatches?: number;
  /** How long an append may wait for others to share its produce request (linger.ms). Default PRODUCE_LINGER_MS. */
  readonly lingerMs?: number | undefined;
  /** The client library appends and consumer groups run on (admin stays on kafkajs). Default DEFAULT_KAFKA_CLIENT. */
  readonly client?: KafkaClientKind | undefined;
  /** Hears each error the Kafka client reports (for the Kafka client errors metric), by the client part (kafkajs namespace). */
  readonly onClientError?: (operation: string) => void;
}

/**
 * The Kafka adapter. Admin work is kafkajs (2.2.4); appends and consumer groups run on the client
 * chosen by `client` — kafkajs, or @platformatic/kafka (../platformatic/) — behind the same parts:
 *
 *   admin.ts     topics and consumer groups, partition counts
 *   producer.ts  appends, coalesced into batches, acks=all
 *   consumer.ts  one member of one consumer group, bounded in flight, explicit commits
 *   read.ts      a topic read without a consumer group (@platformatic/kafka's Fetch)
 *   errors.ts    kafkajs's errors read by their Kafka error code, and LOG_UNAVAILABLE
 */
export class KafkaEventLog implements EventLog {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly logger: Logger;
  private readonly admin: KafkaAdmin;
  private readonly appender: KafkaAppender;
  private readonly reader: TopicReader;
  private readonly consumers = new Set<Consumer>();
  /** The client library appends and consumer groups run on. */
  readonly client: KafkaClientKind;
  private readonly options: KafkaEventLogOptions;
  private closed = false;

  constructor(options: KafkaEventLogOptions) {
    this.logger = options.logger.child({ component: 'kafka' });
    this.kafka = createKafkaClient(options, this.logger);
    this.admin = new KafkaAdmin(this.kafka);
    this.options = options;
    this.client = options.client ?? DEFAULT_KAFKA_CLIENT;
    const producers = this.client === 'platformatic' ? platformaticProducers(options, () => this.admin.connectionProblem()) : kafkajsProducers(this.kafka);
    this.appender = new KafkaAppender(producers, this.admin, {
      appendTimeoutMs: options.appendTimeoutMs ?? 10_000,
      maxInFlightBatches: options.maxInFlightBatches ?? 1,
      lingerMs: options.lingerMs ?? PRODUCE_LINGER_MS,
    });
    this.reader = new TopicReader(options);
  }

  // ---- topics and groups ----

  ensureTopic(name: string, spec: TopicSpec): Promise<void> {
    return this.admin.ensureTopic(name, spec);
  }

  async deleteTopic(name: string): Promise<void> {
    await this.admin.connect();
    // Any producer that wrote to the topic fails every later send once it is gone.
    this.appender.renew();
    await this.admin.deleteTopic(name);
  }

  describeTopic(name: string): Promise<TopicInfo | undefined> {
    return this.admin.describeTopic(name);
  }

  initGroup(groupId: string, topic: string, position: StartPosition): Promise<void> {
    return this.admin.initGroup(groupId, topic, position);
  }

  deleteGroup(groupId: string): Promise<void> {
    return this.admin.deleteGroup(groupId);
  }

  ping(): Promise<boolean> {
    return this.admin.ping();
  }

  /** Why Kafka cannot be used (unreachable, credentials or certificates refused), or undefined when it answers. */
  connectionProblem(timeoutMs?: number): Promise<BrokerError | undefined> {
    return this.admin.connectionProblem(timeoutMs);
  }

  groupLag(groupId: string, topics: readonly string[]): Promise<PartitionLag[]> {
    return this.admin.groupLag(groupId, topics);
  }

  offsetsForTime(topic: string, timestamp: number): Promise<PartitionOffset[]> {
    return this.admin.offsetsForTime(topic, timestamp);
  }

  offsetRange(topic: string): Promise<PartitionRange[]> {
    return this.admin.offsetRange(topic);
  }

  setGroupOffsets(groupId: string, topic: string, offsets: readonly PartitionOffset[]): Promise<void> {
    return this.admin.setGroupOffsets(groupId, topic, offsets);
  }

  // ---- appending ----

  prepareAppends(topics: readonly string[]): Promise<void> {
    return this.closed ? Promise.resolve() : this.appender.prepare(topics);
  }

  append(topic: string, records: readonly AppendRecord[]): Promise<AppendResult[]> {
    if (this.closed) return Promise.reject(new BrokerError('LOG_UNAVAILABLE', 'the Kafka event log is closed'));
    return this.appender.append(topic, records);
  }

  // ---- consuming ----

  async consume(options: ConsumeOptions): Promise<Consumer> {
    if (this.closed) throw new BrokerError('LOG_UNAVAILABLE', 'the Kafka event log is closed');
    const onClosed = (): void => void this.consumers.delete(consumer);
    const consumer = this.client === 'platformatic'
      ? new PlatformaticGroupConsumer(this.options, this.admin, options, this.logger, onClosed)
      : new KafkaGroupConsumer(this.kafka, this.admin, options, this.logger, onClosed);
    this.consumers.add(consumer);
    try {
      await consumer.start();
    } catch (error) {
      this.consumers.delete(consumer);
      await consumer.close().catch(() => undefined);
      throw unavailable(`cannot join consumer group ${options.groupId}`, error);
    }
    return consumer;
  }

  read(topic: string, options?: ReadOptions): AsyncIterable<Omit<ConsumedRecord, 'done'>> {
    return this.reader.read(this.admin, topic, options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.close()));
    await this.appender.close();
    await this.reader.close();
    await this.admin.close();
  }
}
