import type { ClusterRef, Contract } from '../core/contract/types.js';
import { diffContracts } from '../core/contract/diff.js';
import type { EgressFault } from '../core/egress-faults.js';
import { BrokerError } from '../core/errors.js';
import { describeCluster } from '../core/event-log/clusters.js';
import type { EventLog } from '../core/event-log/port.js';
import type { Logger } from '../core/logger.js';
import { deleteObsolete, ensureTopics, initGroups, ObservedState, type LogFor } from './apply-topics.js';
import { readyCondition, stampTransitions, type ObjectStatus } from './conditions.js';
import type { ContractWriter } from './contract-writer.js';
import { computeDesired, desiredTopics } from './desired.js';
import { adoptFinalizing, releasedKeys } from './finalizers.js';
import { awaitingDataPlane, statusEvents, type ResourceEvent } from './resource-events.js';
import { keyOf, type KnObject, type ObjectKey } from './resources.js';
import type { ResourceSource, SourceProblem } from './sources/source.js';
import type { DataPlaneReports } from './data-plane-reports.js';
import type { DataPlaneObservation, DesiredState, ReconcileSettings } from './state.js';
import type { ControllerMetrics, PassResult } from './metrics.js';

/**
 * The control loop: observe -> desired state (pure) -> apply the difference -> statuses.
 *
 * One pass:
 *   1. ensureTopics(desiredTopics(objects, admitted, observed))   create / check the brokers' topics
 *   2. desired = computeDesired(...); initGroups(desired.groups)  fix new groups' starting offsets
 *   3. desired = computeDesired(...) if step 2 did anything       contract + statuses from what was observed
 *   4. publish the contract if it changed                         the data plane applies it by diff
 *   5. delete groups and topics whose owners are gone             after the data plane let go
 *
 * Passes never overlap: a change during a pass leads to one more pass after it. A pass that left
 * something undone (Kafka down, a deletion refused) is retried with a capped backoff.
 */

export interface ReconcilerOptions {
  readonly source: ResourceSource;
  readonly log: EventLog;
  /**
   * The logs of the clusters resources name (a Broker's ConfigMap `bootstrap.servers`,
   * `auth.secret.ref.name`); without them such a resource's topic fails with CONFIG_INVALID.
   */
  readonly clusterLogs?: ClusterLogs;
  readonly contracts: ContractWriter;
  readonly settings: ReconcileSettings;
  readonly logger: Logger;
  /** Whether the data plane is there to serve the contract; `start` runs it in-process: always. */
  readonly dataPlane?: () => DataPlaneObservation;
  /**
   * What the data-plane processes report they applied; with it, a resource is DataPlaneAvailable
   * once they have applied the generation that first carried it, and each report triggers a pass.
   */
  readonly dataPlaneReports?: DataPlaneReports;
  /** The dispatcher's faults per consumer group, when it runs in this process (`start`). */
  readonly egressFaults?: () => ReadonlyMap<string, EgressFault>;
  /** Called with what an operator should hear about (Ready changes, events skipped or held). */
  readonly onEvent?: (event: ResourceEvent) => void;
  readonly now?: () => Date;
  /** First and largest delay before a pass that left work undone is retried. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** How long a gone trigger's group and a gone broker's topic are kept, so the data plane lets go first. */
  readonly deleteGraceMs?: number;
  /** Counts passes and contract generations; absent: not counted. */
  readonly metrics?: ControllerMetrics | undefined;
}

/** An object as the admin API shows it: the Kubernetes shape, with its status. */
export interface ObjectView {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: KnObject['metadata'];
  readonly spec?: unknown;
  readonly data?: unknown;
  readonly status?: ObjectStatus;
}

/** The controller's side of a per-cluster registry (controller/cluster-logs.ts). */
export interface ClusterLogs {
  /** The cluster's log, with credentials read now; rejects with KAFKA_AUTH_INVALID for a missing or bad Secret. */
  forCluster(cluster: ClusterRef): Promise<EventLog>;
  /** Closes the clients of clusters not in `clusters`. */
  retain(clusters: Iterable<ClusterRef | undefined>): Promise<void>;
}

export class Reconciler {
  private readonly observed = new ObservedState();
  private admitted: ReadonlyMap<ObjectKey, KnObject> = new Map();
  private statuses = new Map<ObjectKey, ObjectStatus>();
  private desired: DesiredState | undefined;
  private readonly obsoleteSince = new Map<string, number>();
  private dirty = false;
  private loop: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs: number;
  private closed = false;
  private passes = 0;
  private lastPublished: Contract | undefined;
  /** The generation that first carried each contract resource (by uid), while it stays in the contract. */
  private readonly carriedAt = new Map<string, number>();
  private stopReports: (() => void) | undefined;
  private readonly now: () => Date;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly deleteGraceMs: number;
  private readonly logger: Logger;

  constructor(private readonly options: ReconcilerOptions) {
    this.now = options.now ?? (() => new Date());
    this.retryMinMs = options.retryMinMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.retryDelayMs = this.retryMinMs;
    this.deleteGraceMs = options.deleteGraceMs ?? 1000;
    this.logger = options.logger.child({ component: 'controller' });
  }

