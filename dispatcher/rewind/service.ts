import { BrokerError } from '../../core/errors.js';
import type { EventLog } from '../../core/event-log/port.js';
import type { Logger } from '../../core/logger.js';
import type { EgressSupervisor, GroupMove } from '../egress-supervisor.js';
import { withRecord, type RewindHistoryStore, type RewindRecord } from './history.js';
import { planMoves, totals, type PartitionMove } from './plan.js';
import { describeTarget, parseRewindTarget, type RewindTarget } from './target.js';

/**
 * Rewind and skip: move a Trigger's consumer group to a time, the earliest or latest record, or
 * given offsets, while the dispatcher runs.
 *
 *   request ─▶ plan (read committed offsets, ranges, offsets-for-time) ─▶ dry run: answer the plan
 *                                                            │ more skipped than allowed: CONFIRMATION_REQUIRED
 *                                                            ▼
 *   EgressSupervisor.moveGroup: stop the member (finish + commit in flight) ─▶ plan again against
 *   the offsets now committed ─▶ setGroupOffsets ─▶ start a member that marks records below the
 *   old position with knativereplay=true ─▶ record (who, when, from, to)
 *
 * The plan is taken again once the member has stopped because finishing in-flight work moves the
 * committed offsets; the answer reports what was applied.
 */

export type MoveMode = 'rewind' | 'skip';
export type { RewindRecord } from './history.js';

export interface RewindRequest {
  readonly namespace: string;
  readonly name: string;
  readonly mode: MoveMode;
  /** As `kafka-broker triggers rewind --to` takes it (target.ts). */
  readonly to: string;
  readonly dryRun: boolean;
  /** Given when the caller accepts skipping more than `maxSkipped` events. */
  readonly confirm: boolean;
  /** Who asked (the admin API's identity), for the record. */
  readonly who: string;
}


export interface RewindAnswer {
  readonly trigger: string;
  readonly consumerGroup: string;
  readonly dryRun: boolean;
  readonly to: string;
  readonly moves: readonly PartitionMove[];
  readonly redelivered: number;
  readonly skipped: number;
}

export interface RewinderOptions {
  readonly log: EventLog;
  readonly supervisor: EgressSupervisor;
  readonly logger: Logger;
  /** More events skipped than this needs `confirm`. Default 100. */
  readonly maxUnconfirmedSkip?: number;
  readonly now?: () => number;
  /** Where the record is kept across restarts (history.ts); without it, in memory only. */
  readonly store?: RewindHistoryStore | undefined;
}

export class Rewinder {
  /** Per trigger, newest last, bounded (history.ts). */
  private history: ReadonlyMap<string, readonly RewindRecord[]> = new Map();
  private saving: Promise<void> = Promise.resolve();
  private readonly maxUnconfirmedSkip: number;
  private readonly now: () => number;

  constructor(private readonly options: RewinderOptions) {
    this.maxUnconfirmedSkip = options.maxUnconfirmedSkip ?? 100;
    this.now = options.now ?? Date.now;
  }

  /** Reads the record kept by the store, if there is one; a rewind before this is kept too. */
  async load(): Promise<void> {
    if (this.options.store === undefined) return;
    const stored = await this.options.store.load();
    let merged = new Map(stored);
    for (const [trigger, records] of this.history) for (const r of records) merged = withRecord(merged, trigger, r);
    this.history = merged;
  }

  /** Resolves when every record so far is written (for an orderly stop and for tests). */
  flushed(): Promise<void> {
    return this.saving;
  }

