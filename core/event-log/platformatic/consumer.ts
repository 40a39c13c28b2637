import { Consumer as GroupClient, type GroupAssignment } from '@platformatic/kafka';
import { withTimeout } from '../../async.js';
import { ByteStrings } from '../../byte-strings.js';
import type { Logger } from '../../logger.js';
import { ownBytes } from '../../owned-bytes.js';
import { wireObject } from '../../wire-object.js';
import type { KafkaAdmin } from '../kafka/admin.js';
import { PartitionOffsets } from '../offsets.js';
import type { ConsumedRecord, ConsumeOptions, Consumer, Headers, TopicPartition } from '../port.js';
import { platformaticBaseOptions, type PlatformaticConnection } from './client.js';
import { hasProtocolError, protocolErrorIds } from './errors.js';
import { readFetchFromOneBuffer } from './fetch-response.js';
import { readCommitted } from './read-committed.js';
import { recordTimes } from './record-time.js';

/*
 * One consumer-group member on @platformatic/kafka. The library's Consumer does the group part
 * (JoinGroup/SyncGroup, heartbeats on its own timer, rejoining when told to) and the requests
 * (Fetch, OffsetCommit, OffsetFetch); the fetch loop is ours, not the library's MessagesStream:
 * that stream commits a record's own offset (Kafka's convention, and kafkajs's, is the next one to
 * read), destroys itself on a fetch error such as an out-of-range position, and cannot bound what
 * is handed out and not done.
 *
 * What a fetch brings is kept per partition and handed out round-robin across partitions while
 * fewer than `maxInFlight` records are out, so a slot freed costs no fetch and an ordered consumer
 * has work on every partition at once.
 *
 * Fetching. Each partition leader (broker) is fetched on its own: one Fetch at a time per leader,
 * for the partitions it leads, and when it answers that leader is fetched again without waiting for
 * the others. A leader whose partitions are idle holds its Fetch at the broker for the whole wait
 * (250 ms); waiting for it held back the records of every other leader that long (docs/latency.md).
 * A partition is in one Fetch at most, so positions never race. Fetches start while fewer than a
 * few times `maxInFlight` records (and BUFFERED_BYTES_LOW bytes) wait in buffers, so what is held
 * is bounded by about one fetch (FETCH_MAX_BYTES) per leader more than that. A partition with
 * records still buffered is asked for too, from past them: Kafka answers one request at a time per
 * connection, so a Fetch of only the idle partitions would sit at the broker for its whole wait
 * while the busy one ran dry and waited behind it (issue 17); asked for, its next records end the
 * wait as they are appended. A leader whose Fetch failed (it may have moved) rests half a second
 * while the metadata is read again; the others go on. Heartbeats depend on none of this, so slow
 * subscribers never cost the membership.
 *
 * Joins. A join that keeps the member id keeps the state of the partitions it still owns (work in
 * flight is committed when done); a partition lost is forgotten (its records finished later are
 * ignored: the new owner delivers them again). A join under a new member id (the session expired)
 * starts every partition over from the group's committed offsets.
 *
 * Positions the log no longer holds (retention passed them): the fetch answers
 * OFFSET_OUT_OF_RANGE, and the partition goes on at the earliest record left, reported through
 * `onOffsetReset`, as the kafkajs consumer does.
 */

/** Bytes one Fetch may bring back, per partition and in all. */
const PARTITION_MAX_BYTES = 256 * 1024;
const FETCH_MAX_BYTES = 1024 * 1024;
/** How long joining the group may take (as the kafkajs consumer). */
const JOIN_TIMEOUT_MS = 60_000;
/**
 * Partitions are fetched again while fewer than this many times `maxInFlight` records wait in
 * buffers: the next fetch (a round trip and its decoding) then overlaps the delivery of what is
 * left, instead of every partition running dry at once.
 */
const PREFETCH_FACTOR = 4;
/**
 * And while fewer than this many bytes (keys and values) wait in buffers: large records make the
 * count alone no bound on memory, now that a partition is fetched again before its buffer is empty.
 */
