import { Partitioners, type IHeaders, type Kafka } from 'kafkajs';
import { BrokerError } from '../../errors.js';
import { partitionForKey } from '../partitioner.js';
import type { AppendRecord, AppendResult } from '../port.js';
import type { KafkaAdmin } from './admin.js';
import { kafkaErrorType, tooLargeFor, unavailable } from './errors.js';

/** kafkajs's retries of one produce request; within an append's timeout on a reachable Kafka. */
const PRODUCE_RETRIES = 5;

/** One record of a produce request, its partition chosen already. */
export interface OutgoingRecord {
  readonly topic: string;
  readonly partition: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer>>;
}

/**
 * A connected producer of one client library (kafkajs here, @platformatic/kafka in
 * ../platformatic/producer.ts): idempotent where it can be with bounded retries, acks=all.
 */
export interface BatchProducer {
  /** Sends the records in one request; resolves with each topic-partition's base offset (key `topic\u0000partition`). */
  send(records: readonly OutgoingRecord[]): Promise<Map<string, bigint>>;
  close(): Promise<void>;
}

/** Makes producers, and says whether a failed send means a topic it wrote to is gone. */
export interface ProducerFactory {
  create(): Promise<BatchProducer>;
  topicGone(error: unknown): boolean;
}

export interface AppenderOptions {
  /** How long an append may wait for Kafka before it fails with LOG_UNAVAILABLE. */
  readonly appendTimeoutMs: number;
  /** Produce requests in flight at once; 1 keeps per-partition order even across retries. */
  readonly maxInFlightBatches: number;
  /**
   * How long the first append of a batch may wait for others to join it before the batch is sent
   * (Kafka's producer `linger.ms`); a batch waiting for the request in flight has waited already
   * and goes as soon as that is answered. 0 sends at once. Default 0.
   */
  readonly lingerMs?: number | undefined;
}

/**
 * Appending, on either client library (a ProducerFactory: kafkajsProducers below, or
 * ../platformatic/producer.ts). Appends are coalesced: while one produce request is in flight,
 * new appends queue up and go out together in the next request (acks=all), so throughput grows
 * with concurrency; and the first append of a batch waits up to `lingerMs` for others to join it.
 * Partitions are chosen here (Kafka's murmur2 for keys, round-robin otherwise) so each append
 * learns its own partition and offset from the batch response.
 *
 * Idempotent. kafkajs numbers each partition's records per producer id, and Kafka drops a resent
 * batch it already holds, answering with the offsets it first gave: a produce request retried
 * after a lost answer (connection cut or timed out after the write) is written once. kafkajs would
 * retry an idempotent producer forever; ours retries a bounded number of times (kafkajs then warns
 * once that exactly-once may not hold), and each append is bounded by appendTimeoutMs anyway.
 * After a send that failed, kafkajs has not moved its sequence numbers, though the write may have
 * landed: the next batch would reuse them, and Kafka take it for a duplicate (dropped, yet
 * acknowledged) or refuse it as out of order. So a failed send retires its producer; the next
 * starts with a new producer id.
 */
export class KafkaAppender {
  private producer: BatchProducer | undefined;
  private producerStale = false;
  private producerConnecting: Promise<BatchProducer> | undefined;
  private readonly queue: Pending[] = [];
  private inFlightBatches = 0;
  private roundRobin = 0;
  /** Sends the queue once its first append has lingered lingerMs; set while one is pending. */
  private lingerTimer: NodeJS.Timeout | undefined;
  /** When the first append of the queue arrived (performance.now()). */
  private queuedSince = 0;

  constructor(
    private readonly factory: ProducerFactory,
    private readonly topics: Pick<KafkaAdmin, 'partitionCountForAppend' | 'forgetPartitionCount'>,
    private readonly options: AppenderOptions,
  ) {}

