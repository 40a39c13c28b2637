import { setMaxListeners } from 'node:events';
import { tokenSender, type TokenSource } from './oidc-tokens.js';
import { effectiveEgressConfig, type Egress, type Resource } from '../core/contract/types.js';
import type { FaultBook } from '../core/egress-faults.js';
import { clusterKey } from '../core/event-log/clusters.js';
import type { ConsumedRecord, Consumer, EventLog, OffsetReset, TopicPartition } from '../core/event-log/port.js';
import { BrokerError, toLogFields } from '../core/errors.js';
import { compileFilter } from '../core/filters/compile.js';
import type { Logger } from '../core/logger.js';
import type { DispatcherConfig } from './config.js';
import type { Sender } from './delivery.js';
import type { Tracing } from '../core/tracing.js';
import { dispatchRecord, type Clock, type DispatchDeps, type DispatchListener, type DispatchOptions, type EgressRoute, type StallReport } from './dispatch.js';
import { Quarantine } from './quarantine.js';
import { policyFrom } from './retry-policy.js';
import { timedSender, type DispatcherMetrics, type EgressMetrics } from './metrics.js';
import type { WaitingMemory } from './waiting-memory.js';
import type { LastFailure } from './error-extensions.js';

/**
 * One egress (a Trigger or a Subscription) = one consumer group reading the resource's topics.
 *
 * Bounded work: the event-log adapter hands out at most `maxInFlightPerEgress` records that are
 * not yet done, and stops fetching at that bound. That bound is what caps this egress's memory
 * however long the lag; it also caps concurrent deliveries in unordered mode.
 *
 * Delivery order (contract `deliveryOrder`):
 *   unordered  every record is dispatched as it arrives, so up to the bound run at once;
 *   ordered    one queue per partition, one record at a time, the next only once the previous
 *              is done (delivered, dead-lettered, filtered out) — a held event holds its partition.
 *
 * Bounded waiting memory: past the dispatcher-wide bound on bytes held by waiting deliveries
 * (`WaitingMemory`), every egress pauses its consumer until enough is released; records already
 * taken go on as usual, so nothing is dropped or failed by the bound.
 *
 * Records are only ever finished through `record.done()`; the adapter commits each partition's
 * contiguous done prefix on its interval, on revocation and on close.
 */

export interface EgressCounters {
  received: number;
  delivered: number;
  filtered: number;
  deadLettered: number;
  /** Records that are not CloudEvents (or whose handling threw): all of them, wherever they went. */
  undecodable: number;
  /** Of those, the ones written to the quarantine topic (the rest went to the dead-letter sink). */
  quarantined: number;
  retries: number;
  repliesAppended: number;
  repliesPosted: number;
  repliesDiscarded: number;
  repliesTtlExhausted: number;
  heldRounds: number;
  filterErrors: number;
  /** Times a partition's position was gone from the log and it jumped to the earliest record left. */
  offsetResets: number;
  /** Records skipped by those jumps: never delivered to this egress. */
  recordsSkipped: number;
}

export const newCounters = (): EgressCounters => ({
  received: 0, delivered: 0, filtered: 0, deadLettered: 0, undecodable: 0, quarantined: 0, retries: 0, repliesAppended: 0,
  repliesPosted: 0, repliesDiscarded: 0, repliesTtlExhausted: 0, heldRounds: 0, filterErrors: 0, offsetResets: 0, recordsSkipped: 0,
});

export interface EgressConsumerDeps {
  readonly log: EventLog;
  readonly sender: Sender;
  readonly config: DispatcherConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
  /** The dispatcher-wide bound on waiting deliveries; absent: none. */
  readonly waiting?: WaitingMemory | undefined;
  /** Where skipped ranges are kept for the owner's status (dispatcher/main.ts). */
  readonly faults?: FaultBook;
  /** OpenTelemetry (core/tracing.ts); absent: the trace context is only passed through. */
  readonly tracing?: Tracing | undefined;
  /** Where outcomes and attempts are counted; absent: not counted (the counters above still are). */
  readonly metrics?: DispatcherMetrics | undefined;
  /** OIDC tokens for destinations with an audience (oidc-tokens.ts); absent: such deliveries fail. */
  readonly tokens?: TokenSource | undefined;
}

interface PartitionWork {
  readonly topic: string;
  readonly partition: number;
  readonly abort: AbortController;
  /** Append time of each record handed out and not finished, by offset: the first is the oldest (lag age). */
  readonly pending: Map<string, number>;
  /** Ordered mode: records waiting their turn, in offset order. */
  readonly queue: ConsumedRecord[];
  running: boolean;
  /** The last offset received; a lower or equal one means the adapter rewound the partition. */
  lastOffset: number;
}