  /** Loads the source and completes the first pass (the first contract is then published). */
  async start(): Promise<void> {
    this.stopReports = this.options.dataPlaneReports?.changes(() => void this.reconcile());
    await this.options.source.start(() => void this.reconcile());
    await this.reconcile();
  }

  /** Asks for a pass; resolves once a pass that started after this call has finished. */
  reconcile(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.dirty = true;
    this.loop ??= this.runPasses().finally(() => {
      this.loop = undefined;
    });
    return this.loop;
  }

  /** The objects with their statuses, for the admin API. */
  objects(): ObjectView[] {
    const desired = this.desired;
    // With the objects the controller generated (a Channel's backing channel), unless the source holds them.
    return [...this.options.source.objects(), ...(desired?.generated ?? [])].map((object) => {
      const key = keyOf(object);
      const shown = desired?.objects.get(key) ?? object;
      const status = this.statuses.get(key);
      const ignoredBecause = desired?.ignored.get(key);
      const view: ObjectView = { apiVersion: shown.apiVersion, kind: shown.kind, metadata: shown.metadata };
      const withBody = { ...view, ...(shown.spec === undefined ? {} : { spec: shown.spec }), ...(shown.data === undefined ? {} : { data: shown.data }) };
      if (status !== undefined) return { ...withBody, status };
      if (ignoredBecause !== undefined) {
        return { ...withBody, status: { observedGeneration: object.metadata.generation, conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NotHandled', message: ignoredBecause }] } };
      }
      return withBody;
    });
  }

  problems(): readonly SourceProblem[] {
    return this.options.source.problems();
  }

  contract(): Contract | undefined {
    return this.options.contracts.current();
  }

  /** How many passes have completed (for tests and the admin API). */
  passCount(): number {
    return this.passes;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopReports?.();
    clearTimeout(this.retryTimer);
    await this.options.source.close();
    await this.loop?.catch(() => undefined);
    // The cluster clients it opened; the controller's own log belongs to the caller.
    await this.options.clusterLogs?.retain([]);
  }

  private async runPasses(): Promise<void> {
    while (this.dirty && !this.closed) {
      this.dirty = false;
      const started = performance.now();
      try {
        const result = await this.pass();
        this.options.metrics?.pass(result, (performance.now() - started) / 1000);
      } catch (error) {
        this.options.metrics?.pass('error', (performance.now() - started) / 1000);
        // A bug, not an outcome: keep the last good state and try again later.
        this.logger.error({ err: error }, 'reconcile pass failed');
        this.scheduleRetry(true);
      }
    }
  }

  private async pass(): Promise<PassResult> {
    const started = performance.now();
    const { log, settings, source, clusterLogs } = this.options;
    const logFor: LogFor = async (cluster) => {
      if (cluster === undefined) return log;
      if (clusterLogs === undefined) throw new BrokerError('CONFIG_INVALID', `this controller cannot reach a Kafka cluster of a resource's own (${describeCluster(cluster)})`, { retriable: false });
      return clusterLogs.forCluster(cluster);
    };
    const logger = this.logger;
    const objects = source.objects();
    // Objects being deleted that wait for their cleanup (a Kubernetes finalizer), and the
    // addresses of referenced objects the source looked up (Kubernetes Services).
    const finalizing = source.finalizing?.() ?? [];
    const external = source.addresses?.();
    adoptFinalizing(finalizing, objects, this.observed);
    this.observed.dataPlane = this.options.dataPlane?.() ?? { available: true };
    const reports = this.options.dataPlaneReports;
    // A resource not yet published is carried by the next generation, which no process has yet.
    this.observed.dataPlaneOf = reports === undefined
      ? undefined
      : (uid, roles) => reports.availability(this.carriedAt.get(uid) ?? this.options.contracts.nextGeneration(), roles);
    this.observed.egressFaults = this.options.egressFaults?.() ?? new Map();
    // The rewinds the dispatchers applied for triggers' annotations (Kubernetes mode), for status.rewinds.
    this.observed.rewindOutcomes = this.options.dataPlaneReports?.rewindOutcomes() ?? new Map();

    await ensureTopics(logFor, desiredTopics(objects, this.admitted, this.observed, settings, external), this.observed, logger);
    let desired = computeDesired(objects, this.admitted, this.observed, settings, external);
    // New observations change the outcome; none (the usual case after the first pass) do not.
    if ((await initGroups(logFor, desired.groups, this.observed, logger)) > 0) desired = computeDesired(objects, this.admitted, this.observed, settings, external);
    this.admitted = desired.admitted;

    const published = await this.options.contracts.write(desired.resources);
    const counts = this.updateStatuses(desired, published === undefined);
    if (published !== undefined) {
      // One line per contract change (per-resource detail is debug), however many triggers it touched.
      const egresses = published.resources.reduce((n, r) => n + r.egresses.length, 0);
      const { added, removed, changed } = diffContracts(this.lastPublished, published).egresses;
      this.lastPublished = published;
      this.options.metrics?.published(published.generation, (performance.now() - started) / 1000);
      this.noteCarried(published);
      logger.info(
        { generation: published.generation, objects: counts.total, ready: counts.ready, egresses, added: added.length, removed: removed.length, changed: changed.length },
        `contract generation ${published.generation}: ${counts.ready} of ${counts.total} resources Ready, ${egresses} egresses (+${added.length} -${removed.length} ~${changed.length})`,
      );
    }
    this.desired = desired;
    if (this.options.source.writeStatuses) await this.options.source.writeStatuses(this.statuses);

    const due = this.dueForDeletion(desired);
    await deleteObsolete(logFor, due, this.observed, logger);
    // Cluster clients no topic or group needs any more (a broker moved or gone) are closed.
    await clusterLogs?.retain([...desired.topics, ...desired.groups, ...this.observed.topics.values(), ...this.observed.groups.values()].map((x) => x.cluster));
    for (const name of [...due.groups, ...due.topics]) if (!this.observed.groups.has(name) && !this.observed.topics.has(name)) this.obsoleteSince.delete(name);
    const released = releasedKeys(finalizing, this.observed);
    if (released.length > 0 && source.finalized) await source.finalized(released);
    this.passes++;

    const undone = desired.topics.some((t) => this.observed.topics.get(t.name)?.state !== 'ready')
      || desired.groups.some((g) => this.observed.groups.get(g.group)?.state !== 'ready')
      || due.groups.some((g) => this.observed.groups.has(g))
      || due.topics.some((t) => this.observed.topics.has(t));
    if (undone) this.scheduleRetry(true);
    else if (this.obsoleteSince.size > 0) this.scheduleRetry(false, this.deleteGraceMs);
    else {
      this.retryDelayMs = this.retryMinMs;
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    return undone ? 'retry' : 'ok';
  }

  private noteCarried(published: Contract): void {
    const present = new Set<string>();
    for (const resource of published.resources) {
      present.add(resource.uid);
      if (!this.carriedAt.has(resource.uid)) this.carriedAt.set(resource.uid, published.generation);
    }
    for (const uid of this.carriedAt.keys()) if (!present.has(uid)) this.carriedAt.delete(uid);
  }

  /** Obsolete groups and topics that have been obsolete for the grace period. */
  private dueForDeletion(desired: DesiredState): { groups: string[]; topics: string[] } {
    const now = Date.now();
    const current = new Set([...desired.obsoleteGroups, ...desired.obsoleteTopics]);
    for (const name of this.obsoleteSince.keys()) if (!current.has(name)) this.obsoleteSince.delete(name);
    for (const name of current) if (!this.obsoleteSince.has(name)) this.obsoleteSince.set(name, now);
    const due = (name: string): boolean => now - this.obsoleteSince.get(name)! >= this.deleteGraceMs;
    return { groups: desired.obsoleteGroups.filter(due), topics: desired.obsoleteTopics.filter(due) };
  }

  private scheduleRetry(backoff: boolean, delayMs?: number): void {
    if (this.closed) return;
    const delay = delayMs ?? this.retryDelayMs;
    if (backoff) this.retryDelayMs = Math.min(this.retryMaxMs, this.retryDelayMs * 2);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.reconcile(), delay);
    this.retryTimer.unref();
  }

  /** Stamps the new statuses; `summarize` logs the first pass's counts (when no contract line will). */
  private updateStatuses(desired: DesiredState, summarize: boolean): { ready: number; total: number } {
    const now = this.now().toISOString();
    const next = new Map<ObjectKey, ObjectStatus>();
    const first = this.passes === 0;
    let ready = 0;
    for (const [key, status] of desired.statuses) {
      const previous = this.statuses.get(key);
      const stamped = stampTransitions(previous, status, now);
      next.set(key, stamped);
      const before = readyCondition(previous);
      const after = readyCondition(stamped);
      if (after?.status === 'True') ready++;
      const object = desired.objects.get(key);
      const cause = desired.readyCauses.get(key);
      if (this.options.onEvent !== undefined && object !== undefined) for (const event of statusEvents(object, previous, stamped, first, cause)) this.options.onEvent(event);
      const changed = before?.status !== after?.status || before?.reason !== after?.reason || before?.message !== after?.message;
      if (!changed || after === undefined) continue;
      if (after.status === 'True') {
        if (!first) this.logger.debug({ resource: key }, `${key} is Ready`);
      } else {
        const level = awaitingDataPlane(previous, stamped, cause) ? 'debug' : 'warn';
        this.logger[level]({ resource: key, reason: after.reason }, `${key} is not Ready: ${after.reason ?? ''}${after.message === undefined ? '' : `: ${after.message}`}`);
      }
    }
    for (const key of this.statuses.keys()) if (!next.has(key)) this.logger.debug({ resource: key }, `${key} removed`);
    if (first && summarize) this.logger.info({ resources: next.size, ready }, `reconciled ${next.size} resources, ${ready} ready`);
    this.statuses = next;
    return { ready, total: next.size };
  }
}