const BUFFERED_BYTES_LOW = PREFETCH_FACTOR * FETCH_MAX_BYTES;
/** How long a Fetch waits at the broker for records. */
const FETCH_WAIT_MS = 250;

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly offsets: PartitionOffsets;
  /** The next offset to fetch (past what is buffered). */
  position: number;
  /** Fetched and not yet handed out, in offset order, from `next`. */
  buffer: GroupRecord[];
  next: number;
  /** The key and value bytes of the records buffered from `next`. */
  bytes: number;
  /** Set once the partition was revoked or restarted: this state is no longer `partitions`' own. */
  retired: boolean;
  /** In a Fetch now (set and cleared by fetchFrom): not asked for by another. */
  fetching: boolean;
}

/** What one Fetch asks a leader for: by topic id, the partitions' states by partition. */
type LeaderTopics = Map<string, Map<number, PartitionState>>;

const NOTHING: GroupRecord[] = [];
const NO_RECORDS: never[] = [];

type FetchAnswer = Awaited<ReturnType<GroupClient['fetch']>>;

export class PlatformaticGroupConsumer implements Consumer {
  private readonly client: GroupClient;
  private readonly partitions = new Map<string, PartitionState>();
  private readonly maxInFlight: number;
  private inFlight = 0;
  private userPaused = false;
  private closing = false;
  private memberId: string | undefined;
  /** Bumped at every join: a fetch begun under an older one is dropped. */
  private generation = 0;
  /** Ends the fetch loop's sleep (see poke). */
  private wake: (() => void) | undefined;
  /** Poked while the loop was not asleep: its next sleep returns at once. */
  private poked = false;
  private loop: Promise<void> = Promise.resolve();
  /** The Fetch in flight at each leader (node id), with its rest after a failure. */
  private readonly leaderFetches = new Map<number, Promise<void>>();
  /** Resolves at close(): ends a failed leader's rest. */
  private readonly closed: Promise<void>;
  private signalClosed!: () => void;
  private timer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  /** Partitions whose start position is being read after a join. */
  private placing: Promise<void> = Promise.resolve();
  /** The partitions in hand-out order; rebuilt when `partitions` changes. */
  private ring: PartitionState[] | undefined;
  private cursor = 0;
  private draining = false;
  /** While the loop waits for the buffers to shrink: hand-outs left before it may fetch again. */
  private roomIn = 0;
  private fetchTurn = 0;

  constructor(
    connection: PlatformaticConnection,
    private readonly admin: KafkaAdmin,
    private readonly options: ConsumeOptions,
    private readonly logger: Logger,
    private readonly onClosed: () => void,
  ) {
    this.maxInFlight = options.maxInFlight ?? 500;
    this.closed = new Promise((resolve) => (this.signalClosed = resolve));
    this.client = new GroupClient({
      ...platformaticBaseOptions(connection, 'consumer'),
      groupId: options.groupId,
      autocommit: false,
      // As the kafkajs consumer (see its comment): a dead member is noticed within seconds.
      sessionTimeout: 8000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 2000,
      // kafkajs's name for the same round-robin protocol (the same encoding): members on either
      // client can share a group, as during a rolling change of --kafka-client.
      protocols: [{ name: 'RoundRobinAssigner', version: 1 }],
      maxWaitTime: FETCH_WAIT_MS,
      minBytes: 1,
      maxBytes: FETCH_MAX_BYTES,
      isolationLevel: 'READ_COMMITTED',
    });
    // Its Fetch responses read from one buffer rather than through the library's buffer list (fetch-response.ts).
    readFetchFromOneBuffer(this.client);
  }

  async start(): Promise<void> {
    // A group without commits starts where asked; from then on every reset goes to the earliest.
    for (const topic of this.options.topics) await this.admin.initGroup(this.options.groupId, topic, this.options.start ?? 'latest');
    this.client.on('consumer:group:join', (event: { memberId: string; assignments: GroupAssignment[] | null }) => this.onJoin(event.memberId, event.assignments ?? []));
    // The group is rebalancing: commit what is done before the partitions may move (best effort).
    this.client.on('consumer:group:rebalance', () => void this.commit());
    this.client.on('error', (error: unknown) => this.logger.warn({ err: error, groupId: this.options.groupId }, 'consumer group error'));
    for (const topic of this.options.topics) this.client.topics.track(topic);
    try {
      await withTimeout(this.client.joinGroup({}), JOIN_TIMEOUT_MS);
    } catch (error) {
      // See producer.ts: a refusal the library does not report is explained by the admin connection.
      throw (await this.admin.connectionProblem()) ?? error;
    }
    await this.placing;
    this.loop = this.run();
    this.timer = setInterval(() => void this.commit(), this.options.commitIntervalMs ?? 1000);
    this.timer.unref();
  }