/** Whether moving from one egress definition to another needs a new group member. */
export function needsRestart(before: { resource: Resource; egress: Egress }, after: { resource: Resource; egress: Egress }): boolean {
  return (
    before.egress.consumerGroup !== after.egress.consumerGroup ||
    before.egress.deliveryOrder !== after.egress.deliveryOrder ||
    before.resource.topics.join('\u0000') !== after.resource.topics.join('\u0000') ||
    (before.resource.cluster === undefined ? '' : clusterKey(before.resource.cluster)) !== (after.resource.cluster === undefined ? '' : clusterKey(after.resource.cluster))
  );
}

export class EgressConsumer {
  readonly counters: EgressCounters = newCounters();
  private route: EgressRoute;
  private readonly ordered: boolean;
  private readonly logger: Logger;
  private consumer: Consumer | undefined;
  private readonly partitions = new Map<string, PartitionWork>();
  /** The partition of the last record received (still in `partitions`). */
  private lastWork: PartitionWork | undefined;
  /** Tasks running (unordered dispatches, ordered partition queues): counted, not kept. */
  private running = 0;
  private readonly idleWaiters: (() => void)[] = [];
  /** Records held right now (no sink, or the sink failing), by partition/offset. */
  private readonly held = new Set<string>();
  private stopping = false;
  private outstanding = 0;
  private lastStallWarning = Number.NEGATIVE_INFINITY;
  private suppressedStallWarnings = 0;
  private readonly dispatchDeps: DispatchDeps;
  private stopWatchingMemory: (() => void) | undefined;
  private readonly metrics: EgressMetrics | undefined;
  /** The route in force, read by dispatch at each step (one function, not one per record). */
  private readonly currentRoute = (): EgressRoute => this.route;

  /**
   * After a rewind: per `topic\0partition`, the offset below which records were delivered before
   * (the position the rewind moved from). Those carry the replay extension (dispatch.ts).
   */
  private readonly replayBelow: ReadonlyMap<string, bigint>;

  constructor(
    resource: Resource,
    egress: Egress,
    private readonly deps: EgressConsumerDeps,
    replayBelow: ReadonlyMap<string, bigint> = new Map(),
  ) {
    this.replayBelow = replayBelow;
    this.ordered = egress.deliveryOrder === 'ordered';
    this.logger = deps.logger.child({
      egress: `${egress.reference.namespace}/${egress.reference.name}`, egressKind: egress.reference.kind, group: egress.consumerGroup,
    });
    this.route = this.routeFor(resource, egress);
    this.metrics = deps.metrics?.forEgress(egress);
    const sender = tokenSender(deps.sender, () => this.route, deps.tokens);
    this.dispatchDeps = {
      sender: this.metrics === undefined ? sender : timedSender(sender, (url) => url === this.route.egress.destination, this.metrics.attempts),
      log: deps.log,
      clock: deps.clock,
      random: deps.random,
      stallBackoff: { baseMs: deps.config.stallBackoffBaseMs, capMs: deps.config.maxStallBackoffMs },
      listener: this.listener(),
      quarantine: new Quarantine(deps.log, { topic: deps.config.quarantineTopic, replicationFactor: deps.config.quarantineReplicationFactor }),
      waiting: deps.waiting,
      tracing: deps.tracing,
    };
  }

  get egress(): Egress {
    return this.route.egress;
  }

  get resource(): Resource {
    return this.route.resource;
  }

  /** Joins the egress's consumer group; rejects (with the log's error) when it cannot. */
  async start(): Promise<void> {
    if (this.stopping || this.consumer !== undefined) return;
    const { egress, resource } = this.route;
    // A group member of a topic that does not exist yet would get no partitions when it appears
    // (on every log): start only once the topics are there, the supervisor retries until then.
    for (const topic of resource.topics) {
      if ((await this.deps.log.describeTopic(topic)) === undefined) {
        throw new BrokerError('TOPIC_NOT_FOUND', `topic ${topic} does not exist`, { details: { topic } });
      }
    }
    const consumer = await this.deps.log.consume({
      groupId: egress.consumerGroup,
      topics: resource.topics,
      // Knative triggers start at the end of the topic; the controller fixes the real starting
      // point with initGroup before the trigger is Ready, and a group with commits resumes there.
      start: 'latest',
      maxInFlight: this.deps.config.maxInFlightPerEgress,
      commitIntervalMs: this.deps.config.commitIntervalMs,
      onRecord: (record) => this.onRecord(record),
      onRevoked: (partitions) => this.onRevoked(partitions),
      onOffsetReset: (reset) => this.onOffsetReset(reset),
    });
    this.consumer = consumer;
    if (this.stopping) {
      await consumer.close();
      return;
    }
    const waiting = this.deps.waiting;
    if (waiting !== undefined) {
      if (waiting.isOver()) consumer.pause();
      this.stopWatchingMemory = waiting.onChange((over) => {
        if (this.stopping) return;
        if (over) consumer.pause();
        else consumer.resume();
      });
    }
    this.logger.debug({ topics: resource.topics, deliveryOrder: egress.deliveryOrder }, 'egress started');
  }

