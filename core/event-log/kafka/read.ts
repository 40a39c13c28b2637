import { Consumer as FetchClient, type ClusterMetadata, type ClusterTopicMetadata } from '@platformatic/kafka';
import { BrokerError } from '../../errors.js';
import type { ConsumedRecord, Headers, ReadOptions } from '../port.js';
import type { KafkaAdmin, TopicOffsets } from './admin.js';
import { readCommitted } from '../platformatic/read-committed.js';
import { recordTimes } from '../platformatic/record-time.js';
import { kafkaErrorType, unavailable } from './errors.js';
import { PLAINTEXT, platformaticSecurity, type KafkaSecurity } from './security.js';

/*
 * Reading a topic without a consumer group. kafkajs can only fetch as a group member, so reads go
 * through @platformatic/kafka's low-level Fetch (one partition, one request at a time), which
 * needs no group: nothing is joined, committed or created on the cluster. The Consumer object of
 * that library wants a group id in its options; it is never used, as no method that joins is called.
 */

/** Bytes a single Fetch may bring back for one partition: what one read holds at a time. */
const FETCH_MAX_BYTES = 1024 * 1024;
type FetchResponse = Awaited<ReturnType<FetchClient['fetch']>>;
const UNUSED_GROUP = 'kafka-broker-reader-never-joined';
/** Kafka error codes of a partition fetch that mean "this topic or partition is gone". */
const UNKNOWN_TOPIC_CODES = new Set([3, 100]);

export interface TopicReaderOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly security?: KafkaSecurity | undefined;
}

/** One fetch client per event log, connected on first read. */
export class TopicReader {
  private client: FetchClient | undefined;
  private closed = false;

  constructor(private readonly options: TopicReaderOptions) {}

  /** Every record a topic holds now (or from `options.from`), oldest first per partition. */
  async *read(topics: KafkaAdmin, topic: string, options: ReadOptions = {}): AsyncIterable<Omit<ConsumedRecord, 'done'>> {
    const admin = await topics.connect();
    let ranges: TopicOffsets;
    try {
      ranges = await topics.topicOffsets(admin, topic);
    } catch (error) {
      if (kafkaErrorType(error) === 'UNKNOWN_TOPIC_OR_PARTITION') throw notFound(topic);
      throw unavailable(`cannot read topic ${topic}`, error);
    }
    let left = options.limit ?? Number.POSITIVE_INFINITY;
    if (left <= 0 || ranges.every((r) => BigInt(r.high) <= BigInt(r.low))) return;
    const where = await this.locate(topic);
    const sorted = [...ranges].sort((a, b) => a.partition - b.partition);
    for (const { partition, low, high } of sorted) {
      if (left <= 0) return;
      const asked = options.from?.get(partition);
      let offset = asked === undefined || BigInt(asked) < BigInt(low) ? BigInt(low) : BigInt(asked);
      const end = BigInt(high);
      while (offset < end && left > 0) {
        const fetched = await this.fetchOne(topic, where, partition, offset);
        let next = offset;
        for (const record of fetched.records) {
          if (record.offset < offset) continue;
          if (record.offset >= end || left <= 0) break;
          left--;
          next = record.offset + 1n;
          yield record.value;
        }
        // Nothing readable at `offset` (a control batch, or records removed meanwhile): move past
        // what the response covered, or to the log start if retention passed us.
        if (next === offset) next = fetched.after > offset ? fetched.after : fetched.logStart > offset ? fetched.logStart : end;
        offset = next;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => undefined);
  }

  private connect(): FetchClient {
    // A read still running when the log closes (a tail between polls) must not open a client
    // nobody closes: it would hold the process open.
    if (this.closed) throw unavailable('cannot read from Kafka', new Error('the event log is closed'));
    this.client ??= new FetchClient({
      clientId: `${this.options.clientId}-reader`,
      bootstrapBrokers: [...this.options.brokers],
      groupId: UNUSED_GROUP,
      retries: 3,
      timeout: 10_000,
      ...platformaticSecurity(this.options.security ?? PLAINTEXT),
    });
    return this.client;
  }

  /** The topic's id and partition leaders, asked afresh: a topic created again has a new id. */
  private async locate(topic: string): Promise<ClusterTopicMetadata> {
    let metadata: ClusterMetadata;
    try {
      metadata = await this.connect().metadata({ topics: [topic], forceUpdate: true });
    } catch (error) {
      throw unavailable(`cannot read metadata of topic ${topic}`, error);
    }
    const info = metadata.topics.get(topic);
    if (info === undefined) throw notFound(topic);
    return info;
  }

  /** One Fetch of one partition from `offset`; its records in order, and where the response ended. */
  private async fetchOne(topic: string, info: ClusterTopicMetadata, partition: number, offset: bigint): Promise<{ records: { offset: bigint; value: Omit<ConsumedRecord, 'done'> }[]; after: bigint; logStart: bigint }> {
    const leader = info.partitions[partition]?.leader;
    if (leader === undefined) throw notFound(topic);
    let response: FetchResponse;
    try {
      response = await this.connect().fetch({
        node: leader,
        maxWaitTime: 0,
        minBytes: 1,
        maxBytes: FETCH_MAX_BYTES,
        topics: [{ topicId: info.id, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: FETCH_MAX_BYTES, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      });
    } catch (error) {
      throw unavailable(`cannot read topic ${topic}`, error);
    }
    const answer = response.responses[0]?.partitions.find((p) => p.partitionIndex === partition);
    if (answer === undefined) throw unavailable(`cannot read topic ${topic}`, new Error(`no answer for partition ${partition}`));
    if (UNKNOWN_TOPIC_CODES.has(answer.errorCode)) throw notFound(topic);
    // OFFSET_OUT_OF_RANGE (1): retention removed the records at `offset`; go on from the log start.
    if (answer.errorCode === 1) return { records: [], after: offset, logStart: answer.logStartOffset };
    if (answer.errorCode !== 0) throw unavailable(`cannot read topic ${topic}`, new Error(`Kafka error code ${answer.errorCode} fetching partition ${partition}`));
    const records: { offset: bigint; value: Omit<ConsumedRecord, 'done'> }[] = [];
    let after = offset;
    // As a consumer reads (read committed): no transaction markers, nothing an aborted transaction wrote.
    const committed = readCommitted(answer.abortedTransactions);
    for (const batch of answer.records ?? []) {
      const batchEnd = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
      if (batchEnd > after) after = batchEnd;
      if (!committed(batch)) continue;
      const timeOf = recordTimes(batch);
      for (const r of batch.records) {
        const at = batch.firstOffset + BigInt(r.offsetDelta);
        records.push({
          offset: at,
          value: {
            topic,
            partition,
            offset: at.toString(),
            // @platformatic/kafka reads a null key as an empty one; a keyless record has a null key.
            key: r.key.length === 0 ? null : r.key,
            value: r.value,
            headers: headersOf(r.headers),
            timestamp: timeOf(r.timestampDelta),
          },
        });
      }
    }
    return { records, after, logStart: answer.logStartOffset };
  }
}

function headersOf(raw: readonly [Buffer | null, Buffer | null][]): Headers {
  // Header names come over the wire: a null-prototype object, never a plain one.
  const headers = Object.create(null) as Record<string, Buffer>;
  for (const [name, value] of raw) if (name !== null && value !== null) headers[name.toString('utf8')] = value;
  return headers;
}

function notFound(topic: string): BrokerError {
  return new BrokerError('TOPIC_NOT_FOUND', `topic ${topic} does not exist`, { details: { topic } });
}
