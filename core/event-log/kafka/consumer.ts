import type { Consumer as KafkaConsumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from '../../logger.js';
import { PartitionOffsets } from '../offsets.js';
import type { ConsumedRecord, ConsumeOptions, Consumer, Headers, TopicPartition } from '../port.js';
import type { KafkaAdmin } from './admin.js';
import { kafkaErrorType } from './errors.js';
import { wireObject } from '../../wire-object.js';

/*
 * Consuming. Consumers never wait on slow work inside kafkajs's fetch loop — kafkajs heartbeats
 * only between batches — so records are handed out and the loop returns at once; when
 * `maxInFlight` records are out and not done, the consumer waits for a free slot inside the batch
 * (heartbeating), and a paused one leaves the rest of the batch unresolved, to be fetched again
 * on resume.
 *
 * Out-of-range positions. kafkajs resets a position the log no longer holds (retention passed
 * it, or the head was deleted) by the subscription's `fromBeginning`, the same flag that places a
 * group without commits. We always subscribe with `fromBeginning: true`, so a lost position
 * resumes at the earliest record left rather than skipping everything still retained, and place a
 * new group ourselves first (`initGroup`, the controller's own step) when it is to start at the end.
 * The skip is then seen from data: a partition's first record after a join (or after a jump)
 * lies beyond the offset expected, and the log start says the records between are gone.
 *
 * Rebalances (issue 19). A member keeps the state of the partitions it still owns after a join —
 * its position and its commit tracker — so work in flight across the rebalance is committed when
 * done, and what kafkajs fetches again from the last commit is skipped. A rebalance seen while
 * handing out a batch first gives the work in flight a short grace to finish and commits it,
 * before kafkajs rejoins: Kafka still takes commits while the group prepares to rebalance, and
 * the partitions that move then start where this member stopped, not at its last periodic commit.
 * A member that comes back under a new member id (its session expired: Kafka restarted, the link
 * stalled) keeps its state too, but was out of the group, and another member may have committed
 * further meanwhile: its commits for those partitions wait until it has read the group's
 * committed offsets, and never go below them.
 */

/** How long in-flight work may take to finish when a rebalance is seen (well under the session timeout). */
const REVOKE_GRACE_MS = 3000;

interface PartitionState {
  readonly offsets: PartitionOffsets;
  /** The next offset to hand out; batches kafkajs hands us again below it are skipped. */
  position: number;
  /** Kept across a join under a new member id: no commit until the group's committed offset is known. */
  resync: boolean;
}

/**
 * One member of one consumer group. Per-partition offset tracking survives a join for the
 * partitions the member keeps; a partition it loses is forgotten, and records of it finished after
 * the join are ignored (its new owner delivers them again: at-least-once).
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
  /** The group's committed offsets as of the last join: where each partition is expected to resume. */
  private committedAtJoin: Promise<Map<string, number> | undefined> = Promise.resolve(new Map());
  /** The member id of the last join; another one means this member was out of the group. */
  private memberId: string | undefined;

  constructor(
    kafka: Kafka,
    private readonly admin: KafkaAdmin,
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
      // kafkajs decodes a whole fetch response at once, on the event loop: after any pause a 10 MiB
      // default (thousands of records) was one stall of tens of ms for every request in the
      // process (issue 17's tail). Past maxInFlight records a batch only waits anyway; Kafka still
      // returns a first record larger than these.
      maxBytes: 1024 * 1024,
      maxBytesPerPartition: 256 * 1024,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5000 },
    });
  }

  async start(): Promise<void> {
    const joined = new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => reject(new Error('timed out joining the group')), 60_000);
      timeout.unref();
      this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
        this.onJoin(event.payload.memberId, event.payload.memberAssignment);
        this.committedAtJoin = this.committedOffsets();
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
    // A group without commits starts where asked; from then on every reset goes to the earliest.
    for (const topic of this.options.topics) await this.admin.initGroup(this.options.groupId, topic, this.options.start ?? 'latest');
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.options.topics], fromBeginning: true });
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
    await this.resync();
    const topicPartitions: { topic: string; partition: number; offset: string }[] = [];
    const marks: { state: PartitionState; offset: number }[] = [];
    for (const [key, state] of this.partitions) {
      if (state.resync) continue;
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

  /** Partitions kept under a new member id: commit from now on only past what the group has committed. */
  private async resync(): Promise<void> {
    if (![...this.partitions.values()].some((state) => state.resync)) return;
    const committed = await this.committedOffsets();
    if (committed === undefined) return; // tried again at the next commit
    for (const [key, state] of this.partitions) {
      if (!state.resync) continue;
      const offset = committed.get(key);
      if (offset !== undefined) state.offsets.markCommitted(offset);
      state.resync = false;
    }
  }

  /** The group's committed offsets (none for a partition without a commit); undefined when Kafka cannot say. */
  private async committedOffsets(): Promise<Map<string, number> | undefined> {
    const found = new Map<string, number>();
    try {
      const admin = await this.admin.connect();
      const answers = await admin.fetchOffsets({ groupId: this.options.groupId, topics: [...this.options.topics] });
      for (const { topic, partitions } of answers) {
        for (const p of partitions) if (Number(p.offset) >= 0) found.set(`${topic}\u0000${p.partition}`, Number(p.offset));
      }
    } catch (error) {
      this.logger.debug({ err: error, groupId: this.options.groupId }, 'cannot read committed offsets');
      return undefined;
    }
    return found;
  }

  /**
   * The partition resumed at `first` where `expected` was due. When the log start has passed
   * `expected`, the records `[expected, min(first, log start))` are gone unread: report them.
   * A gap the log start does not explain (compaction, transaction markers) is not a skip.
   */
  private async checkSkipped(topic: string, partition: number, expected: number, first: number): Promise<void> {
    if (first <= expected) return;
    let low: number;
    try {
      const admin = await this.admin.connect();
      const offsets = await this.admin.topicOffsets(admin, topic);
      low = Number(offsets.find((o) => o.partition === partition)?.low ?? -1);
    } catch (error) {
      this.logger.warn({ err: error, groupId: this.options.groupId, topic, partition }, 'cannot read the log start offset to check for skipped records');
      return;
    }
    if (low <= expected) return;
    const reset = { groupId: this.options.groupId, topic, partition, from: String(expected), to: String(Math.min(first, low)), reason: 'out-of-range' as const };
    if (this.options.onOffsetReset !== undefined) this.options.onOffsetReset(reset);
    else this.logger.error(reset, 'records skipped: the committed position was no longer in the log; resumed at the earliest record left');
  }

  private onJoin(memberId: string, assignment: Record<string, number[]>): void {
    const keep = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment)) for (const p of partitions) keep.add(`${topic}\u0000${p}`);
    const sameMember = this.memberId === memberId;
    this.memberId = memberId;
    const revoked: TopicPartition[] = [];
    for (const key of [...this.partitions.keys()]) {
      if (!keep.has(key)) {
        const [topic, partition] = splitKey(key);
        revoked.push({ topic, partition });
        this.partitions.delete(key);
      } else if (!sameMember) {
        this.partitions.get(key)!.resync = true;
      }
    }
    // Only the kept partitions' records still count against the bound.
    this.inFlight = 0;
    for (const state of this.partitions.values()) this.inFlight += state.offsets.inFlight();
    this.slotFreed?.();
    this.applyPause();
    if (revoked.length > 0) this.options.onRevoked?.(revoked);
  }

  private async onBatch({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> {
    if (this.closing || this.userPaused) return;
    const key = `${batch.topic}\u0000${batch.partition}`;
    let state = this.partitions.get(key);
    const firstMessage = batch.messages[0];
    if (state === undefined) {
      const first = Number(batch.firstOffset() ?? firstMessage?.offset ?? 0);
      const expected = (await this.committedAtJoin)?.get(key);
      // The join may have been superseded while waiting: this batch then belongs to no one.
      if (this.closing || this.partitions.has(key)) return;
      state = { offsets: new PartitionOffsets(first), position: first, resync: false };
      this.partitions.set(key, state);
      if (expected !== undefined && firstMessage !== undefined) await this.checkSkipped(batch.topic, batch.partition, expected, Number(firstMessage.offset));
    } else if (firstMessage !== undefined && Number(firstMessage.offset) > state.position) {
      await this.checkSkipped(batch.topic, batch.partition, state.position, Number(firstMessage.offset));
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
          await this.heartbeatOrSettle(heartbeat);
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
    await this.heartbeatOrSettle(heartbeat);
  }

  /**
   * kafkajs's heartbeat; when it says the group is rebalancing, first let the work in flight
   * finish (for a short while) and commit it, then let kafkajs rejoin.
   */
  private async heartbeatOrSettle(heartbeat: () => Promise<void>): Promise<void> {
    try {
      await heartbeat();
    } catch (error) {
      if (kafkaErrorType(error) === 'REBALANCE_IN_PROGRESS') await this.settleBeforeRejoin();
      throw error;
    }
  }

  private async settleBeforeRejoin(): Promise<void> {
    const deadline = Date.now() + REVOKE_GRACE_MS;
    while (this.inFlight > 0 && !this.closing && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.slotFreed = resolve;
        setTimeout(resolve, Math.min(100, Math.max(0, deadline - Date.now()))).unref();
      });
      this.slotFreed = undefined;
    }
    await this.commit();
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
  // Header names come from the wire: a plain object would take `__proto__` as its prototype.
  const headers = wireObject<Buffer>();
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value === undefined) continue;
    const v = Array.isArray(value) ? value[value.length - 1] : value;
    if (v !== undefined) headers[name] = Buffer.isBuffer(v) ? v : Buffer.from(String(v));
  }
  return {
    topic,
    partition,
    offset: message.offset,
    // An empty key is no key: @platformatic/kafka (1.22) writes a null key as an empty one.
    key: message.key === null || message.key.length === 0 ? null : message.key,
    value: message.value ?? null,
    headers: headers as Headers,
    timestamp: Number(message.timestamp),
  };
}

function splitKey(key: string): [string, number] {
  const i = key.lastIndexOf('\u0000');
  return [key.slice(0, i), Number(key.slice(i + 1))];
}