  async rewind(request: RewindRequest): Promise<RewindAnswer> {
    const target = parseRewindTarget(request.to);
    if (request.mode === 'skip' && target.kind !== 'latest' && target.kind !== 'time') {
      throw new BrokerError('INVALID_REQUEST', `skip --to takes a time or latest, got ${JSON.stringify(request.to)}`);
    }
    const trigger = `${request.namespace}/${request.name}`;
    const found = this.options.supervisor.find('Trigger', request.namespace, request.name);
    if (found === undefined) throw new BrokerError('NOT_FOUND', `trigger ${trigger} is not running in this dispatcher`, { details: { trigger } });
    const { log } = this.options;
    const setOffsets = log.setGroupOffsets?.bind(log);
    if (setOffsets === undefined) throw new BrokerError('INVALID_REQUEST', `the ${log.kind} event log cannot move consumer groups`);
    const group = found.egress.consumerGroup;
    const topics = found.resource.topics;
    const answer = (moves: PartitionMove[], dryRun: boolean): RewindAnswer => ({ trigger, consumerGroup: group, dryRun, to: describeTarget(target), moves, ...totals(moves) });

    const first = await this.plan(group, topics, target);
    const planned = totals(first);
    if (request.dryRun) return answer(first, true);
    this.requireConfirmation(planned.skipped, request);

    const applied = await this.options.supervisor.moveGroup(found.uid, async (): Promise<GroupMove<PartitionMove[]>> => {
      const moves = await this.plan(group, topics, target);
      this.requireConfirmation(totals(moves).skipped, request);
      for (const topic of topics) {
        await setOffsets(group, topic, moves.filter((m) => m.topic === topic).map((m) => ({ partition: m.partition, offset: m.target })));
      }
      const replayBelow = new Map(moves.filter((m) => m.redelivered > 0).map((m) => [`${m.topic}\u0000${m.partition}`, BigInt(m.current)]));
      return { result: moves, replayBelow };
    });
    const result = answer(applied, false);
    const record: RewindRecord = { mode: request.mode, who: request.who, at: new Date(this.now()).toISOString(), to: result.to, moves: applied, redelivered: result.redelivered, skipped: result.skipped };
    this.history = withRecord(this.history, trigger, record);
    this.persist(trigger, record);
    this.options.logger.info({ trigger, group, mode: request.mode, who: request.who, to: result.to, redelivered: result.redelivered, skipped: result.skipped }, `trigger ${request.mode === 'skip' ? 'skipped' : 'rewound'}`);
    return result;
  }

  /** The rewinds and skips of a trigger, oldest first. */
  records(namespace: string, name: string): readonly RewindRecord[] {
    return this.history.get(`${namespace}/${name}`) ?? [];
  }

  /** Stores a record, one write at a time; a failed write is logged (the move is done). */
  private persist(trigger: string, record: RewindRecord): void {
    const store = this.options.store;
    if (store === undefined) return;
    this.saving = this.saving.then(() => store.add(trigger, record)).catch((error: unknown) => {
      this.options.logger.warn({ err: error }, 'the record of rewinds could not be saved; it is kept in memory');
    });
  }

  private requireConfirmation(skipped: number, request: RewindRequest): void {
    if (skipped <= this.maxUnconfirmedSkip || request.confirm) return;
    throw new BrokerError('CONFIRMATION_REQUIRED', `this would skip ${skipped} events (more than ${this.maxUnconfirmedSkip}); they are never delivered to ${request.namespace}/${request.name}: confirm to go ahead (--yes)`, { details: { skipped } });
  }

  private async plan(group: string, topics: readonly string[], target: RewindTarget): Promise<PartitionMove[]> {
    const { log } = this.options;
    if (log.offsetRange === undefined || log.groupLag === undefined || log.offsetsForTime === undefined) {
      throw new BrokerError('INVALID_REQUEST', `the ${log.kind} event log cannot look up offsets`);
    }
    const lag = await log.groupLag(group, topics);
    const moves: PartitionMove[] = [];
    for (const topic of topics) {
      const ranges = await log.offsetRange(topic);
      const committed = new Map(lag.filter((l) => l.topic === topic).map((l) => [l.partition, l.committed]));
      let targets: Map<number, bigint>;
      switch (target.kind) {
        case 'earliest':
          targets = new Map(ranges.map((r) => [r.partition, BigInt(r.start)]));
          break;
        case 'latest':
          targets = new Map(ranges.map((r) => [r.partition, BigInt(r.end)]));
          break;
        case 'time':
          targets = new Map((await log.offsetsForTime(topic, target.at)).map((p) => [p.partition, BigInt(p.offset)]));
          break;
        case 'offsets':
          for (const partition of target.offsets.keys()) {
            if (!ranges.some((r) => r.partition === partition)) throw new BrokerError('INVALID_REQUEST', `topic ${topic} has no partition ${partition}`);
          }
          targets = new Map(target.offsets);
          break;
        default: {
          const never: never = target;
          throw new Error(`unknown target ${String(never)}`);
        }
      }
      moves.push(...planMoves(topic, ranges, committed, targets));
    }
    return moves;
  }
}
