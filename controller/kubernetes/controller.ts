import { EventLogClusters, type OpenClusterLog } from '../../core/event-log/clusters.js';
import type { EventLog } from '../../core/event-log/port.js';
import type { ControllerMetrics } from '../metrics.js';
import type { Logger } from '../../core/logger.js';
import { reconcileSettings } from '../config.js';
import { ContractFeed } from '../contract-feed.js';
import { cachedCredentials, clusterLogs, type ReadCredentials } from '../cluster-logs.js';
import { ContractWriter } from '../contract-writer.js';
import { Reconciler } from '../reconciler.js';
import { hostname } from 'node:os';
import { EventRecorder } from './events.js';
import { DataPlaneReports } from '../data-plane-reports.js';
import type { DataPlaneObservation } from '../state.js';
import type { KubeApi } from './api.js';
import { ingressUrlOf, type KubernetesControllerConfig } from './config.js';
import { LeaderElector } from './leader.js';
import { kafkaAuthFromSecret } from './secrets.js';
import { KubernetesSource, type KubernetesSourceOptions } from './source.js';

/**
 * The controller in Kubernetes mode: leader election around the same reconciler as the manifests
 * mode, with the Kubernetes API as its source, publishing the contract into a `ContractFeed` that
 * the admin server hands to the data plane (`GET /contract`, controller/admin.ts).
 *
 *   LeaderElector ──leading (term t)──▶ KubernetesSource + Reconciler ──contract──▶ ContractFeed
 *                 ◀──lost / stopping─── close both, empty the feed        (generations t·10⁹+1, …)
 *
 * A standby lists nothing and serves no contract (its readiness probe fails, so the Service
 * sends the data plane to the leader only). Every leadership starts afresh: a new source (list,
 * then watch) and a new reconciler, whose first pass re-observes Kafka.
 *
 * Generations: each term numbers its contracts from `term × 10⁹`, the term being the Lease's
 * `leaseTransitions` when it was acquired; so a new leader's generations are above any its
 * predecessors published and the data plane, which ignores older generations, follows it.
 */
export const GENERATIONS_PER_TERM = 1_000_000_000;

export interface KubernetesControllerOptions {
  readonly api: KubeApi;
  readonly log: EventLog;
  /** Opens a log for a cluster a resource names; its credentials are read from the named Secret. */
  readonly openCluster?: OpenClusterLog;
  readonly config: KubernetesControllerConfig;
  readonly logger: Logger;
  readonly dataPlane?: () => DataPlaneObservation;
  /** Overrides of the source's tuning (tests shorten retries). */
  readonly source?: Partial<Omit<KubernetesSourceOptions, 'api' | 'logger'>>;
  /** Counts passes and contract generations; absent: not counted. */
  readonly metrics?: ControllerMetrics | undefined;
}

interface Term {
  readonly number: number;
  readonly source: KubernetesSource;
  readonly reconciler: Reconciler;
  synced: boolean;
}

export class KubernetesController {
  readonly feed = new ContractFeed();
  /** What the data-plane processes report applying, from their polls of the contract. */
  readonly dataPlaneReports = new DataPlaneReports();
  /** Kubernetes Events on the resources: Ready changes, events skipped or held. */
  readonly events: EventRecorder;
  private readonly elector: LeaderElector | undefined;
  private current: Term | undefined;
  private running: Promise<void> | undefined;
  private readonly logger: Logger;
  /** Clients of the clusters resources name, with the credentials of their Secrets. */
  private readonly clusters: EventLogClusters;
  private readonly terms: { term: number; startedAt: number; endedAt?: number }[] = [];
  /** The Secrets resources name, each read with one GET and reused for `secretCacheMs`. */
  private readonly credentials: ReadCredentials;

  constructor(private readonly options: KubernetesControllerOptions) {
    const { config } = options;
    this.logger = options.logger.child({ component: 'controller' });
    this.events = new EventRecorder({ api: options.api, logger: this.logger, instance: hostname() });
    this.clusters = new EventLogClusters(options.log, options.openCluster);
    this.credentials = cachedCredentials((secret) => kafkaAuthFromSecret(options.api, secret), config.secretCacheMs);
    this.elector = config.leaderElection
      ? new LeaderElector({
          api: options.api,
          namespace: config.systemNamespace,
          name: config.leaseName,
          ...(config.identity === undefined ? {} : { identity: config.identity }),
          leaseDurationMs: config.leaseDurationMs,
          renewDeadlineMs: config.renewDeadlineMs,
          retryPeriodMs: config.retryPeriodMs,
          logger: options.logger,
        })
      : undefined;
  }