  append(topic: string, records: readonly AppendRecord[]): Promise<AppendResult[]> {
    if (records.length === 0) return Promise.resolve([]);
    return new Promise<AppendResult[]>((resolve, reject) => {
      const pending: Pending = { topic, records, resolve, reject, settled: false, timer: undefined };
      pending.timer = setTimeout(() => settle(pending, new BrokerError('LOG_UNAVAILABLE', `Kafka did not confirm the write within ${this.options.appendTimeoutMs} ms`)), this.options.appendTimeoutMs);
      if (this.queue.length === 0) this.queuedSince = performance.now();
      this.queue.push(pending);
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlightBatches >= this.options.maxInFlightBatches || this.queue.length === 0) return;
    // Each produce request costs a write and a response to parse, whatever it carries: while the
    // first append of the queue is younger than lingerMs, later ones may join it (Kafka's linger.ms).
    const linger = this.options.lingerMs ?? 0;
    if (linger > 0) {
      const wait = this.queuedSince + linger - performance.now();
      if (wait > 0.05) {
        this.lingerTimer ??= setTimeout(() => {
          this.lingerTimer = undefined;
          this.queuedSince = -Infinity;
          this.flush();
        }, wait);
        return;
      }
      if (this.lingerTimer !== undefined) {
        clearTimeout(this.lingerTimer);
        this.lingerTimer = undefined;
      }
    }
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
      const outgoing: OutgoingRecord[] = [];
      const placements: { pending: Pending; partitions: number[] }[] = [];
      const live: Pending[] = [];
      // Asked once per topic, not once per append: a batch is mostly one topic's.
      const counts = new Map<string, number | undefined>();
      for (const pending of batch) {
        let count: number | undefined;
        if (counts.has(pending.topic)) count = counts.get(pending.topic);
        else {
          count = await this.topics.partitionCountForAppend(pending.topic);
          counts.set(pending.topic, count);
        }
        if (count === undefined) {
          settle(pending, new BrokerError('TOPIC_NOT_FOUND', `topic ${pending.topic} does not exist`, { details: { topic: pending.topic } }));
          continue;
        }
        live.push(pending);
        const partitions: number[] = [];
        for (const record of pending.records) {
          const partition = record.key != null ? partitionForKey(record.key, count) : this.roundRobin++ % count;
          partitions.push(partition);
          outgoing.push({ topic: pending.topic, partition, key: record.key ?? null, value: record.value, headers: record.headers ?? {} });
        }
        placements.push({ pending, partitions });
      }
      if (live.length === 0) return;
      const next = nextOffsets(await producer.send(outgoing));
      for (const { pending, partitions } of placements) {
        // The records of a partition got consecutive offsets from its base, in the order sent.
        let offsets = next.get(pending.topic);
        if (offsets === undefined) next.set(pending.topic, (offsets = []));
        const results = partitions.map((partition) => {
          const offset = offsets[partition] ?? 0;
          // Past 2^53 - 1 a number no longer counts exactly: on in BigInt.
          offsets[partition] = typeof offset !== 'number' ? offset + 1n : offset < Number.MAX_SAFE_INTEGER ? offset + 1 : BigInt(offset) + 1n;
          return { partition, offset: String(offset) };
        });
        settle(pending, undefined, results);
      }
    } catch (error) {
      // A topic is gone — this one, or another this producer wrote to, which then fails every
      // send (see renew): start a fresh producer.
      const topicGone = this.factory.topicGone(error);
      // Also: the failed send's sequence numbers are spent (see the class comment).
      this.producerStale = true;
      // Kafka judges a record batch as a whole: the appends that shared it with one too large
      // for its topic each get a verdict of their own, sent alone.
      const unsettled = batch.filter((p) => !p.settled);
      if (unsettled.length > 1 && tooLargeFor(error) !== undefined) {
        for (const pending of unsettled) await this.send([pending]);
        return;
      }
      for (const pending of batch) {
        if (topicGone) this.topics.forgetPartitionCount(pending.topic);
        settle(pending, unavailable('Kafka did not take the write', error));
      }
    }
  }

