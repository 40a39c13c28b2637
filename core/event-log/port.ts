/**
 * The event log port: everything the broker needs from a log, and nothing more.
 *
 * Two adapters implement it — `kafka/adapter.ts` (production) and `memory.ts` (development,
 * tests) — and one contract suite (`test/contract/event-log.suite.ts`) runs against both, so the
 * data plane can be handed either without knowing which.
 *
 * Delivery model: a consumer hands out records one by one; each carries `done()`. The adapter
 * commits, per partition, only the contiguous prefix of done records (offset 3 done before 2
 * commits nothing past 1). Records not done when a member leaves are redelivered to whoever takes
 * the partition over: at-least-once, never loss.
 */

export type Headers = Readonly<Record<string, Buffer>>;

/** A record to append. `key` decides the partition (same key, same partition, same order). */
export interface AppendRecord {
  readonly key?: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Headers;
}

/** Where an appended record landed. Offsets are decimal strings: Kafka offsets are int64. */
export interface AppendResult {
  readonly partition: number;
  readonly offset: string;
}

export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Headers;
  /** Milliseconds since the epoch at which the record was appended. */
  readonly timestamp: number;
  /**
   * Marks the record as done (delivered, dead-lettered or filtered out). Idempotent. After a
   * partition was revoked from this member the call is ignored: the new owner redelivers it.
   */
  done(): void;
  /**
   * Puts copies of its own in place of key, value and header values that are views of a larger
   * buffer (the whole fetch they came in), so that a record kept for long (a delivery waiting to
   * be retried) keeps only its own bytes alive. Absent where records own their bytes already.
   */
  detach?(): void;
}

export type StartPosition = 'earliest' | 'latest';

export interface ConsumeOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a group with no committed offset starts. Default 'latest'. */
  readonly start?: StartPosition;
  /**
   * The most records handed out and not yet done, per consumer. At the bound the adapter stops
   * fetching; this bound is what caps memory under lag. Default 500.
   */
  readonly maxInFlight?: number;
  /** How often completed prefixes are committed, in ms. Default 1000. */
  readonly commitIntervalMs?: number;
  /** Called with each record, in partition order. Must not block: start async work and return. */
  readonly onRecord: (record: ConsumedRecord) => void;
  /** Called when partitions are taken from this member (after their done prefix is committed). */
  readonly onRevoked?: (partitions: readonly TopicPartition[]) => void;
  /**
   * Called when a partition's position is gone from the log (removed by retention) and the
   * consumer jumps to the earliest record still there: records `[from, to)` were never handed out
   * to this group. The consumer's owner logs it and counts it; the adapter goes on either way.
   */
  readonly onOffsetReset?: (reset: OffsetReset) => void;
}

/** A position that was no longer in the log, and where consumption went on instead. */
export interface OffsetReset {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  /** The offset the group wanted to read next (no longer in the log). */
  readonly from: string;
  /** The offset it reads next instead: the earliest still retained. */
  readonly to: string;
  /** Why: records removed by retention (memory), or an out-of-range position (Kafka). */
  readonly reason: 'retention' | 'out-of-range';
}

/**
 * Where and how much `EventLog.read` reads. Offsets are per partition (decimal strings): the
 * first offset to read; a partition left out is read from its start.
 */
export interface ReadOptions {
  readonly from?: ReadonlyMap<number, string>;
  /** Stop after this many records (over all partitions). Default: no limit. */
  readonly limit?: number;
}

/** One partition's offset (a decimal string): a position to read or commit. */
export interface PartitionOffset {
  readonly partition: number;
  readonly offset: string;
}

/** A partition's retained range: `start` is the earliest offset held, `end` the offset the next append gets. */
export interface PartitionRange {
  readonly partition: number;
  readonly start: string;
  readonly end: string;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface Consumer {
  /** Stops handing out records (records already handed out stay valid). */
  pause(): void;
  resume(): void;
  /** Commits the done prefix of every assigned partition now. */
  commit(): Promise<void>;
  /** Commits what is done, leaves the group. Records not done are redelivered to other members. */
  close(): Promise<void>;
}

/** How far a consumer group is behind on one partition (for lag metrics, read at scrape time). */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** The group's committed offset (the next record it reads), or undefined when it has none. */
  readonly committed: string | undefined;
  /** The log's end offset (the offset the next appended record gets). */
  readonly end: string;
  /** Records past the committed offset: `end - committed`; 0 for a group with no offset (it starts at the end). */
  readonly records: number;
  /** Append time of the first record past the committed offset, when the adapter knows it cheaply (memory). */
  readonly oldestTimestamp?: number | undefined;
}

