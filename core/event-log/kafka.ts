import { randomUUID } from 'node:crypto';
import {
  Kafka, logLevel as KafkaLogLevel, Partitioners,
  type Admin, type Consumer as KafkaConsumer, type EachBatchPayload, type IHeaders, type LogEntry, type Producer,
} from 'kafkajs';
import { BrokerError } from '../errors.js';
import type { Logger } from '../logger.js';
import { PartitionOffsets } from './offsets.js';
import { partitionForKey } from './partitioner.js';
import type {
  AppendRecord, AppendResult, ConsumedRecord, ConsumeOptions, Consumer, EventLog, Headers,
  StartPosition, TopicInfo, TopicPartition, TopicSpec,
} from './port.js';

const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;
const TOPIC_READY_TIMEOUT_MS = 30_000;

export interface KafkaEventLogOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger: Logger;
  /** How long an append may wait for Kafka before it fails with LOG_UNAVAILABLE. Default 10 s. */
  readonly appendTimeoutMs?: number;
  /** Produce requests in flight at once; 1 keeps per-partition order even across retries. */
  readonly maxInFlightBatches?: number;
}

/**
 * The Kafka adapter (kafkajs 2.2.4).
 *
 * Appends are coalesced: while one produce request is in flight, new appends queue up and go out
 * together in the next request (acks=all), so throughput grows with concurrency without a fixed
 * linger. Partitions are chosen here (Kafka's murmur2 for keys, round-robin otherwise) so each
 * append learns its own partition and offset from the batch response.
 *
 * Consumers never wait on slow work inside kafkajs's fetch loop — kafkajs heartbeats only between
 * batches — so records are handed out and the loop returns at once; when `maxInFlight` records are
 * out and not done, the topics are paused and the rest of the batch is left unresolved, to be
 * fetched again on resume.
 */
export class KafkaEventLog implements EventLog {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly logger: Logger;
  private readonly appendTimeoutMs: number;
  private readonly maxInFlightBatches: number;
  private producer: Producer | undefined;
  private producerStale = false;
  private producerConnecting: Promise<Producer> | undefined;
  private admin: Admin | undefined;
  private adminConnecting: Promise<Admin> | undefined;
  private readonly partitionCounts = new Map<string, { count: number; at: number }>();
  private readonly queue: Pending[] = [];
  private inFlightBatches = 0;
  private roundRobin = 0;
  private readonly consumers = new Set<KafkaGroupConsumer>();
  private closed = false;