  /**
   * Connects the producer and learns the topics' partition counts before the first append needs
   * them, so that the first events after start-up do not wait for both (issue 17). Failures are
   * left for the appends to report.
   */
  async prepare(topics: readonly string[]): Promise<void> {
    await Promise.all([
      this.connectProducer().catch(() => undefined),
      ...topics.map((topic) => this.topics.partitionCountForAppend(topic).catch(() => undefined)),
    ]);
  }

  /**
   * Use a fresh producer from the next send: kafkajs keeps every topic a producer wrote to in its
   * metadata requests, and fails all later sends once one of them is gone.
   */
  renew(): void {
    this.producerStale = true;
  }

  /** Fails what is queued, and disconnects. */
  async close(): Promise<void> {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    for (const pending of this.queue.splice(0)) settle(pending, new BrokerError('LOG_UNAVAILABLE', 'the Kafka event log is closing'));
    await this.producer?.close().catch(() => undefined);
  }

  private async connectProducer(): Promise<BatchProducer> {
    if (this.producerStale && this.producer !== undefined) {
      const old = this.producer;
      this.producer = undefined;
      // Let sends still in flight on it finish before it goes.
      setTimeout(() => void old.close().catch(() => undefined), 30_000).unref();
    }
    this.producerStale = false;
    if (this.producer !== undefined) return this.producer;
    this.producerConnecting ??= (async () => {
      const producer = await this.factory.create();
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
}

/**
 * A send's base offsets by topic, indexed by partition: as numbers while they are exact (Kafka's
 * offsets would take centuries to pass 2^53), which costs far less per record than BigInt
 * arithmetic and a `topic\u0000partition` key built for each.
 */
function nextOffsets(bases: ReadonlyMap<string, bigint>): Map<string, (number | bigint)[]> {
  const byTopic = new Map<string, (number | bigint)[]>();
  for (const [key, base] of bases) {
    const split = key.lastIndexOf('\u0000');
    const topic = key.slice(0, split);
    let offsets = byTopic.get(topic);
    if (offsets === undefined) byTopic.set(topic, (offsets = []));
    offsets[Number(key.slice(split + 1))] = base <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(base) : base;
  }
  return byTopic;
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

/**
 * kafkajs producers. Idempotent with bounded retries: kafkajs's default for an idempotent producer
 * is to retry forever, and a write that cannot be made must fail (503) rather than hang. kafkajs
 * needs one request in flight per connection for idempotence. acks=all keeps confirmed writes durable.
 */
export function kafkajsProducers(kafka: Kafka): ProducerFactory {
  return {
    // UNKNOWN_TOPIC_OR_PARTITION (Kafka error 3), under kafkajs's KafkaJSNumberOfRetriesExceeded.
    topicGone: (error) => kafkaErrorType(error) === 'UNKNOWN_TOPIC_OR_PARTITION',
    create: async () => {
      const producer = kafka.producer({
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        idempotent: true,
        maxInFlightRequests: 1,
        retry: { retries: PRODUCE_RETRIES, initialRetryTime: 100, maxRetryTime: 2000 },
      });
      await producer.connect();
      return {
        close: () => producer.disconnect(),
        send: async (records) => {
          const perTopic = new Map<string, { partition: number; key: Buffer | null; value: Buffer | null; headers: IHeaders }[]>();
          for (const { topic, partition, key, value, headers } of records) {
            const list = perTopic.get(topic) ?? [];
            perTopic.set(topic, list);
            list.push({ partition, key, value, headers: headers as IHeaders });
          }
          const response = await producer.sendBatch({ acks: -1, topicMessages: [...perTopic].map(([topic, messages]) => ({ topic, messages })) });
          const offsets = new Map<string, bigint>();
          for (const meta of response) offsets.set(`${meta.topicName}\u0000${meta.partition}`, BigInt(meta.baseOffset ?? '0'));
          return offsets;
        },
      };
    },
  };
}