  pause(): void {
    this.userPaused = true;
  }

  resume(): void {
    this.userPaused = false;
    this.drain();
    this.poke();
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
    this.signalClosed();
    this.poke();
    await this.loop;
    await this.commit();
    await this.client.close().catch((error: unknown) => this.logger.warn({ err: error, groupId: this.options.groupId }, 'leaving the group failed'));
    this.onClosed();
  }

  private async commitNow(): Promise<void> {
    const offsets: { topic: string; partition: number; offset: bigint; leaderEpoch: number }[] = [];
    const marks: { state: PartitionState; offset: number }[] = [];
    for (const state of this.partitions.values()) {
      const offset = state.offsets.toCommit();
      if (offset === undefined) continue;
      offsets.push({ topic: state.topic, partition: state.partition, offset: BigInt(offset), leaderEpoch: -1 });
      marks.push({ state, offset });
    }
    if (offsets.length === 0) return;
    try {
      await this.client.commit({ offsets });
      for (const { state, offset } of marks) state.offsets.markCommitted(offset);
    } catch (error) {
      // Rebalancing or a broker away: the next commit carries the same (or a later) point.
      this.logger.debug({ err: error, groupId: this.options.groupId }, 'offset commit failed; will retry');
    }
  }

  private onJoin(memberId: string, assignments: readonly GroupAssignment[]): void {
    this.generation++;
    const keep = new Set<string>();
    for (const { topic, partitions } of assignments) for (const p of partitions) keep.add(keyOf(topic, p));
    const sameMember = this.memberId === memberId;
    this.memberId = memberId;
    const revoked: TopicPartition[] = [];
    for (const [key, state] of [...this.partitions]) {
      if (keep.has(key) && sameMember) continue;
      this.partitions.delete(key);
      state.retired = true;
      this.ring = undefined;
      if (!keep.has(key)) revoked.push({ topic: state.topic, partition: state.partition });
    }
    // Only the kept partitions' records still count against the bound.
    this.inFlight = 0;
    for (const state of this.partitions.values()) this.inFlight += state.offsets.inFlight();
    const added = [...keep].filter((key) => !this.partitions.has(key));
    if (added.length > 0) this.placing = this.place(added, this.generation);
    this.drain();
    this.poke();
    if (revoked.length > 0) this.options.onRevoked?.(revoked);
  }

