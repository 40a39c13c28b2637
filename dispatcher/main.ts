import { readFile } from 'node:fs/promises';
import type { ContractSource } from '../core/contract/source.js';
import { FaultBook, type EgressFault } from '../core/egress-faults.js';
import { LagReader, type EgressLag } from '../core/event-log/lag.js';
import { BrokerError } from '../core/errors.js';
import { EventLogClusters } from '../core/event-log/clusters.js';
import type { EventLog } from '../core/event-log/port.js';
import type { Logger } from '../core/logger.js';
import { contractApplied, type Registry } from '../core/metrics.js';
import type { Tracing } from '../core/tracing.js';
import type { DispatcherConfig } from './config.js';
import { HttpSender } from './delivery.js';
import { DispatcherMetrics } from './metrics.js';
import { systemClock, type Clock } from './dispatch.js';
import { newCounters, type EgressCounters } from './egress-consumer.js';
import { EgressSupervisor, type EgressStats } from './egress-supervisor.js';
import { WaitingMemory } from './waiting-memory.js';
import type { RewindOutcome } from '../core/rewind.js';
import type { RewindHistoryStore } from './rewind/history.js';
import { ContractRewinds } from './rewind/requests.js';
import { Rewinder } from './rewind/service.js';
import { FileTokenSource, type TokenSource } from './oidc-tokens.js';

/**
 * The dispatcher: reads every egress's events from the event log and delivers them over HTTP.
 *
 *   ContractSource ──generation──▶ EgressSupervisor ──one per egress──▶ EgressConsumer
 *                                                                        │ EventLog.consume
 *                                                                        ▼
 *                                          dispatch.ts (filter → deliver → reply | dead letter)
 *                                                                        │ HttpSender (undici)
 *                                                                        ▼
 *                                                     subscriber / reply URL / dead-letter sink
 *
 * `close()` (SIGTERM, wired in bin/) stops fetching, lets deliveries in progress finish up to
 * `shutdownDeadlineMs`, commits what is done and leaves the groups: nothing done is delivered
 * again on restart, and nothing unfinished is lost (it is not committed).
 */

export interface DispatcherDeps {
  readonly config: DispatcherConfig;
  readonly log: EventLog;
  /**
   * Logs of the clusters resources name (`Resource.cluster`), around `log`; the dispatcher closes
   * those no resource uses any more, and all of them when it stops. Default: `log` only.
   */
  readonly clusters?: EventLogClusters;
  readonly contracts: ContractSource;
  readonly logger: Logger;
  /** For tests: time and randomness (stall jitter). */
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Called when an egress's faults change (records skipped): the controller may refresh statuses. */
  readonly onFaults?: () => void;
  /** OpenTelemetry (core/tracing.ts); without it the W3C trace headers are only passed through. */
  readonly tracing?: Tracing | undefined;
  /** The process's metrics registry; absent: no metrics (lag can still be read). */
  readonly metrics?: Registry | undefined;
  /**
   * Where OIDC tokens for destinations with an audience come from (the controller in Kubernetes
   * mode); default: the files of `config.oidcTokenFiles`, if any.
   */
  readonly tokens?: TokenSource | undefined;
  /** Where the record of rewinds outlives the process (rewind/history.ts); memory only without it. */
  readonly rewindHistory?: RewindHistoryStore | undefined;
}

export interface DispatcherStats {
  readonly egresses: readonly EgressStats[];
  /** Sums over the egresses running now. */
  readonly totals: Readonly<EgressCounters> & { readonly inFlight: number; readonly held: number };
  /** Deliveries waiting (backoff, Retry-After, held) and the bytes they keep, against `maxWaitingBytes`. */
  readonly waiting: { readonly deliveries: number; readonly bytes: number; readonly limitBytes: number; readonly consumptionPaused: boolean; readonly pauses: number };
}

export interface RunningDispatcher {
  close(): Promise<void>;
  stats(): DispatcherStats;
  /** Faults per consumer group (records skipped), for the owners' statuses. */
  faults(): ReadonlyMap<string, EgressFault>;
  /** Consumer lag per egress and partition (cached for a couple of seconds); empty on a log without offsets. */
  lag(): Promise<readonly EgressLag[]>;
  /** Rewind and skip of a Trigger's group while it runs, and their record (rewind/service.ts). */
  readonly rewinds: Rewinder;
  /** What became of the rewinds the contract asked for, per consumer group (rewind/requests.ts). */
  rewindOutcomes(): ReadonlyMap<string, readonly RewindOutcome[]>;
}