  /**
   * Takes a new definition of the same egress (same group, topics and order): destination,
   * filter, delivery settings, reply strategy. Records already in flight finish under the old
   * definition, except held ones, which pick the new one up at their next round.
   */
  update(resource: Resource, egress: Egress): void {
    this.route = this.routeFor(resource, egress);
    this.logger.debug('egress updated');
  }

  /**
   * Stops fetching, lets deliveries in progress finish for up to `deadlineMs`, then abandons the
   * rest (not done, so delivered again by the next owner), commits what is done and leaves the group.
   */
  async stop(deadlineMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopWatchingMemory?.();
    let abandoned: number;
    try {
      this.consumer?.pause();
      abandoned = await this.drain(deadlineMs);
    } finally {
      // Whatever failed above, nothing of this egress may go on running once it is stopped.
      for (const work of this.partitions.values()) work.abort.abort();
      await this.whenIdle();
      await this.consumer?.close();
    }
    if (abandoned > 0) this.logger.warn({ abandoned }, `egress stopped with ${abandoned} deliveries abandoned (delivered again later)`);
    else this.logger.debug('egress stopped');
  }

  /** Records handed out and not finished here (running, waiting in a partition queue, or held). */
  inFlight(): number {
    return this.outstanding;
  }

  heldCount(): number {
    return this.held.size;
  }

  /** Append time of the oldest record not finished, per `topic\0partition` (for the lag age). */
  pendingOldest(): Map<string, number> {
    const oldest = new Map<string, number>();
    for (const [key, work] of this.partitions) {
      for (const timestamp of work.pending.values()) {
        oldest.set(key, timestamp);
        break;
      }
    }
    return oldest;
  }

  // ---- records in

  private onRecord(record: ConsumedRecord): void {
    // Records fetched before a pause may still arrive while stopping: left not done, redelivered.
    if (this.stopping) return;
    this.counters.received++;
    this.outstanding++;
    const work = this.work(record.topic, record.partition, Number(record.offset));
    work.pending.set(record.offset, record.timestamp);
    if (!this.ordered) {
      this.track(this.dispatch(record, work));
      return;
    }
    work.queue.push(record);
    if (!work.running) {
      work.running = true;
      this.track(this.runQueue(work));
    }
  }

  private async runQueue(work: PartitionWork): Promise<void> {
    try {
      while (work.queue.length > 0 && !this.stopping && !work.abort.signal.aborted) {
        const record = work.queue.shift()!;
        await this.dispatch(record, work);
      }
    } finally {
      work.running = false;
    }
  }

  /** Not async, and no closures per record: one reaction to the dispatch, which never rejects. */
  private dispatch(record: ConsumedRecord, work: PartitionWork): Promise<void> {
    let dispatched: Promise<unknown>;
    try {
      // Keys made only when there is something to look up: most egresses replay nothing and hold nothing.
      const below = this.replayBelow.size === 0 ? undefined : this.replayBelow.get(`${record.topic}\u0000${record.partition}`);
      const replay = below !== undefined && BigInt(record.offset) < below;
      dispatched = dispatchRecord(record, this.currentRoute, this.dispatchDeps, work.abort.signal, replay ? REPLAY : FIRST_DELIVERY);
    } catch (error) {
      dispatched = Promise.reject(error);
    }
    return dispatched.then(() => this.finished(record, work), (error: unknown) => {
      this.finished(record, work);
      throw error;
    });
  }

  private finished(record: ConsumedRecord, work: PartitionWork): void {
    work.pending.delete(record.offset);
    this.outstanding--;
    if (this.held.size > 0 && this.held.delete(heldKey(record)) && this.held.size === 0) this.deps.faults?.setHeld(this.route.egress.consumerGroup, undefined);
  }

