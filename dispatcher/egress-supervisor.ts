import { diffContracts } from '../core/contract/diff.js';
import type { Contract, Egress, Resource } from '../core/contract/types.js';
import { BrokerError } from '../core/errors.js';
import type { LagSource } from '../core/event-log/lag.js';
import type { EventLogClusters } from '../core/event-log/clusters.js';
import { EgressConsumer, needsRestart, type EgressConsumerDeps, type EgressCounters } from './egress-consumer.js';

/**
 * Keeps one running `EgressConsumer` per egress of the current contract, applying each new
 * generation by difference (core/contract/diff.ts): added egresses start, removed ones stop
 * (gracefully, like a shutdown), changed ones are updated in place — or restarted when their
 * group, topics or delivery order changed. Egresses the diff does not name are not touched.
 *
 * Operations on one egress run one after another (a restart's stop finishes before its start);
 * operations on different egresses run side by side. An egress that cannot start (its topic does
 * not exist yet, the log is away) is retried every `egressRestartBackoffMs` until it starts or
 * leaves the contract.
 */

export type EgressState = 'starting' | 'running' | 'retrying' | 'stopping';

export interface EgressStats {
  readonly uid: string;
  readonly reference: string;
  readonly kind: string;
  readonly consumerGroup: string;
  readonly state: EgressState;
  readonly inFlight: number;
  readonly held: number;
  readonly counters: Readonly<EgressCounters>;
}

interface Handle {
  consumer: EgressConsumer;
  state: EgressState;
  /** The tail of this egress's operations. */
  ops: Promise<void>;
  retryTimer: NodeJS.Timeout | undefined;
  /** Failed start attempts in a row. */
  failures: number;
  /** Set once the egress left the contract (or the supervisor closes): no more starts. */
  gone: boolean;
  /** Set while its group is being moved (moveGroup): a second move is refused, not queued. */
  moving?: boolean;
}

/** What a group move did: its result, and where each partition was before (for the replay mark). */
export interface GroupMove<T> {
  readonly result: T;
  /** Per `topic\0partition`: records below this offset were delivered before the move. */
  readonly replayBelow: ReadonlyMap<string, bigint>;
}

export class EgressSupervisor {
  private readonly handles = new Map<string, Handle>();
  private applied: Contract | undefined;
  private closed = false;

  constructor(
    private readonly deps: EgressConsumerDeps,
    private readonly stopDeadlineMs: number,
    private readonly clusters?: EventLogClusters,
  ) {}

  /**
   * Applies a contract generation. The diff is taken at once (so generations apply in the order
   * they came); the returned promise settles when this generation's starts and stops have had
   * their first attempt. It never rejects: failures are logged and retried.
   */
  apply(contract: Contract): Promise<void> {
    if (this.closed) return Promise.resolve();
    const diff = diffContracts(this.applied, contract);
    this.applied = contract;
    const ops: Promise<void>[] = [];
    for (const { egress } of diff.egresses.removed) {
      ops.push(this.remove(egress.uid));
      this.deps.faults?.forget(egress.consumerGroup);
    }
    for (const { before, after } of diff.egresses.changed) {
      const handle = this.handles.get(after.egress.uid);
      if (handle === undefined || needsRestart(before, after)) {
        // The new member starts once the old one has left, under the same uid from now on.
        ops.push(this.add(after.resource, after.egress, this.remove(after.egress.uid)));
      } else {
        handle.consumer.update(after.resource, after.egress);
      }
    }
    for (const { resource, egress } of diff.egresses.added) ops.push(this.add(resource, egress));
    if (ops.length > 0) {
      // One line per contract change, at debug: the controller logs the change at info.
      this.deps.logger.debug(
        { generation: contract.generation, added: diff.egresses.added.length, removed: diff.egresses.removed.length, changed: diff.egresses.changed.length },
        'applying contract',
      );
    }
    return Promise.all(ops).then(async () => {
      // Clients of clusters no resource names any more go once their egresses have left.
      if (this.clusters !== undefined && this.clusters.size > 0) await this.clusters.retain(contract.resources.map((r) => r.cluster));
    });
  }

  stats(): EgressStats[] {
    return [...this.handles.entries()].map(([uid, h]) => ({
      uid,
      reference: `${h.consumer.egress.reference.namespace}/${h.consumer.egress.reference.name}`,
      kind: h.consumer.egress.reference.kind,
      consumerGroup: h.consumer.egress.consumerGroup,
      state: h.state,
      inFlight: h.consumer.inFlight(),
      held: h.consumer.heldCount(),
      counters: { ...h.consumer.counters },
    }));
  }

  /** Every egress with what its lag is read from: group, topics, and its oldest records not finished. */
  lagSources(): LagSource[] {
    return [...this.handles.values()].map(({ consumer }) => ({
      reference: consumer.egress.reference, consumerGroup: consumer.egress.consumerGroup, topics: consumer.resource.topics, pending: consumer.pendingOldest(),
    }));
  }

  /** The egresses running now, with their held and in-flight counts (for gauges). */
  egressGauges(): { egress: Egress; held: number; inFlight: number }[] {
    return [...this.handles.values()].map(({ consumer }) => ({ egress: consumer.egress, held: consumer.heldCount(), inFlight: consumer.inFlight() }));
  }

