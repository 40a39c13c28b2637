import { BrokerError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { memoryLogConfigSchema, type MemoryLogConfig } from './memory-config.js';
import { AppendOrder, PartitionLog, storedBytes, type StoredRecord } from './memory-partition.js';
import { PartitionOffsets } from './offsets.js';
import { partitionForKey } from './partitioner.js';
import type {
  AppendRecord, AppendResult, ConsumedRecord, ConsumeOptions, Consumer, EventLog, PartitionLag, PartitionOffset, PartitionRange,
  ReadOptions, StartPosition, TopicInfo, TopicPartition, TopicSpec,
} from './port.js';

/**
 * The in-memory event log: the development channel. Same semantics as Kafka within one process —
 * partitions, keys, consumer groups with committed offsets, rebalancing between members, and
 * redelivery of records that were not done when a member left. Nothing survives a restart.
 *
 * Retention (memory-config.ts): past `retentionBytes` over the whole log, or `retentionMs` of age,
 * the oldest records are removed from the head of their partition, as Kafka's retention does;
 * offsets keep counting. A group whose position was removed resumes at the earliest record left,
 * and its consumer's `onOffsetReset` hears the skipped range. On close, the log says (warn) how
 * many accepted records it drops that a consumer group has not finished.
 */

export interface MemoryEventLogOptions extends Partial<MemoryLogConfig> {
  /** For the retention and shutdown reports. Default: silent. */
  readonly logger?: Logger;
  /** For tests: the clock records are stamped and aged with. */
  readonly now?: () => number;
}

export interface MemoryLogStats {
  readonly records: number;
  readonly bytes: number;
  /** Records removed by retention since the start. */
  readonly removedRecords: number;
}

/** Undelivered records of one topic: appended, and past the slowest group's committed offset. */
export interface UndeliveredCount {
  readonly topic: string;
  readonly records: number;
}

interface MemoryTopic {
  readonly partitions: PartitionLog[];
}

interface GroupState {
  readonly committed: Map<string, number>;
  readonly members: MemoryConsumer[];
}

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class MemoryEventLog implements EventLog {
  readonly kind = 'memory' as const;
  private readonly topics = new Map<string, MemoryTopic>();
  private readonly groups = new Map<string, GroupState>();
  private roundRobin = 0;
  private closed = false;
  private readonly config: MemoryLogConfig;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly appendOrder = new AppendOrder();
  private bytes = 0;
  private records = 0;
  private removedRecords = 0;
  private readonly retentionTimer: NodeJS.Timeout;

  constructor(options: MemoryEventLogOptions = {}) {
    const { logger, now, ...config } = options;
    this.config = memoryLogConfigSchema.parse(config);
    this.logger = logger ?? silentLogger();
    this.now = now ?? Date.now;
    // Age is checked on every append and on this timer, so an idle log still lets old records go.
    this.retentionTimer = setInterval(() => this.enforceRetention(), Math.min(60_000, Math.max(10, Math.floor(this.config.retentionMs / 10))));
    this.retentionTimer.unref();
  }

  async ensureTopic(name: string, spec: TopicSpec): Promise<void> {
    if (this.topics.has(name)) return;
    if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
      throw new BrokerError('INTERNAL', `topic ${name}: partitions must be a positive integer`);
    }
    this.topics.set(name, { partitions: Array.from({ length: spec.partitions }, () => new PartitionLog()) });
  }

  async deleteTopic(name: string): Promise<void> {
    const topic = this.topics.get(name);
    this.topics.delete(name);
    for (const partition of topic?.partitions ?? []) {
      partition.deleted = true;
      this.bytes -= partition.bytes();
      this.records -= partition.end - partition.start;
    }
    for (const group of this.groups.values()) {
      for (const key of [...group.committed.keys()]) if (key.startsWith(`${name}\u0000`)) group.committed.delete(key);
      for (const member of group.members) member.topicDeleted(name);
    }
  }

  async describeTopic(name: string): Promise<TopicInfo | undefined> {
    const topic = this.topics.get(name);
    return topic === undefined ? undefined : { name, partitions: topic.partitions.length };
  }

  async append(topicName: string, records: readonly AppendRecord[]): Promise<AppendResult[]> {
    this.assertOpen();
    const topic = this.topics.get(topicName);
    if (topic === undefined) throw new BrokerError('TOPIC_NOT_FOUND', `topic ${topicName} does not exist`, { details: { topic: topicName } });
    const results: AppendResult[] = [];
    const now = this.now();
    for (const record of records) {
      const count = topic.partitions.length;
      const partition = record.key != null ? partitionForKey(record.key, count) : this.roundRobin++ % count;
      const log = topic.partitions[partition]!;
      const key = record.key ?? null;
      const headers = record.headers ?? {};
      const bytes = storedBytes(key, record.value, headers);
      const offset = log.append({ key, value: record.value, headers, timestamp: now, bytes });
      this.appendOrder.push(log);
      this.bytes += bytes;
      this.records++;
      results.push({ partition, offset: String(offset) });
    }
    this.enforceRetention();
    this.notify(topicName);
    return results;
  }

  async consume(options: ConsumeOptions): Promise<Consumer> {
    this.assertOpen();
    const group = this.group(options.groupId);
    const consumer = new MemoryConsumer(this, group, options);
    group.members.push(consumer);
    this.rebalance(group);
    return consumer;
  }

  async initGroup(groupId: string, topicName: string, position: StartPosition): Promise<void> {
    const topic = this.topics.get(topicName);
    if (topic === undefined) throw new BrokerError('TOPIC_NOT_FOUND', `topic ${topicName} does not exist`, { details: { topic: topicName } });
    const group = this.group(groupId);
    topic.partitions.forEach((log, partition) => {
      const key = tpKey(topicName, partition);
      if (!group.committed.has(key)) group.committed.set(key, position === 'latest' ? log.end : log.start);
    });
  }

  async deleteGroup(groupId: string): Promise<void> {
    const group = this.groups.get(groupId);
    if (group === undefined) return;
    if (group.members.length > 0) group.committed.clear();
    else this.groups.delete(groupId);
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async *read(topicName: string, options: ReadOptions = {}): AsyncIterable<Omit<ConsumedRecord, 'done'>> {
    const topic = this.topics.get(topicName);
    if (topic === undefined) throw new BrokerError('TOPIC_NOT_FOUND', `topic ${topicName} does not exist`, { details: { topic: topicName } });
    const ends = topic.partitions.map((log) => log.end);
    let left = options.limit ?? Number.POSITIVE_INFINITY;
    for (let partition = 0; partition < ends.length && left > 0; partition++) {
      const log = topic.partitions[partition]!;
      const from = Number(options.from?.get(partition) ?? 0);
      for (let offset = Math.max(log.start, from); offset < ends[partition]! && left > 0; offset++) {
        // Removed by retention while the reader was away: go on from what is left.
        const r = log.get(offset);
        if (r === undefined) continue;
        left--;
        yield { topic: topicName, partition, offset: String(offset), key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp };
      }
    }
  }

  async groupLag(groupId: string, topics: readonly string[]): Promise<PartitionLag[]> {
    const group = this.groups.get(groupId);
    const lags: PartitionLag[] = [];
    for (const name of topics) {
      this.topics.get(name)?.partitions.forEach((log, partition) => {
        const committed = group?.committed.get(tpKey(name, partition));
        // Records removed by retention are not behind: the group will never see them.
        const from = committed === undefined ? log.end : Math.max(committed, log.start);
        const records = Math.max(0, log.end - from);
        lags.push({
          topic: name, partition, committed: committed === undefined ? undefined : String(committed), end: String(log.end), records,
          oldestTimestamp: records > 0 ? log.meta(from)?.timestamp : undefined,
        });
      });
    }
    return lags;
  }

  async offsetsForTime(topicName: string, timestamp: number): Promise<PartitionOffset[]> {
    return this.existing(topicName).partitions.map((log, partition) => {
      // Timestamps are append times, so they only grow along a partition: the first at or after wins.
      let offset = log.start;
      while (offset < log.end && log.meta(offset)!.timestamp < timestamp) offset++;
      return { partition, offset: String(offset) };
    });
  }

  async offsetRange(topicName: string): Promise<PartitionRange[]> {
    return this.existing(topicName).partitions.map((log, partition) => ({ partition, start: String(log.start), end: String(log.end) }));
  }

  async setGroupOffsets(groupId: string, topicName: string, offsets: readonly PartitionOffset[]): Promise<void> {
    const topic = this.existing(topicName);
    const group = this.group(groupId);
    if (group.members.length > 0) {
      throw new BrokerError('GROUP_BUSY', `consumer group ${groupId} has ${group.members.length} active member(s); stop them first`, { details: { groupId } });
    }
    for (const { partition, offset } of offsets) {
      if (topic.partitions[partition] === undefined) throw new BrokerError('INVALID_REQUEST', `topic ${topicName} has no partition ${partition}`);
      if (!/^\d+$/.test(offset)) throw new BrokerError('INVALID_REQUEST', `offset ${offset} is not a non-negative integer`);
    }
    // Moved backwards as well as forwards, unlike a consumer's commit.
    for (const { partition, offset } of offsets) group.committed.set(tpKey(topicName, partition), Number(offset));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    for (const group of this.groups.values()) for (const member of [...group.members]) await member.close();
    this.closed = true;
    clearInterval(this.retentionTimer);
    const undelivered = this.undelivered();
    const total = undelivered.reduce((sum, u) => sum + u.records, 0);
    if (total > 0) {
      this.logger.warn(
        { undelivered, total },
        'in-memory event log closing: dropping accepted events that a consumer group has not finished (dev mode: they do not survive a restart)',
      );
    }
  }

  stats(): MemoryLogStats {
    return { records: this.records, bytes: this.bytes, removedRecords: this.removedRecords };
  }

  /**
   * Per topic that has consumer groups: the records past the slowest group's committed offset,
   * summed over partitions (a group with no offset for a partition counts from the log start).
   * Topics no group reads (a KafkaSink's dead letters) are left out: nobody is to deliver them.
   */
  undelivered(): UndeliveredCount[] {
    const counts: UndeliveredCount[] = [];
    for (const [name, topic] of [...this.topics].sort(([a], [b]) => a.localeCompare(b))) {
      const readers = [...this.groups.values()].filter((g) => g.members.some((m) => m.topics.includes(name)) || [...g.committed.keys()].some((k) => k.startsWith(`${name}\u0000`)));
      if (readers.length === 0) continue;
      let records = 0;
      topic.partitions.forEach((log, partition) => {
        const slowest = Math.min(...readers.map((g) => g.committed.get(tpKey(name, partition)) ?? log.start));
        records += log.end - Math.max(slowest, log.start);
      });
      if (records > 0) counts.push({ topic: name, records });
    }
    return counts;
  }

  /** Removes the oldest records while the log is over its byte bound or they are over age. */
  enforceRetention(): void {
    const oldestKept = this.now() - this.config.retentionMs;
    for (;;) {
      const partition = this.appendOrder.front();
      const first = partition?.first();
      if (partition === undefined || first === undefined) return;
      if (this.bytes <= this.config.retentionBytes && first.timestamp >= oldestKept) return;
      partition.removeFirst();
      this.appendOrder.shift();
      this.bytes -= first.bytes;
      this.records--;
      this.removedRecords++;
    }
  }

  // ---- internals used by MemoryConsumer ----

  /** @internal */
  partitionLog(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  /** @internal */
  startOffset(group: GroupState, topic: string, partition: number, start: StartPosition): number {
    const committed = group.committed.get(tpKey(topic, partition));
    if (committed !== undefined) return committed;
    const log = this.partitionLog(topic, partition);
    return start === 'earliest' ? (log?.start ?? 0) : (log?.end ?? 0);
  }

  /** @internal */
  commit(group: GroupState, topic: string, partition: number, offset: number): void {
    const key = tpKey(topic, partition);
    if ((group.committed.get(key) ?? -1) < offset) group.committed.set(key, offset);
  }

  /** @internal */
  leave(group: GroupState, member: MemoryConsumer): void {
    const index = group.members.indexOf(member);
    if (index >= 0) group.members.splice(index, 1);
    this.rebalance(group);
  }

  /** Range-free round-robin assignment of every partition of the group's topics over its members. */
  private rebalance(group: GroupState): void {
    const members = group.members;
    if (members.length === 0) return;
    const wanted = new Map<MemoryConsumer, TopicPartition[]>(members.map((m) => [m, []]));
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort();
    let i = 0;
    for (const topicName of topics) {
      const topic = this.topics.get(topicName);
      if (topic === undefined) continue;
      for (let partition = 0; partition < topic.partitions.length; partition++) {
        // Only members subscribed to the topic may own it.
        const candidates = members.filter((m) => m.topics.includes(topicName));
        const owner = candidates[i++ % candidates.length]!;
        wanted.get(owner)!.push({ topic: topicName, partition });
      }
    }
    // Revoke first (committing done prefixes), then assign: no partition has two owners.
    for (const member of members) member.revokeAllBut(wanted.get(member)!);
    for (const member of members) member.assign(wanted.get(member)!);
  }

  private notify(topic: string): void {
    for (const group of this.groups.values()) for (const member of group.members) if (member.topics.includes(topic)) member.schedule();
  }

  private group(groupId: string): GroupState {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = { committed: new Map(), members: [] };
      this.groups.set(groupId, group);
    }
    return group;
  }

  private existing(topicName: string): MemoryTopic {
    const topic = this.topics.get(topicName);
    if (topic === undefined) throw new BrokerError('TOPIC_NOT_FOUND', `topic ${topicName} does not exist`, { details: { topic: topicName } });
    return topic;
  }

  private assertOpen(): void {
    if (this.closed) throw new BrokerError('LOG_UNAVAILABLE', 'the in-memory event log is closed');
  }
}

interface Assignment {
  readonly topic: string;
  readonly partition: number;
  readonly offsets: PartitionOffsets;
  /** The next offset to hand out. */
  position: number;
}

class MemoryConsumer implements Consumer {
  readonly topics: readonly string[];
  private readonly assignments = new Map<string, Assignment>();
  private readonly maxInFlight: number;
  private readonly start: StartPosition;
  private paused = false;
  private closed = false;
  private scheduled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly log: MemoryEventLog,
    private readonly group: GroupState,
    private readonly options: ConsumeOptions,
  ) {
    this.topics = [...options.topics];
    this.maxInFlight = options.maxInFlight ?? 500;
    this.start = options.start ?? 'latest';
    this.timer = setInterval(() => void this.commit(), options.commitIntervalMs ?? 1000);
    this.timer.unref();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  async commit(): Promise<void> {
    for (const a of this.assignments.values()) this.commitOne(a);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.commit();
    this.closed = true;
    clearInterval(this.timer);
    this.assignments.clear();
    this.log.leave(this.group, this);
  }

  /** @internal */
  revokeAllBut(keep: readonly TopicPartition[]): void {
    const keepKeys = new Set(keep.map((tp) => tpKey(tp.topic, tp.partition)));
    const revoked: TopicPartition[] = [];
    for (const [key, a] of this.assignments) {
      if (keepKeys.has(key)) continue;
      this.commitOne(a);
      this.assignments.delete(key);
      revoked.push({ topic: a.topic, partition: a.partition });
    }
    if (revoked.length > 0) this.options.onRevoked?.(revoked);
  }

  /** @internal */
  assign(partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions) {
      const key = tpKey(topic, partition);
      if (this.assignments.has(key)) continue;
      const position = this.log.startOffset(this.group, topic, partition, this.start);
      this.assignments.set(key, { topic, partition, position, offsets: new PartitionOffsets(position) });
    }
    this.schedule();
  }

  /** @internal */
  topicDeleted(topic: string): void {
    for (const [key, a] of this.assignments) if (a.topic === topic) this.assignments.delete(key);
  }

  /** @internal Hands out records on a later tick, so that appends and done() never recurse. */
  schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private inFlight(): number {
    let n = 0;
    for (const a of this.assignments.values()) n += a.offsets.inFlight();
    return n;
  }

  private pump(): void {
    if (this.closed || this.paused) return;
    let inFlight = this.inFlight();
    // Take turns across partitions so that one busy partition does not starve the others.
    let progress = true;
    while (progress && inFlight < this.maxInFlight && !this.paused && !this.closed) {
      progress = false;
      for (const a of this.assignments.values()) {
        if (inFlight >= this.maxInFlight || this.paused || this.closed) break;
        const records = this.log.partitionLog(a.topic, a.partition);
        if (records === undefined) continue;
        if (a.position < records.start) this.resetToStart(a, records.start);
        if (a.position >= records.end) continue;
        const offset = a.position++;
        const stored = records.get(offset)!;
        a.offsets.handedOut(offset);
        inFlight++;
        progress = true;
        this.options.onRecord(this.toConsumed(a, offset, stored));
        if (!this.assignments.has(tpKey(a.topic, a.partition))) break;
      }
    }
  }

  /** The position was removed by retention: go on from the earliest record left, and say so. */
  private resetToStart(a: Assignment, start: number): void {
    const from = a.position;
    a.position = start;
    this.options.onOffsetReset?.({ groupId: this.options.groupId, topic: a.topic, partition: a.partition, from: String(from), to: String(start), reason: 'retention' });
  }

  private toConsumed(a: Assignment, offset: number, stored: StoredRecord): ConsumedRecord {
    let isDone = false;
    return {
      topic: a.topic,
      partition: a.partition,
      offset: String(offset),
      key: stored.key,
      value: stored.value,
      headers: stored.headers,
      timestamp: stored.timestamp,
      done: () => {
        if (isDone) return;
        isDone = true;
        // A record of a partition since revoked is ignored: its new owner redelivers it.
        if (this.assignments.get(tpKey(a.topic, a.partition)) !== a) return;
        a.offsets.done(offset);
        this.schedule();
      },
    };
  }

  private commitOne(a: Assignment): void {
    const point = a.offsets.toCommit();
    if (point === undefined) return;
    this.log.commit(this.group, a.topic, a.partition, point);
    a.offsets.markCommitted(point);
  }
}