  /** The partition's work state; a partition the adapter rewound (rebalance) starts afresh. */
  private work(topic: string, partition: number, offset: number): PartitionWork {
    // Records come in runs of one partition: the last one's work is found without a key.
    const last = this.lastWork;
    if (last !== undefined && last.partition === partition && last.topic === topic && offset > last.lastOffset) {
      last.lastOffset = offset;
      return last;
    }
    const key = `${topic}\u0000${partition}`;
    let work = this.partitions.get(key);
    if (work !== undefined && offset <= work.lastOffset) {
      // The adapter restarted the partition from its committed offset: what we still hold of it
      // will be handed out again, and in ordered mode must not run beside (or before) the new copies.
      this.logger.debug({ topic, partition, offset, lastOffset: work.lastOffset }, 'partition rewound; dropping its queued records');
      this.dropQueue(work);
      work = undefined;
    }
    if (work === undefined) {
      const abort = new AbortController();
      // Every delivery and backoff of the partition listens on this one signal.
      setMaxListeners(0, abort.signal);
      work = { topic, partition, abort, pending: new Map(), queue: [], running: false, lastOffset: offset };
      this.partitions.set(key, work);
    }
    work.lastOffset = offset;
    this.lastWork = work;
    return work;
  }

  private onRevoked(partitions: readonly TopicPartition[]): void {
    this.lastWork = undefined;
    for (const { topic, partition } of partitions) {
      const key = `${topic}\u0000${partition}`;
      const work = this.partitions.get(key);
      if (work === undefined) continue;
      // Its new owner delivers what is not done; going on here would only make duplicates.
      this.dropQueue(work);
      this.partitions.delete(key);
    }
    this.logger.info({ partitions }, 'partitions revoked');
  }

  /** Records this egress will never see: an operator must hear of it, and its owner's status show it. */
  private onOffsetReset(reset: OffsetReset): void {
    const skipped = Number(BigInt(reset.to) - BigInt(reset.from));
    this.counters.offsetResets++;
    this.counters.recordsSkipped += skipped;
    this.deps.faults?.recordSkipped(this.route.egress.consumerGroup, { topic: reset.topic, partition: reset.partition, from: reset.from, to: reset.to });
    this.metrics?.offsetResets.inc();
    this.metrics?.recordsSkipped.inc(skipped);
    this.logger.error(
      { topic: reset.topic, partition: reset.partition, skippedFrom: reset.from, skippedTo: reset.to, skipped, reason: reset.reason },
      'records skipped: the position was no longer in the event log; consuming from the earliest record left (offsets from..to-1 were not delivered)',
    );
  }

  private dropQueue(work: PartitionWork): void {
    work.abort.abort();
    for (const record of work.queue) work.pending.delete(record.offset);
    this.outstanding -= work.queue.length;
    work.queue.length = 0;
  }

  /**
   * One reaction per task, and no closure or set entry for it: a count of the tasks running
   * (issue 17: a Set of promises cost an add, a delete and two closures per record).
   */
  private track(task: Promise<void>): void {
    this.running++;
    task.then(this.taskEnded, this.taskFailed);
  }