  constructor(options: KafkaEventLogOptions) {
    this.logger = options.logger.child({ component: 'kafka' });
    this.appendTimeoutMs = options.appendTimeoutMs ?? 10_000;
    this.maxInFlightBatches = options.maxInFlightBatches ?? 1;
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      connectionTimeout: 3000,
      requestTimeout: 10_000,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2000 },
      logLevel: KafkaLogLevel.WARN,
      logCreator: () => (entry) => this.kafkajsLog(entry),
    });
  }

  // ---- topics and groups ----

  async ensureTopic(name: string, spec: TopicSpec): Promise<void> {
    const admin = await this.connectAdmin();
    try {
      await admin.createTopics({
        // kafkajs's own wait gives up after a few metadata answers of "unknown topic", which a
        // busy broker gives for a while after creating one; we wait for the leaders below.
        waitForLeaders: false,
        topics: [{
          topic: name,
          numPartitions: spec.partitions,
          replicationFactor: spec.replicationFactor,
          // Room for a record whose value is 1 MiB (the ingress's default body limit) plus its
          // headers; Kafka's default limit is 1 MiB for the whole batch.
          configEntries: Object.entries({ 'max.message.bytes': String(MAX_MESSAGE_BYTES), ...spec.config }).map(([n, value]) => ({ name: n, value })),
        }],
      });
    } catch (error) {
      if (kafkaErrorType(error) !== 'TOPIC_ALREADY_EXISTS') throw unavailable(`cannot create topic ${name}`, error);
    }
    this.partitionCounts.delete(name);
    await this.waitForLeaders(admin, name, TOPIC_READY_TIMEOUT_MS);
  }

  /**
   * A topic's low and high offsets. Right after a topic is created, ListOffsets can fail for a
   * moment (and kafkajs then fails with a TypeError of its own), so a few tries are made.
   */
  private async topicOffsets(admin: Admin, topic: string): Promise<{ partition: number; high: string; low: string }[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await admin.fetchTopicOffsets(topic);
      } catch (error) {
        const type = kafkaErrorType(error);
        if (type === 'UNKNOWN_TOPIC_OR_PARTITION' && (await this.fetchPartitionCount(topic)) === undefined) throw error;
        if (attempt >= 8) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  /** Resolves once every partition of the topic has a leader, so appends and joins can start. */
  private async waitForLeaders(admin: Admin, name: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (let delay = 50; Date.now() < deadline; delay = Math.min(delay * 2, 1000)) {
      try {
        const metadata = await admin.fetchTopicMetadata({ topics: [name] });
        const partitions = metadata.topics[0]?.partitions ?? [];
        if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return;
      } catch (error) {
        last = error;
        const type = kafkaErrorType(error);
        if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw unavailable(`cannot read metadata of topic ${name}`, error);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    throw unavailable(`topic ${name} has no leader after ${timeoutMs} ms`, last ?? new Error('no leader'));
  }

  async deleteTopic(name: string): Promise<void> {
    const admin = await this.connectAdmin();
    this.partitionCounts.delete(name);
    // kafkajs keeps every topic a producer wrote to in its metadata requests, and fails all later
    // sends once one of them is gone: start a fresh producer.
    this.producerStale = true;
    try {
      await admin.deleteTopics({ topics: [name], timeout: 10_000 });
    } catch (error) {
      if (kafkaErrorType(error) !== 'UNKNOWN_TOPIC_OR_PARTITION') throw unavailable(`cannot delete topic ${name}`, error);
    }
  }

  async describeTopic(name: string): Promise<TopicInfo | undefined> {
    const count = await this.fetchPartitionCount(name);
    return count === undefined ? undefined : { name, partitions: count };
  }

  async initGroup(groupId: string, topic: string, position: StartPosition): Promise<void> {
    const admin = await this.connectAdmin();
    try {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const unset = (committed?.partitions ?? []).filter((p) => p.offset === '-1').map((p) => p.partition);
      if (committed !== undefined && unset.length === 0) return;
      const ends = await this.topicOffsets(admin, topic);
      const partitions = ends
        .filter((p) => committed === undefined || unset.includes(p.partition))
        .map((p) => ({ partition: p.partition, offset: position === 'latest' ? p.high : p.low }));
      await this.commitGroupOffsets(groupId, topic, partitions);
    } catch (error) {
      const type = kafkaErrorType(error);
      if (type === 'UNKNOWN_TOPIC_OR_PARTITION') throw new BrokerError('TOPIC_NOT_FOUND', `topic ${topic} does not exist`, { details: { topic } });
      // A group with live members has a position already: its members are consuming.
      if (/running|active|members/i.test(errorMessage(error))) return;
      throw unavailable(`cannot initialise consumer group ${groupId}`, error);
    }
  }

  /**
   * Commits offsets for a group with no members. kafkajs's admin.setOffsets does this by joining
   * the group and waiting for one fetch of a paused topic, which lasts the default maxWaitTime
   * (5 s); this is the same with a short wait, so a new Trigger is Ready in well under a second.
   */
  private async commitGroupOffsets(groupId: string, topic: string, partitions: { partition: number; offset: string }[]): Promise<void> {
    if (partitions.length === 0) return;
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 50 });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const description = await consumer.describeGroup();
      if (!['Empty', 'Dead'].includes(description.state)) return; // members are consuming: they have a position
      await new Promise<void>((resolve, reject) => {
        consumer.on(consumer.events.FETCH, () => resolve());
        consumer.on(consumer.events.CRASH, (event) => reject(event.payload.error));
        consumer.run({ eachBatchAutoResolve: false, eachBatch: async () => undefined }).catch(reject);
        consumer.pause([{ topic }]);
        for (const p of partitions) consumer.seek({ topic, partition: p.partition, offset: p.offset });
      });
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }

  async deleteGroup(groupId: string): Promise<void> {
    const admin = await this.connectAdmin();
    try {
      await admin.deleteGroups([groupId]);
    } catch (error) {
      const types = groupErrorTypes(error);
      if (types.every((t) => t === 'GROUP_ID_NOT_FOUND')) return;
      throw unavailable(`cannot delete consumer group ${groupId}`, error);
    }
  }

  async ping(): Promise<boolean> {
    try {
      const admin = await withTimeout(this.connectAdmin(), 3000);
      await withTimeout(admin.describeCluster(), 3000);
      return true;
    } catch {
      return false;
    }
  }

  // ---- appending ----

  append(topic: string, records: readonly AppendRecord[]): Promise<AppendResult[]> {
    if (this.closed) return Promise.reject(new BrokerError('LOG_UNAVAILABLE', 'the Kafka event log is closed'));
    if (records.length === 0) return Promise.resolve([]);
    return new Promise<AppendResult[]>((resolve, reject) => {
      const pending: Pending = { topic, records, resolve, reject, settled: false, timer: undefined };
      pending.timer = setTimeout(() => settle(pending, new BrokerError('LOG_UNAVAILABLE', `Kafka did not confirm the write within ${this.appendTimeoutMs} ms`)), this.appendTimeoutMs);
      this.queue.push(pending);
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlightBatches >= this.maxInFlightBatches || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.queue.length).filter((p) => !p.settled);
    if (batch.length === 0) return;
    this.inFlightBatches++;
    void this.send(batch).finally(() => {
      this.inFlightBatches--;
      this.flush();
    });
  }

  private async send(batch: Pending[]): Promise<void> {
    try {
      const producer = await this.connectProducer();
      // Partition every record ourselves, so we know which response offset is whose.
      const perTopic = new Map<string, { partition: number; key: Buffer | null; value: Buffer | null; headers: IHeaders }[]>();
      const placements: { pending: Pending; partitions: number[] }[] = [];
      const live: Pending[] = [];
      for (const pending of batch) {
        const count = await this.fetchPartitionCount(pending.topic);
        if (count === undefined) {
          settle(pending, new BrokerError('TOPIC_NOT_FOUND', `topic ${pending.topic} does not exist`, { details: { topic: pending.topic } }));
          continue;
        }
        live.push(pending);
        const list = perTopic.get(pending.topic) ?? [];
        perTopic.set(pending.topic, list);
        const partitions: number[] = [];
        for (const record of pending.records) {
          const partition = record.key != null ? partitionForKey(record.key, count) : this.roundRobin++ % count;
          partitions.push(partition);
          list.push({ partition, key: record.key ?? null, value: record.value, headers: (record.headers ?? {}) as IHeaders });
        }
        placements.push({ pending, partitions });
      }
      if (live.length === 0) return;
      const response = await producer.sendBatch({
        acks: -1,
        topicMessages: [...perTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      const next = new Map<string, bigint>();
      for (const meta of response) next.set(`${meta.topicName}\u0000${meta.partition}`, BigInt(meta.baseOffset ?? '0'));
      for (const { pending, partitions } of placements) {
        const results = partitions.map((partition) => {
          const key = `${pending.topic}\u0000${partition}`;
          const offset = next.get(key) ?? 0n;
          next.set(key, offset + 1n);
          return { partition, offset: offset.toString() };
        });
        settle(pending, undefined, results);
      }
    } catch (error) {
      if (kafkaErrorType(error) === 'UNKNOWN_TOPIC_OR_PARTITION' || /does not host this topic-partition/.test(errorMessage(error))) {
        this.producerStale = true;
      }
      for (const pending of batch) {
        if (kafkaErrorType(error) === 'UNKNOWN_TOPIC_OR_PARTITION') this.partitionCounts.delete(pending.topic);
        settle(pending, unavailable('Kafka did not take the write', error));
      }
    }
  }

  /** Partition counts are cached briefly: the ingress asks for every append. */
  private async fetchPartitionCount(topic: string): Promise<number | undefined> {
    const cached = this.partitionCounts.get(topic);
    if (cached !== undefined && Date.now() - cached.at < 30_000) return cached.count;
    const admin = await this.connectAdmin();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const count = metadata.topics[0]?.partitions.length ?? 0;
      if (count === 0) return undefined;
      this.partitionCounts.set(topic, { count, at: Date.now() });
      return count;
    } catch (error) {
      if (kafkaErrorType(error) === 'UNKNOWN_TOPIC_OR_PARTITION') return undefined;
      throw unavailable(`cannot read metadata of topic ${topic}`, error);
    }
  }

  // ---- consuming ----

  async consume(options: ConsumeOptions): Promise<Consumer> {
    if (this.closed) throw new BrokerError('LOG_UNAVAILABLE', 'the Kafka event log is closed');
    const consumer = new KafkaGroupConsumer(this.kafka, options, this.logger, () => this.consumers.delete(consumer));
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

  async *read(topic: string): AsyncIterable<Omit<ConsumedRecord, 'done'>> {
    // kafkajs cannot fetch without a group, so a throwaway group that never commits reads the
    // topic and is deleted afterwards: nothing that other groups own is moved.
    const admin = await this.connectAdmin();
    let ends: { partition: number; high: string; low: string }[];
    try {
      ends = await this.topicOffsets(admin, topic);
    } catch (error) {
      if (kafkaErrorType(error) === 'UNKNOWN_TOPIC_OR_PARTITION') throw new BrokerError('TOPIC_NOT_FOUND', `topic ${topic} does not exist`, { details: { topic } });
      throw unavailable(`cannot read topic ${topic}`, error);
    }
    const remaining = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
    if (remaining.size === 0) return;
    const groupId = `kafka-broker-read-${randomUUID()}`;
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.close()));
    for (const pending of this.queue.splice(0)) settle(pending, new BrokerError('LOG_UNAVAILABLE', 'the Kafka event log is closing'));
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }

  private async connectProducer(): Promise<Producer> {
    if (this.producerStale && this.producer !== undefined) {
      const old = this.producer;
      this.producer = undefined;
      // Let sends still in flight on it finish before it goes.
      setTimeout(() => void old.disconnect().catch(() => undefined), 30_000).unref();
    }
    this.producerStale = false;
    if (this.producer !== undefined) return this.producer;
    this.producerConnecting ??= (async () => {
      // Not idempotent: kafkajs's idempotent producer retries forever, and a write that cannot be
      // made must fail (503) rather than hang. acks=all keeps every confirmed write durable.
      const producer = this.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      this.producer = producer;
      return producer;
    })().finally(() => {
      this.producerConnecting = undefined;
    });
    try {
      return await this.producerConnecting;
    } catch (error) {
      throw unavailable('cannot connect to Kafka', error);
    }
  }

  private async connectAdmin(): Promise<Admin> {
    if (this.admin !== undefined) return this.admin;
    this.adminConnecting ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
      return admin;
    })().finally(() => {
      this.adminConnecting = undefined;
    });
    try {
      return await this.adminConnecting;
    } catch (error) {
      throw unavailable('cannot connect to Kafka', error);
    }
  }

  private kafkajsLog({ namespace, level, log }: LogEntry): void {
    const { message, ...fields } = log;
    // kafkajs reports every connection retry as an error; ours are quieter, the caller decides.
    const method = level <= KafkaLogLevel.ERROR ? 'warn' : level === KafkaLogLevel.WARN ? 'info' : 'debug';
    this.logger[method]({ kafkajs: namespace, ...fields }, message);
  }
}