  /** Starts newly assigned partitions at the group's committed offsets (the log start when none). */
  private async place(keys: readonly string[], generation: number): Promise<void> {
    const byTopic = new Map<string, number[]>();
    for (const key of keys) {
      const [topic, partition] = splitKey(key);
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    }
    for (let attempt = 1; !this.closing && generation === this.generation; attempt++) {
      try {
        const committed = await this.client.listCommittedOffsets({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
        for (const [topic, partitions] of byTopic) {
          let low: Map<number, number> | undefined;
          for (const partition of partitions) {
            // Placed by an attempt that failed later: it may have records out already, keep it.
            if (this.partitions.has(keyOf(topic, partition))) continue;
            let position = Number(committed.get(topic)?.[partition] ?? -1n);
            if (position < 0) {
              low ??= new Map((await this.admin.topicOffsets(await this.admin.connect(), topic)).map((o) => [o.partition, Number(o.low)]));
              position = low.get(partition) ?? 0;
            }
            if (generation !== this.generation) return;
            this.setPartition(keyOf(topic, partition), { topic, partition, offsets: new PartitionOffsets(position), position, buffer: NOTHING, next: 0, bytes: 0, retired: false, fetching: false });
          }
        }
        this.poke();
        return;
      } catch (error) {
        this.logger.debug({ err: error, groupId: this.options.groupId }, 'cannot read committed offsets; retrying');
        await sleep(Math.min(200 * attempt, 2000));
      }
    }
  }

  private setPartition(key: string, state: PartitionState): void {
    const before = this.partitions.get(key);
    if (before !== undefined && before !== state) before.retired = true;
    this.partitions.set(key, state);
    this.ring = undefined;
  }

  /** Partitions to fetch now: those in no Fetch, while the buffers hold little. */
  private toFetch(): PartitionState[] {
    if (this.userPaused || this.partitions.size === 0) return [];
    let buffered = 0;
    let bytes = 0;
    for (const state of this.partitions.values()) {
      buffered += state.buffer.length - state.next;
      bytes += state.bytes;
    }
    const low = this.maxInFlight * PREFETCH_FACTOR;
    if (buffered >= low) {
      this.roomIn = buffered - low + 1;
      return [];
    }
    // Woken again when a buffer runs dry (drain), as before a partition was fetched with records left.
    if (bytes >= BUFFERED_BYTES_LOW) return [];
    const idle = [...this.partitions.values()].filter((state) => !state.fetching);
    if (idle.length === 0) return idle;
    // Each fetch starts at another partition: a full answer favours those asked first.
    const from = this.fetchTurn++ % idle.length;
    return from === 0 ? idle : [...idle.slice(from), ...idle.slice(0, from)];
  }

  /**
   * The fetch loop: starts a Fetch at each leader that has none in flight, then sleeps until
   * poked (a leader answered, a slot freed, a join, a resume, a close).
   */
  private async run(): Promise<void> {
    while (!this.closing) {
      let restMs = 1000;
      try {
        // Metadata (cached by the client) is asked for only when a partition is to be fetched.
        const wanted = this.toFetch();
        if (wanted.length > 0 && this.fetchIdleLeaders(wanted, await this.client.metadata({ topics: [...this.options.topics] }))) restMs = 500;
      } catch (error) {
        if (this.closing) break;
        this.logger.debug({ err: error, groupId: this.options.groupId }, 'metadata request failed; retrying');
        this.client.clearMetadata();
        restMs = 500;
      }
      await this.sleepUntilWoken(restMs);
    }
    await Promise.all(this.leaderFetches.values());
  }

  /** Starts a Fetch at each wanted partition's leader with none in flight; true when a partition has no known leader. */
  private fetchIdleLeaders(wanted: readonly PartitionState[], metadata: Awaited<ReturnType<GroupClient['metadata']>>): boolean {
    if (this.closing) return false;
    const perLeader = new Map<number, LeaderTopics>();
    let leaderless = false;
    for (const state of wanted) {
      // Revoked, or taken by another Fetch, while the metadata was awaited.
      if (state.retired || state.fetching) continue;
      const info = metadata.topics.get(state.topic);
      const leader = info?.partitions[state.partition]?.leader;
      if (info === undefined || leader === undefined || leader < 0) {
        leaderless = true;
        continue;
      }
      if (this.leaderFetches.has(leader)) continue;
      const topics = perLeader.get(leader) ?? new Map<string, Map<number, PartitionState>>();
      perLeader.set(leader, topics);
      const partitions = topics.get(info.id) ?? new Map<number, PartitionState>();
      topics.set(info.id, partitions);
      partitions.set(state.partition, state);
    }
    // A partition without a known leader (a topic created a moment ago, a leader moving) is
    // looked up again at the next fetch, not when the cached metadata expires (30 s).
    if (leaderless) this.client.clearMetadata();
    for (const [node, topics] of perLeader) {
      const states = [...topics.values()].flatMap((partitions) => [...partitions.values()]);
      for (const state of states) state.fetching = true;
      const fetch = this.fetchFrom(node, topics, states, this.generation).finally(() => {
        this.leaderFetches.delete(node);
        this.poke();
      });
      this.leaderFetches.set(node, fetch);
    }
    return leaderless;
  }

  /** One Fetch at one leader; buffers and hands out what came back. Never rejects. */
  private async fetchFrom(node: number, topics: LeaderTopics, states: readonly PartitionState[], generation: number): Promise<void> {
    let failed = false;
    try {
      const answer = await this.client.fetch({
        node,
        topics: [...topics].map(([topicId, partitions]) => ({
          topicId,
          partitions: [...partitions.values()].map((s) => ({ partition: s.partition, fetchOffset: BigInt(s.position), partitionMaxBytes: PARTITION_MAX_BYTES, currentLeaderEpoch: -1, lastFetchedEpoch: -1 })),
        })),
      });
      if (generation === this.generation && !this.closing) {
        this.keep(answer, topics);
        this.drain();
      }
    } catch (error) {
      try {
        await this.onFetchError(error, states, generation);
      } catch (unhandled) {
        failed = !this.closing;
        if (failed) this.logger.debug({ err: unhandled, groupId: this.options.groupId, node }, 'fetch failed; retrying');
      }
    } finally {
      for (const state of states) state.fetching = false;
    }
    if (!failed) return;
    // The leader may have moved: learn where the partitions are now; this leader rests meanwhile.
    this.client.clearMetadata();
    await Promise.race([sleep(500), this.closed]);
  }

  private keep(answer: FetchAnswer, topics: LeaderTopics): void {
    for (const topicAnswer of answer.responses) {
      const partitions = topics.get(topicAnswer.topicId);
      if (partitions === undefined) continue;
      for (const { partitionIndex, records, abortedTransactions } of topicAnswer.partitions) {
        const state = partitions.get(partitionIndex);
        // Restarted meanwhile (an out-of-range reset): the new state fetches for itself.
        if (state === undefined || state.retired || records === undefined || records === null) continue;
        this.keepPartition(state, records, readCommitted(abortedTransactions));
      }
    }
  }

  private keepPartition(state: PartitionState, batches: NonNullable<FetchAnswer['responses'][number]['partitions'][number]['records']>, committed: ReturnType<typeof readCommitted>): void {
    const buffer: GroupRecord[] = [];
    let bytes = 0;
    for (const batch of batches) {
      const firstOffset = Number(batch.firstOffset);
      const timeOf = recordTimes(batch);
      // Transaction markers and what aborted transactions wrote are stepped past, not handed out.
      for (const record of committed(batch) ? batch.records : NO_RECORDS) {
        const offset = firstOffset + record.offsetDelta;
        if (offset < state.position) continue;
        buffer.push(new GroupRecord(this, state, offset, record.key, record.value, headersOf(record.headers), timeOf(record.timestampDelta)));
        bytes += record.key.length + record.value.length;
        state.position = offset + 1;
      }
      // A batch stepped past, or all below the position: the position goes past it.
      const after = firstOffset + batch.lastOffsetDelta + 1;
      if (after > state.position) state.position = after;
    }
    if (state.next >= state.buffer.length) {
      state.buffer = buffer.length === 0 ? NOTHING : buffer;
      state.next = 0;
      state.bytes = bytes;
    } else if (buffer.length > 0) {
      // Fetched while records were still buffered: they go after those.
      state.buffer = state.buffer.slice(state.next).concat(buffer);
      state.next = 0;
      state.bytes += bytes;
    }
  }

  /**
   * Hands out buffered records, one partition at a time in turn, while slots are free. Called
   * after a fetch and whenever a slot frees; `done()` called from inside `onRecord` is picked up
   * by the running loop rather than by a nested one.
   */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    /** A buffer emptied, or the buffers shrank enough: the loop may fetch. */
    let emptied = false;
    try {
      let ring = this.ringOf();
      let idle = 0;
      while (idle < ring.length && this.inFlight < this.maxInFlight && !this.userPaused && !this.closing) {
        if (this.cursor >= ring.length) this.cursor = 0;
        const state = ring[this.cursor++]!;
        if (state.next >= state.buffer.length) {
          idle++;
          continue;
        }
        idle = 0;
        const record = state.buffer[state.next++]!;
        state.bytes -= (record.key?.length ?? 0) + record.value.length;
        if (state.next === state.buffer.length) {
          state.buffer = NOTHING;
          state.next = 0;
          state.bytes = 0;
          emptied = true;
        }
        state.offsets.handedOut(record.at);
        this.inFlight++;
        if (this.roomIn > 0 && --this.roomIn === 0) emptied = true;
        this.options.onRecord(record);
        if (this.ring === undefined) {
          // A join changed the partitions from inside onRecord: start over on the new set.
          ring = this.ringOf();
          idle = 0;
        }
      }
    } finally {
      this.draining = false;
    }
    if (emptied) this.poke();
  }

  private ringOf(): PartitionState[] {
    this.ring ??= [...this.partitions.values()];
    return this.ring;
  }

  private async onFetchError(error: unknown, states: readonly PartitionState[], generation: number): Promise<void> {
    if (!hasProtocolError(error, 'OFFSET_OUT_OF_RANGE')) throw error;
    // Which partitions were out of range is in the error's paths; checking each is simpler and rare.
    for (const state of states) {
      if (generation !== this.generation || this.partitions.get(keyOf(state.topic, state.partition)) !== state) continue;
      const ranges = await this.admin.topicOffsets(await this.admin.connect(), state.topic);
      const range = ranges.find((r) => r.partition === state.partition);
      if (range === undefined) continue;
      const low = Number(range.low);
      const high = Number(range.high);
      if (state.position >= low && state.position <= high) continue;
      const to = state.position < low ? low : high;
      const reset = { groupId: this.options.groupId, topic: state.topic, partition: state.partition, from: String(state.position), to: String(to), reason: 'out-of-range' as const };
      if (state.position < low) {
        if (this.options.onOffsetReset !== undefined) this.options.onOffsetReset(reset);
        else this.logger.error(reset, 'records skipped: the committed position was no longer in the log; resumed at the earliest record left');
      }
      // Nothing is in flight past the gap: the commit point moves with the position.
      if (state.offsets.inFlight() === 0) {
        const fresh: PartitionState = { topic: state.topic, partition: state.partition, offsets: new PartitionOffsets(to), position: to, buffer: NOTHING, next: 0, bytes: 0, retired: false, fetching: false };
        fresh.offsets.markCommitted(state.offsets.commitPoint());
        this.setPartition(keyOf(state.topic, state.partition), fresh);
      } else {
        state.position = to;
      }
    }
    this.logger.debug({ errors: protocolErrorIds(error), groupId: this.options.groupId }, 'fetch position out of range; moved on');
  }

  /** A record handed out is done (see GroupRecord.done). */
  finished(state: PartitionState, offset: number): void {
    // Finished after the partition was revoked or restarted: its new owner redelivers it. (A
    // flag, not a look-up: the key string built for each record was a tenth of this path.)
    if (state.retired) return;
    state.offsets.done(offset);
    this.inFlight--;
    this.drain();
  }

  /** Wakes the fetch loop: a leader answered, a slot freed, a resume, a join, a close. */
  private poke(): void {
    this.poked = true;
    this.wake?.();
  }

  private async sleepUntilWoken(ms: number): Promise<void> {
    if (this.poked) {
      this.poked = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
    this.poked = false;
  }
}

/**
 * A consumed record, built once when its fetch is read and handed out as it is: one object per
 * record, `done` on the prototype rather than a closure (the buffered record, the handed-out one
 * and its closure were three objects a record, issue 17).
 */
class GroupRecord implements ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  // Not readonly: detach() puts copies in their place.
  key: Buffer | null;
  private isDone = false;

  constructor(
    private readonly owner: PlatformaticGroupConsumer,
    private readonly state: PartitionState,
    /** The offset as a number, for the partition's bookkeeping. */
    readonly at: number,
    key: Buffer,
    public value: Buffer,
    readonly headers: Headers,
    readonly timestamp: number,
  ) {
    this.topic = state.topic;
    this.partition = state.partition;
    this.offset = String(at);
    // The library reads a null key as an empty one; Kafka records without a key have a null one.
    this.key = key.length === 0 ? null : key;
  }

  done(): void {
    if (this.isDone) return;
    this.isDone = true;
    this.owner.finished(this.state, this.at);
  }

  /** Key, value and header values are views of their whole Fetch response (fetch-response.ts). */
  detach(): void {
    if (this.key !== null) this.key = ownBytes(this.key);
    this.value = ownBytes(this.value);
    // In place: whoever holds the headers object keeps the copies too (headersOf made it, writable).
    const headers = this.headers as Record<string, Buffer>;
    for (const name in headers) headers[name] = ownBytes(headers[name]!);
  }
}

/** Header names: the same few on every record (`ce_id`, `ce_source`, `content-type`, ...). */
const headerNames = new ByteStrings();

function headersOf(raw: readonly [Buffer, Buffer][]): Headers {
  // Header names come over the wire: an object with nothing inherited, never a plain one.
  const headers = wireObject<Buffer>();
  for (let i = 0; i < raw.length; i++) {
    const header = raw[i]!;
    headers[headerNames.text(header[0])] = header[1];
  }
  return headers;
}

const keyOf = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

function splitKey(key: string): [string, number] {
  const i = key.lastIndexOf('\u0000');
  return [key.slice(0, i), Number(key.slice(i + 1))];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());