  private readonly taskEnded = (): void => {
    if (--this.running === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  };

  private readonly taskFailed = (error: unknown): void => {
    this.taskEnded();
    this.logger.error({ err: error }, 'dispatch failed unexpectedly');
  };

  /** Resolves once no task is running. */
  private whenIdle(): Promise<void> {
    return this.running === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Waits for the tasks in flight, up to the deadline; returns how many were still running. */
  private async drain(deadlineMs: number): Promise<number> {
    if (this.running === 0) return 0;
    const signal = new AbortController();
    const all = this.whenIdle().then(() => signal.abort());
    await Promise.race([all, this.deps.clock.sleep(deadlineMs, signal.signal)]);
    signal.abort();
    return this.running;
  }

  // ---- outcomes

  private routeFor(resource: Resource, egress: Egress): EgressRoute {
    const settings = effectiveEgressConfig(resource, egress);
    return {
      resource,
      egress,
      deadLetter: settings?.deadLetter ?? null,
      policy: policyFrom(settings, { timeoutMs: this.deps.config.defaultTimeoutMs, retryAfterBoundMs: this.deps.config.maxRetryAfterMs }),
      accepts: compileFilter(egress.filter, {
        onEvaluationError: (error, expression) => {
          this.counters.filterErrors++;
          this.logger.debug({ err: error, expression }, 'filter expression failed for an event; it does not pass');
        },
        onCompileError: (error, expression) => this.logger.error({ err: error, expression }, 'filter expression does not parse; it passes nothing'),
      }),
    };
  }

  private listener(): DispatchListener {
    const c = this.counters;
    const m = this.metrics;
    return {
      onDone: (outcome, record, detail) => {
        m?.done(outcome);
        switch (outcome) {
          case 'delivered':
            c.delivered++;
            break;
          case 'filtered':
            c.filtered++;
            break;
          case 'dead-lettered':
            c.deadLettered++;
            this.logger.info({ ...recordFields(record), failedFor: detail?.failed?.destination, failure: detail?.failed?.failure }, 'event dead-lettered');
            break;
          case 'undecodable':
            c.undecodable++;
            if (detail?.to === 'quarantine') {
              c.quarantined++;
              m?.quarantined.inc();
            }
            this.logger.error(
              { ...recordFields(record), ...(detail?.error === undefined ? {} : toLogFields(detail.error)), message: detail?.error?.message, sentTo: detail?.to === 'quarantine' ? this.deps.config.quarantineTopic : 'dead-letter sink' },
              detail?.to === 'quarantine' ? 'record is not a CloudEvent; quarantined, not delivered' : 'record is not a CloudEvent; sent to the dead-letter sink, not delivered',
            );
            break;
          default: {
            const never: never = outcome;
            return never;
          }
        }
      },
      onReply: (outcome, record, detail) => {
        m?.reply(outcome);
        switch (outcome) {
          case 'appended':
            c.repliesAppended++;
            break;
          case 'posted':
            c.repliesPosted++;
            break;
          case 'discarded':
            c.repliesDiscarded++;
            break;
          case 'ttl-exhausted':
            c.repliesTtlExhausted++;
            this.logger.info({ ...recordFields(record), ttl: detail?.ttl }, 'reply dropped: its TTL (knativebrokerttl) is exhausted');
            break;
          default: {
            const never: never = outcome;
            return never;
          }
        }
      },
      onRetry: (info) => {
        c.retries++;
        m?.retries.inc();
        this.logger.debug({ destination: info.destination, attempt: info.attempt, failure: info.failure, delayMs: info.delayMs }, 'delivery attempt failed; retrying');
      },
      onStall: (report) => {
        c.heldRounds++;
        m?.heldRounds.inc();
        this.held.add(heldKey(report.record));
        this.deps.faults?.setHeld(this.route.egress.consumerGroup, { reason: report.reason, detail: stallDetail(report) });
        this.warnStall(report);
      },
    };
  }

  /** One warning per `stallWarnIntervalMs` per egress, saying how many more were held meanwhile. */
  private warnStall(report: StallReport): void {
    const now = this.deps.clock.now();
    if (now - this.lastStallWarning < this.deps.config.stallWarnIntervalMs) {
      this.suppressedStallWarnings++;
      return;
    }
    this.lastStallWarning = now;
    const suppressed = this.suppressedStallWarnings;
    this.suppressedStallWarnings = 0;
    this.logger.warn(
      {
        ...recordFields(report.record),
        eventId: report.event.attributes['id'],
        reason: report.reason,
        round: report.round,
        retryInMs: report.delayMs,
        held: this.held.size,
        failedFor: report.failed?.destination,
        failure: report.failed?.failure,
        deadLetterFailure: report.deadLetterFailed?.failure,
        err: report.error,
        suppressedWarnings: suppressed,
      },
      'event held: it could not be delivered or dead-lettered and is retried, never dropped (its offset is not committed)',
    );
  }
}

/** The failures behind a held event, in one line for the trigger's status. */
function stallDetail(report: StallReport): string {
  const one = (what: string, f: LastFailure | undefined): string | undefined => {
    if (f === undefined) return undefined;
    const failure = f.failure;
    const how = failure.kind === 'status' ? `HTTP ${failure.status}` : failure.kind === 'timeout' ? 'timed out' : failure.kind === 'network' ? failure.message : `invalid reply: ${failure.reason}`;
    return `${what} ${f.destination}: ${how}`;
  };
  const parts = [one('subscriber', report.failed), one('dead-letter sink', report.deadLetterFailed)].filter((p) => p !== undefined);
  if (parts.length === 0) return report.error instanceof Error ? report.error.message : report.reason;
  return parts.join('; ');
}

const REPLAY: DispatchOptions = { replay: true };
const FIRST_DELIVERY: DispatchOptions = { replay: false };

function heldKey(record: ConsumedRecord): string {
  return `${record.topic}\u0000${record.partition}\u0000${record.offset}`;
}

function recordFields(record: ConsumedRecord): Record<string, unknown> {
  return { topic: record.topic, partition: record.partition, offset: record.offset };
}