interface Pending {
  readonly topic: string;
  readonly records: readonly AppendRecord[];
  readonly resolve: (results: AppendResult[]) => void;
  readonly reject: (error: unknown) => void;
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
}

function settle(pending: Pending, error: unknown, results?: AppendResult[]): void {
  if (pending.settled) return;
  pending.settled = true;
  clearTimeout(pending.timer);
  if (error !== undefined) pending.reject(error);
  else pending.resolve(results ?? []);
}

interface PartitionState {
  readonly offsets: PartitionOffsets;
  /** The next offset to hand out; batches kafkajs hands us again below it are skipped. */
  position: number;
}

/**
 * One member of one consumer group. Per-partition offset tracking is reset on every group join,
 * since kafkajs restarts each assigned partition from its committed offset: records handed out
 * before the join and finished after it are then ignored, and delivered again (at-least-once).
 */
class KafkaGroupConsumer implements Consumer {
  private readonly consumer: KafkaConsumer;
  private readonly partitions = new Map<string, PartitionState>();
  private readonly maxInFlight: number;
  private inFlight = 0;
  private userPaused = false;
  /** Wakes a batch waiting at the in-flight bound. */
  private slotFreed: (() => void) | undefined;
  private closing = false;
  private timer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();

  constructor(
    kafka: Kafka,
    private readonly options: ConsumeOptions,
    private readonly logger: Logger,
    private readonly onClosed: () => void,
  ) {
    this.maxInFlight = options.maxInFlight ?? 500;
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      // Shorter than the client's requestTimeout (10 s): a follower's SyncGroup waits for the
      // leader, and a dead leader (SIGKILL) is only noticed after the session timeout. With a
      // longer session, the SyncGroup timed out first, kafkajs restarted the consumer as a new
      // member, the old one lingered as a ghost, and every rebalance waited on one: the group
      // never settled (test/faults, scenario dispatcher-kill). It also bounds the pause of a
      // dead dispatcher's partitions.
      sessionTimeout: 8000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 2000,
      maxWaitTimeInMs: 250,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5000 },
    });
  }

  async start(): Promise<void> {
    const joined = new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error('timed out joining the group')), 60_000);
      timeout.unref();
      this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
        this.onJoin(event.payload.memberAssignment);
        clearTimeout(timeout);
        resolve();
      });
      this.consumer.on(this.consumer.events.CRASH, (event) => {
        clearTimeout(timeout);
        if (!event.payload.restart) reject(event.payload.error);
      });
    });
    // If connecting or subscribing fails first, nobody awaits `joined`: keep its rejection handled.
    joined.catch(() => undefined);
    this.consumer.on(this.consumer.events.REBALANCING, () => void this.commit());
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.options.topics], fromBeginning: (this.options.start ?? 'latest') === 'earliest' });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload),
    });
    await joined;
    this.timer = setInterval(() => void this.commit(), this.options.commitIntervalMs ?? 1000);
    this.timer.unref();
  }

  pause(): void {
    this.userPaused = true;
    this.slotFreed?.();
    this.applyPause();
  }

  resume(): void {
    this.userPaused = false;
    this.applyPause();
  }

  /** Commits serially: overlapping OffsetCommit requests could land out of order. */
  commit(): Promise<void> {
    this.committing = this.committing.then(() => this.commitNow());
    return this.committing;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.timer);
    this.slotFreed?.();
    await this.commit();
    await this.consumer.disconnect().catch((error: unknown) => this.logger.warn({ err: error, groupId: this.options.groupId }, 'leaving the group failed'));
    this.onClosed();
  }

  private async commitNow(): Promise<void> {
    const topicPartitions: { topic: string; partition: number; offset: string }[] = [];
    const marks: { state: PartitionState; offset: number }[] = [];
    for (const [key, state] of this.partitions) {
      const offset = state.offsets.toCommit();
      if (offset === undefined) continue;
      const [topic, partition] = splitKey(key);
      topicPartitions.push({ topic, partition, offset: String(offset) });
      marks.push({ state, offset });
    }
    if (topicPartitions.length === 0) return;
    try {
      await this.consumer.commitOffsets(topicPartitions);
      for (const { state, offset } of marks) state.offsets.markCommitted(offset);
    } catch (error) {
      // Rebalancing or a broker away: the next commit carries the same (or a later) point.
      this.logger.debug({ err: error, groupId: this.options.groupId }, 'offset commit failed; will retry');
    }
  }

  private onJoin(assignment: Record<string, number[]>): void {
    const keep = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment)) for (const p of partitions) keep.add(`${topic}\u0000${p}`);
    const revoked: TopicPartition[] = [];
    for (const key of this.partitions.keys()) {
      if (!keep.has(key)) {
        const [topic, partition] = splitKey(key);
        revoked.push({ topic, partition });
      }
    }
    this.partitions.clear();
    this.inFlight = 0;
    this.slotFreed?.();
    this.applyPause();
    if (revoked.length > 0) this.options.onRevoked?.(revoked);
  }

  private async onBatch({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> {
    if (this.closing || this.userPaused) return;
    const key = `${batch.topic}\u0000${batch.partition}`;
    let state = this.partitions.get(key);
    if (state === undefined) {
      const first = Number(batch.firstOffset() ?? batch.messages[0]?.offset ?? 0);
      state = { offsets: new PartitionOffsets(first), position: first };
      this.partitions.set(key, state);
    }
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      if (offset < state.position) {
        resolveOffset(message.offset);
        continue;
      }
      if (this.inFlight >= this.maxInFlight) {
        // At the bound, wait for a free slot inside the batch rather than pausing: a fully paused
        // kafkajs consumer sleeps maxWaitTimeInMs before it fetches again, which caps throughput
        // at maxInFlight records per sleep. Heartbeat while waiting, so slow subscribers never
        // cost the membership; in a rebalance heartbeat() throws and kafkajs rejoins.
        while (this.inFlight >= this.maxInFlight && !this.closing && !this.userPaused && this.partitions.get(key) === state) {
          await new Promise<void>((resolve) => {
            this.slotFreed = resolve;
            setTimeout(resolve, 1000).unref();
          });
          this.slotFreed = undefined;
          await heartbeat();
        }
        if (this.closing || this.userPaused || this.partitions.get(key) !== state) break;
      }
      state.position = offset + 1;
      state.offsets.handedOut(offset);
      this.inFlight++;
      resolveOffset(message.offset);
      this.options.onRecord(this.toConsumed(batch.topic, batch.partition, message, state));
      if (this.closing || this.userPaused) break;
    }
    await heartbeat();
  }

  private toConsumed(topic: string, partition: number, message: KafkaMessage, state: PartitionState): ConsumedRecord {
    const offset = Number(message.offset);
    let isDone = false;
    return {
      ...toRecord(topic, partition, message),
      done: () => {
        if (isDone) return;
        isDone = true;
        // Finished after a rebalance reset: the partition restarts from its commit; ignore.
        if (this.partitions.get(`${topic}\u0000${partition}`) !== state) return;
        state.offsets.done(offset);
        this.inFlight--;
        this.slotFreed?.();
      },
    };
  }

  private applyPause(): void {
    if (this.closing) return;
    const topics = this.options.topics.map((topic) => ({ topic }));
    try {
      if (this.userPaused) this.consumer.pause(topics);
      else this.consumer.resume(topics);
    } catch (error) {
      // kafkajs refuses before the member has joined; the state is applied on join.
      this.logger.debug({ err: error, groupId: this.options.groupId }, 'pause/resume not applied yet');
    }
  }
}

