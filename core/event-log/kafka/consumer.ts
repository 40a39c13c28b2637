import type { Consumer as KafkaConsumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from '../../logger.js';
import { PartitionOffsets } from '../offsets.js';
import type { ConsumedRecord, ConsumeOptions, Consumer, Headers, TopicPartition } from '../port.js';

/*
 * Consuming. Consumers never wait on slow work inside kafkajs's fetch loop — kafkajs heartbeats
 * only between batches — so records are handed out and the loop returns at once; when
 * `maxInFlight` records are out and not done, the consumer waits for a free slot inside the batch
 * (heartbeating), and a paused one leaves the rest of the batch unresolved, to be fetched again
 * on resume.
 */

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
export class KafkaGroupConsumer implements Consumer {
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

export function toRecord(topic: string, partition: number, message: KafkaMessage): Omit<ConsumedRecord, 'done'> {
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