  /** Starts campaigning (or, without leader election, leading at once); returns at once. */
  start(): void {
    if (this.running !== undefined) return;
    if (this.elector === undefined) {
      this.running = this.lead(0, new AbortController().signal);
      return;
    }
    this.running = this.elector.run({
      onStartedLeading: ({ term, signal }) => this.lead(term, signal),
      onStoppedLeading: () => this.stepDown(),
    });
  }

  get identity(): string | undefined {
    return this.elector?.identity;
  }

  isLeader(): boolean {
    return this.current !== undefined;
  }

  /** Why the admin server is not ready: a standby, or a leader still listing; undefined when ready. */
  notReadyReason(): string | undefined {
    if (this.current === undefined) return this.elector === undefined ? 'starting' : `standby: ${this.elector.holder() || 'nobody'} leads`;
    return this.current.synced ? undefined : 'the leader is listing the objects';
  }

  reconciler(): Reconciler | undefined {
    return this.current?.reconciler;
  }

  source(): KubernetesSource | undefined {
    return this.current?.source;
  }

  /** Each leadership of this process: term number, start and end (ms since epoch). */
  leaderships(): readonly { readonly term: number; readonly startedAt: number; readonly endedAt?: number }[] {
    return this.terms;
  }

  /** Stops leading and campaigning, releasing the Lease so a standby takes over at once. */
  async close(): Promise<void> {
    if (this.elector !== undefined) await this.elector.stop({ release: true });
    else await this.stepDown();
    await this.running?.catch(() => undefined);
    this.dataPlaneReports.close();
    await this.events.flush();
  }

  /** For tests: stops as a killed process would, without releasing the Lease. */
  async crash(): Promise<void> {
    if (this.elector !== undefined) await this.elector.stop({ release: false });
    else await this.stepDown();
  }

  private async lead(term: number, signal: AbortSignal): Promise<void> {
    const { config, api, log } = this.options;
    const source = new KubernetesSource({
      api,
      logger: this.options.logger,
      systemNamespace: config.systemNamespace,
      clusterDomain: config.clusterDomain,
      writers: config.writers,
      addressRefreshMs: config.addressRefreshMs,
      configMapRefreshMs: config.configMapRefreshMs,
      notInstalledRetryMs: config.notInstalledRetryMs,
      debounceMs: config.eventDebounceMs,
      ...this.options.source,
    });
    const reconciler = new Reconciler({
      source,
      log,
      clusterLogs: clusterLogs(this.clusters, this.credentials),
      contracts: new ContractWriter((contract) => this.feed.publish(contract), term * GENERATIONS_PER_TERM),
      settings: reconcileSettings({ ...config, ingressUrl: ingressUrlOf(config) }),
      logger: this.options.logger,
      ...(this.options.dataPlane === undefined ? {} : { dataPlane: this.options.dataPlane }),
      dataPlaneReports: this.dataPlaneReports,
      egressFaults: () => this.dataPlaneReports.egressFaults(),
      onEvent: (event) => this.events.record(event),
      retryMinMs: config.retryMinMs,
      retryMaxMs: config.retryMaxMs,
      deleteGraceMs: config.deleteGraceMs,
      metrics: this.options.metrics,
    });
    const current: Term = { number: term, source, reconciler, synced: false };
    this.current = current;
    this.terms.push({ term, startedAt: Date.now() });
    if (signal.aborted) return;
    await reconciler.start();
    if (this.current === current && !signal.aborted) {
      current.synced = true;
      this.logger.info({ term, objects: source.stats().objects }, 'leading: first pass done');
    }
  }

  private async stepDown(): Promise<void> {
    const current = this.current;
    if (current === undefined) return;
    this.current = undefined;
    this.feed.clear();
    await current.reconciler.close();
    await this.clusters.close();
    const record = this.terms.find((t) => t.term === current.number && t.endedAt === undefined);
    if (record !== undefined) record.endedAt = Date.now();
  }
}
