import type { Admin, Kafka } from 'kafkajs';
import { BrokerError } from '../../errors.js';
import type { PartitionLag, PartitionOffset, PartitionRange, StartPosition, TopicInfo, TopicSpec } from '../port.js';
import { groupErrorTypes, isLiveGroupError, kafkaErrorType, unavailable } from './errors.js';
import { withTimeout } from '../../async.js';

const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;
const TOPIC_READY_TIMEOUT_MS = 30_000;
/** How long a topic's partition count is taken as current. */
const PARTITION_COUNT_TTL_MS = 30_000;

/** A topic's offset range, per partition, as kafkajs reports it. */
export type TopicOffsets = { partition: number; high: string; low: string }[];

/**
 * Topics and consumer groups: one kafkajs admin client, connected on first use, and the partition
 * counts that appends need, cached briefly.
 */
export class KafkaAdmin {
  private admin: Admin | undefined;
  private adminConnecting: Promise<Admin> | undefined;
  private closed = false;
  private readonly partitionCounts = new Map<string, { count: number; at: number }>();
  private readonly refreshing = new Set<string>();

  constructor(private readonly kafka: Kafka) {}

  async ensureTopic(name: string, spec: TopicSpec): Promise<void> {
    const admin = await this.connect();
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
  async topicOffsets(admin: Admin, topic: string): Promise<TopicOffsets> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await admin.fetchTopicOffsets(topic);
      } catch (error) {
        const type = kafkaErrorType(error);
        if (type === 'UNKNOWN_TOPIC_OR_PARTITION' && (await this.partitionCount(topic)) === undefined) throw error;
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
    const admin = await this.connect();
    this.partitionCounts.delete(name);
    try {
      await admin.deleteTopics({ topics: [name], timeout: 10_000 });
    } catch (error) {
      if (kafkaErrorType(error) !== 'UNKNOWN_TOPIC_OR_PARTITION') throw unavailable(`cannot delete topic ${name}`, error);
    }
  }

  async describeTopic(name: string): Promise<TopicInfo | undefined> {
    const count = await this.partitionCount(name);
    return count === undefined ? undefined : { name, partitions: count };
  }

  /**
   * The partition count appends use. Past its time a known count is still used while a fresh one
   * is read in the background: appends go out in one batch at a time, and a metadata round trip
   * inside one held every append behind it, every 30 s (issue 17's latency tail). A topic that
   * is gone fails its send, which forgets the count.
   */
  async partitionCountForAppend(topic: string): Promise<number | undefined> {
    const cached = this.partitionCounts.get(topic);
    if (cached === undefined) return this.partitionCount(topic);
    if (Date.now() - cached.at >= PARTITION_COUNT_TTL_MS && !this.refreshing.has(topic)) {
      this.refreshing.add(topic);
      void this.partitionCount(topic)
        .then((count) => {
          if (count === undefined) this.partitionCounts.delete(topic);
        })
        .catch(() => undefined)
        .finally(() => this.refreshing.delete(topic));
    }
    return cached.count;
  }
  async partitionCount(topic: string): Promise<number | undefined> {
    const cached = this.partitionCounts.get(topic);
    if (cached !== undefined && Date.now() - cached.at < PARTITION_COUNT_TTL_MS) return cached.count;
    const admin = await this.connect();
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

  /** Forgets a cached partition count (the topic may be gone). */
  forgetPartitionCount(topic: string): void {
    this.partitionCounts.delete(topic);
  }

  async initGroup(groupId: string, topic: string, position: StartPosition): Promise<void> {
    const admin = await this.connect();
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
      if (isLiveGroupError(error)) return;
      throw unavailable(`cannot initialise consumer group ${groupId}`, error);
    }
  }