type KafkaMessage = EachBatchPayload['batch']['messages'][number];

function toRecord(topic: string, partition: number, message: KafkaMessage): Omit<ConsumedRecord, 'done'> {
  const headers: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value === undefined) continue;
    const v = Array.isArray(value) ? value[value.length - 1] : value;
    if (v !== undefined) headers[name] = Buffer.isBuffer(v) ? v : Buffer.from(String(v));
  }
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key ?? null,
    value: message.value ?? null,
    headers: headers as Headers,
    timestamp: Number(message.timestamp),
  };
}

function splitKey(key: string): [string, number] {
  const i = key.lastIndexOf('\u0000');
  return [key.slice(0, i), Number(key.slice(i + 1))];
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The Kafka protocol error type of a kafkajs error, looking through retry wrappers. */
function kafkaErrorType(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    current = (current as { originalError?: unknown; cause?: unknown }).originalError ?? (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function groupErrorTypes(error: unknown): string[] {
  const groups = (error as { groups?: { error?: { type?: string } }[] }).groups;
  if (Array.isArray(groups)) return groups.map((g) => g.error?.type ?? 'UNKNOWN');
  return [kafkaErrorType(error) ?? 'UNKNOWN'];
}

function unavailable(message: string, cause: unknown): BrokerError {
  if (cause instanceof BrokerError) return cause;
  return new BrokerError('LOG_UNAVAILABLE', `${message}: ${errorMessage(cause)}`, { cause, retriable: true });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