  /** The egress of this reference (kind, namespace, name), if it runs here. */
  find(kind: string, namespace: string, name: string): { uid: string; egress: Egress; resource: Resource; state: EgressState } | undefined {
    for (const [uid, h] of this.handles) {
      const ref = h.consumer.egress.reference;
      if (ref.kind === kind && ref.namespace === namespace && ref.name === name) return { uid, egress: h.consumer.egress, resource: h.consumer.resource, state: h.state };
    }
    return undefined;
  }

  /**
   * Moves an egress's group while nothing of it runs: in the egress's own queue of operations,
   * its member stops (fetching paused, in-flight deliveries finished up to the stop deadline, done
   * work committed, group left), `move` sets the offsets, and a new member starts from them —
   * also when `move` fails, from wherever the group then is. Refused (GROUP_BUSY), never queued,
   * while the egress is not running or another move of it is under way: a move applies whole or
   * not at all. Other egresses are not touched.
   */
  moveGroup<T>(uid: string, move: (egress: Egress, resource: Resource) => Promise<GroupMove<T>>): Promise<T> {
    const handle = this.handles.get(uid);
    if (handle === undefined || handle.gone) return Promise.reject(new BrokerError('NOT_FOUND', 'the egress is not running in this dispatcher'));
    const what = `${handle.consumer.egress.reference.namespace}/${handle.consumer.egress.reference.name}`;
    if (handle.moving === true) return Promise.reject(new BrokerError('GROUP_BUSY', `a rewind of ${what} is in progress; try again when it is done`));
    if (handle.state !== 'running') return Promise.reject(new BrokerError('GROUP_BUSY', `${what} is ${handle.state}, not running; try again when it runs`));
    handle.moving = true;
    return new Promise<T>((resolve, reject) => {
      void this.enqueue(handle, async () => {
        try {
          const old = handle.consumer;
          await old.stop(this.stopDeadlineMs);
          let moved: GroupMove<T> | undefined;
          let failure: unknown;
          try {
            moved = await move(old.egress, old.resource);
          } catch (error) {
            failure = error;
          }
          if (!handle.gone) {
            handle.consumer = new EgressConsumer(old.resource, old.egress, this.deps, moved?.replayBelow);
            Object.assign(handle.consumer.counters, old.counters);
            handle.state = 'starting';
            await this.start(handle);
          }
          if (moved === undefined) reject(failure);
          else resolve(moved.result);
        } catch (error) {
          reject(error);
        } finally {
          handle.moving = false;
        }
      });
    });
  }

  /** Stops every egress (each with the stop deadline), in parallel. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.handles.keys()].map((uid) => this.remove(uid)));
  }

  private add(resource: Resource, egress: Egress, after: Promise<void> = Promise.resolve()): Promise<void> {
    if (this.closed) return Promise.resolve();
    // A resource on a cluster of its own reads, replies and dead-letters there.
    const deps = resource.cluster === undefined || this.clusters === undefined ? this.deps : { ...this.deps, log: this.clusters.lazy(resource.cluster) };
    const handle: Handle = { consumer: new EgressConsumer(resource, egress, deps), state: 'starting', ops: after, retryTimer: undefined, failures: 0, gone: false };
    this.handles.set(egress.uid, handle);
    return this.enqueue(handle, () => this.start(handle));
  }

  private async start(handle: Handle): Promise<void> {
    if (handle.gone) return;
    try {
      await handle.consumer.start();
      if (!handle.gone) handle.state = 'running';
      handle.failures = 0;
    } catch (error) {
      if (handle.gone) return;
      handle.state = 'retrying';
      handle.failures++;
      const retryInMs = this.deps.config.egressRestartBackoffMs;
      // Warn on the first failure and then about once a minute; every attempt is at debug.
      const everyMinute = Math.max(1, Math.round(60_000 / retryInMs));
      const level = handle.failures === 1 || handle.failures % everyMinute === 0 ? 'warn' : 'debug';
      this.deps.logger[level](
        {
          err: error, egress: `${handle.consumer.egress.reference.namespace}/${handle.consumer.egress.reference.name}`,
          group: handle.consumer.egress.consumerGroup, attempts: handle.failures, retryInMs,
        },
        'egress cannot start; retrying',
      );
      handle.retryTimer = setTimeout(() => {
        handle.retryTimer = undefined;
        void this.enqueue(handle, () => this.start(handle));
      }, retryInMs);
      handle.retryTimer.unref();
    }
  }

  private remove(uid: string): Promise<void> {
    const handle = this.handles.get(uid);
    if (handle === undefined) return Promise.resolve();
    this.handles.delete(uid);
    handle.gone = true;
    clearTimeout(handle.retryTimer);
    handle.state = 'stopping';
    return this.enqueue(handle, () => handle.consumer.stop(this.stopDeadlineMs));
  }

  private enqueue(handle: Handle, op: () => Promise<void>): Promise<void> {
    const next = handle.ops.then(op).catch((error: unknown) => this.deps.logger.error({ err: error }, 'egress operation failed'));
    handle.ops = next;
    return next;
  }
}