  /**
   * Commits offsets for a group with no members. kafkajs's admin.setOffsets does this by joining
   * the group and waiting for one fetch of a paused topic, which lasts the default maxWaitTime
   * (5 s); this is the same with a short wait, so a new Trigger is Ready in well under a second.
   */
  private async commitGroupOffsets(groupId: string, topic: string, partitions: readonly PartitionOffset[]): Promise<boolean> {
    if (partitions.length === 0) return true;
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 50 });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const description = await consumer.describeGroup();
      if (!['Empty', 'Dead'].includes(description.state)) return false; // members are consuming: they have a position
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
    return true;
  }

  /** Offsets-for-times: Kafka answers -1 for a partition with no such record, which kafkajs turns into the end offset. */
  async offsetsForTime(topic: string, timestamp: number): Promise<PartitionOffset[]> {
    const admin = await this.connect();
    await this.requireTopic(topic);
    try {
      const found = await admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
      return found.map((p) => ({ partition: p.partition, offset: p.offset })).sort((a, b) => a.partition - b.partition);
    } catch (error) {
      throw unavailable(`cannot look up offsets by time in topic ${topic}`, error);
    }
  }

  async offsetRange(topic: string): Promise<PartitionRange[]> {
    const admin = await this.connect();
    await this.requireTopic(topic);
    try {
      const offsets = await this.topicOffsets(admin, topic);
      return offsets.map((p) => ({ partition: p.partition, start: p.low, end: p.high })).sort((a, b) => a.partition - b.partition);
    } catch (error) {
      throw unavailable(`cannot read the offsets of topic ${topic}`, error);
    }
  }

  /** Commits offsets for a group with no members, forwards or backwards; GROUP_BUSY when it has any. */
  async setGroupOffsets(groupId: string, topic: string, offsets: readonly PartitionOffset[]): Promise<void> {
    await this.requireTopic(topic);
    let committed: boolean;
    try {
      committed = await this.commitGroupOffsets(groupId, topic, offsets);
    } catch (error) {
      if (isLiveGroupError(error)) committed = false;
      else throw unavailable(`cannot set the offsets of consumer group ${groupId}`, error);
    }
    if (!committed) throw new BrokerError('GROUP_BUSY', `consumer group ${groupId} has active members (or is rebalancing); stop them first`, { details: { groupId } });
  }

  private async requireTopic(topic: string): Promise<void> {
    if ((await this.partitionCount(topic)) === undefined) throw new BrokerError('TOPIC_NOT_FOUND', `topic ${topic} does not exist`, { details: { topic } });
  }

  /** The group's committed offsets against each topic's end offsets (two admin requests per topic). */
  async groupLag(groupId: string, topics: readonly string[]): Promise<PartitionLag[]> {
    const admin = await this.connect();
    const lags: PartitionLag[] = [];
    try {
      const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
      for (const { topic, partitions } of committed) {
        const ends = new Map((await this.topicOffsets(admin, topic)).map((p) => [p.partition, p]));
        for (const { partition, offset } of partitions) {
          const end = ends.get(partition);
          if (end === undefined) continue;
          // -1: no commit yet; the dispatcher starts such a group at the end, so nothing is behind.
          const at = offset === '-1' ? undefined : offset;
          const from = at === undefined ? BigInt(end.high) : maxBig(BigInt(at), BigInt(end.low));
          const behind = BigInt(end.high) - from;
          lags.push({ topic, partition, committed: at, end: end.high, records: behind > 0n ? Number(behind) : 0 });
        }
      }
    } catch (error) {
      throw unavailable(`cannot read the offsets of consumer group ${groupId}`, error);
    }
    return lags;
  }

  async deleteGroup(groupId: string): Promise<void> {
    const admin = await this.connect();
    try {
      await admin.deleteGroups([groupId]);
    } catch (error) {
      const types = groupErrorTypes(error);
      if (types.every((t) => t === 'GROUP_ID_NOT_FOUND')) return;
      throw unavailable(`cannot delete consumer group ${groupId}`, error);
    }
  }

  async ping(): Promise<boolean> {
    return (await this.connectionProblem()) === undefined;
  }

  /**
   * Why Kafka cannot be used, or undefined when it answers: LOG_UNAVAILABLE, or KAFKA_AUTH_FAILED /
   * KAFKA_TLS_FAILED when it refused our credentials or certificates. Bounded by its timeouts.
   */
  async connectionProblem(timeoutMs = 3000): Promise<BrokerError | undefined> {
    try {
      const admin = await withTimeout(this.connect(), timeoutMs);
      await withTimeout(admin.describeCluster(), timeoutMs);
      return undefined;
    } catch (error) {
      return unavailable('cannot connect to Kafka', error);
    }
  }

  /** The admin client, connected once; a failure is LOG_UNAVAILABLE. */
  async connect(): Promise<Admin> {
    if (this.closed) throw unavailable('cannot connect to Kafka', new Error('the event log is closed'));
    if (this.admin !== undefined) return this.admin;
    this.adminConnecting ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      // Closed while connecting: a connection kept now would hold the process open.
      if (this.closed) {
        await admin.disconnect().catch(() => undefined);
        throw new Error('the event log is closed');
      }
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

  async close(): Promise<void> {
    this.closed = true;
    await this.adminConnecting?.catch(() => undefined);
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }
}

const maxBig = (a: bigint, b: bigint): bigint => (a > b ? a : b);