export async function startDispatcher(deps: DispatcherDeps): Promise<RunningDispatcher> {
  const logger = deps.logger.child({ component: 'dispatcher' });
  const trustedCa = deps.config.trustedCaFile === undefined ? undefined : await readTrustedCa(deps.config.trustedCaFile);
  const sender = new HttpSender({ connections: deps.config.connectionsPerOrigin, maxResponseBytes: deps.config.maxResponseBytes, trustedCa });
  const waiting = new WaitingMemory(deps.config.maxWaitingBytes);
  let pauses = 0;
  waiting.onChange((over) => {
    const fields = { waitingBytes: waiting.bytes(), waitingDeliveries: waiting.waiting(), maxWaitingBytes: waiting.limitBytes };
    if (over) {
      pauses++;
      logger.warn(fields, 'waiting deliveries hold more than maxWaitingBytes: every egress stops taking new records until they are under 80 % again (nothing is dropped)');
    } else {
      logger.info(fields, 'waiting deliveries back under 80 % of maxWaitingBytes: consuming again');
    }
  });
  const faults = new FaultBook(() => deps.onFaults?.());
  const tokenFiles = deps.config.oidcTokenFiles;
  const tokens = deps.tokens ?? (tokenFiles === undefined ? undefined : new FileTokenSource(new Map(Object.entries(tokenFiles))));
  const metrics = deps.metrics === undefined ? undefined : new DispatcherMetrics(deps.metrics);
  const clusters = deps.clusters ?? new EventLogClusters(deps.log);
  const supervisor = new EgressSupervisor(
    { log: deps.log, sender, config: deps.config, logger, clock: deps.clock ?? systemClock, random: deps.random ?? Math.random, waiting, faults, tracing: deps.tracing, metrics, tokens },
    deps.config.shutdownDeadlineMs,
    clusters,
  );
  let first: Promise<void> = Promise.resolve();
  let subscribed = false;
  const lag = new LagReader(deps.log, () => supervisor.lagSources());
  metrics?.watch(() => supervisor.egressGauges(), lag);
  const rewinds = new Rewinder({ log: deps.log, supervisor, logger, store: deps.rewindHistory });
  await rewinds.load().catch((error: unknown) => logger.warn({ err: error }, 'the record of rewinds could not be read; starting a new one'));
  // Rewinds the contract asks for, once each, after the egresses of that contract run.
  const contractRewinds = new ContractRewinds(rewinds, logger, () => deps.onFaults?.());
  const unsubscribe = deps.contracts.subscribe((contract) => {
    const started = performance.now();
    const applied = supervisor.apply(contract);
    void applied.then(() => contractRewinds.apply(contract), () => undefined);
    if (deps.metrics !== undefined) {
      const registry = deps.metrics;
      void applied.then(() => contractApplied(registry, 'dispatcher', contract.generation, (performance.now() - started) / 1000));
    }
    if (!subscribed) first = applied;
  });
  subscribed = true;
  // The contract in force at start: its egresses have joined their groups (or are retrying).
  await first;
  logger.info({ eventLog: deps.log.kind, egresses: supervisor.stats().length }, 'dispatcher started');

  let closing: Promise<void> | undefined;
  return {
    close: () => {
      closing ??= (async () => {
        unsubscribe();
        await contractRewinds.close();
        await rewinds.flushed();
        await supervisor.close();
        await clusters.close();
        await sender.close().catch(() => sender.destroy());
        logger.info('dispatcher stopped');
      })();
      return closing;
    },
    faults: () => faults.snapshot(),
    rewindOutcomes: () => contractRewinds.snapshot(),
    lag: () => lag.read(),
    rewinds,
    stats: () => {
      const egresses = supervisor.stats();
      const totals = { ...newCounters(), inFlight: 0, held: 0 };
      for (const e of egresses) {
        for (const name of Object.keys(e.counters) as (keyof EgressCounters)[]) totals[name] += e.counters[name];
        totals.inFlight += e.inFlight;
        totals.held += e.held;
      }
      return {
        egresses,
        totals,
        waiting: { deliveries: waiting.waiting(), bytes: waiting.bytes(), limitBytes: waiting.limitBytes, consumptionPaused: waiting.isOver(), pauses },
      };
    },
  };
}

async function readTrustedCa(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new BrokerError('CONFIG_INVALID', `the trusted CA file ${file} cannot be read (${code})`, { details: { file, errno: code }, cause: error });
  }
}