export interface TopicSpec {
  readonly partitions: number;
  readonly replicationFactor: number;
  /** Extra topic configuration, e.g. `retention.ms`. */
  readonly config?: Readonly<Record<string, string>>;
}

export interface TopicInfo {
  readonly name: string;
  readonly partitions: number;
}

export interface EventLog {
  /** 'kafka' or 'memory': for logs and status, never for branching in the data plane. */
  readonly kind: 'kafka' | 'memory';
  /** Creates the topic if it does not exist; an existing topic is left as it is. */
  ensureTopic(name: string, spec: TopicSpec): Promise<void>;
  /** Deletes the topic; a missing topic is not an error. */
  deleteTopic(name: string): Promise<void>;
  /** The topic's partition count, or undefined when it does not exist. */
  describeTopic(name: string): Promise<TopicInfo | undefined>;
  /**
   * Appends records to one topic and resolves only once every one is durable (Kafka: acks=all).
   * Rejects with a `BrokerError` of kind TOPIC_NOT_FOUND or LOG_UNAVAILABLE; then nothing may be
   * assumed written.
   */
  append(topic: string, records: readonly AppendRecord[]): Promise<AppendResult[]>;
  /**
   * Optional: gets ready to append to these topics (Kafka: connects the producer, reads the
   * partition counts), so the first appends do not wait for it. Never rejects.
   */
  prepareAppends?(topics: readonly string[]): Promise<void>;
  /** Joins a consumer group; resolves once the member has joined. */
  consume(options: ConsumeOptions): Promise<Consumer>;
  /**
   * Fixes where a group starts, if it has no committed offsets yet: commits the topic's current
   * end ('latest') or start ('earliest') for every partition. A group with offsets is untouched.
   * Lets the controller report a Trigger Ready only once its starting position is fixed.
   */
  initGroup(groupId: string, topic: string, position: StartPosition): Promise<void>;
  /** Deletes a group's committed offsets; a missing group is not an error. */
  deleteGroup(groupId: string): Promise<void>;
  /** Whether the log answers (for readiness). */
  ping(): Promise<boolean>;
  /**
   * Reads a topic without a consumer group (no group is created, nothing is committed or moved),
   * for inspection. Yields records in offset order per partition, partitions one after another,
   * from `options.from` (else each partition's start) up to the end offsets as of the call, at
   * most `options.limit` of them. Holds at most one fetch's worth of records at a time.
   */
  read(topic: string, options?: ReadOptions): AsyncIterable<Omit<ConsumedRecord, 'done'>>;
  /**
   * Per partition of each topic: the group's committed offset against the log's end offset.
   * Optional (an additive part of the port): an adapter without it has no lag metrics.
   */
  groupLag?(groupId: string, topics: readonly string[]): Promise<PartitionLag[]>;
  /**
   * Per partition: the first offset whose record was appended at or after `timestamp` (ms since
   * the epoch), or the end offset when there is none (Kafka's offsets-for-times). Optional, as
   * the three below: what rewinding a group needs; rejects TOPIC_NOT_FOUND for a missing topic.
   */
  offsetsForTime?(topic: string, timestamp: number): Promise<PartitionOffset[]>;
  /** Per partition: the earliest retained offset and the end offset. */
  offsetRange?(topic: string): Promise<PartitionRange[]>;
  /**
   * Commits these offsets for a group that has no active member (the dispatcher stops its own
   * member first); rejects GROUP_BUSY, changing nothing, while any member is in the group.
   * Partitions left out keep their committed offsets.
   */
  setGroupOffsets?(groupId: string, topic: string, offsets: readonly PartitionOffset[]): Promise<void>;
  close(): Promise<void>;
}
