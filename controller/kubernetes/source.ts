import type { Logger } from '../../core/logger.js';
import type { ObjectStatus } from '../conditions.js';
import { KINDS, type KindInfo } from '../api-kinds.js';
import { RefResolver } from './addressables.js';
import { ConfigMapReader, wantedConfigMaps } from './config-maps.js';
import { describeApiError, statusOf, type ApiObject, type KubeApi } from './api.js';
import { KindInformer } from './informer.js';
import {
  addFinalizerPatch, destinationRefs, hasFinalizer, isDeleting, jsonEqual, removeFinalizerPatch, sameForCore, statusPatch, toKnObject,
} from './objects.js';
import { WorkQueue } from './workqueue.js';
import { objectKey, type KnObject, type ObjectKey } from '../resources.js';
import type { ExternalAddresses, ResourceSource, SourceProblem } from '../sources/source.js';

/**
 * The Kubernetes API as a source of objects: the second adapter of the port in source.ts (the
 * first reads a folder of manifests). The controller core is the same; this file only moves
 * objects in and statuses out.
 *
 *   informers (one per row of api-kinds.ts) ──▶ cache ──onChange──▶ Reconciler pass (whole desired state)
 *                                             ▲                       │ statuses, finalized keys
 *            status subresource, finalizers   │                       ▼
 *   API server ◀── merge patches ── workers ◀── work queue (per key, de-duplicated, rate-limited)
 *
 * Why two loops: the core computes the desired state of everything in one pure pass (10,000
 * triggers take a fraction of a second), so a change needs no per-object reconcile; what is per
 * object is writing to the API, which can fail object by object (409 Conflict, 429, a webhook), so
 * that is what the work queue retries, one key at a time, with backoff.
 *
 * Finalizers: an object the controller owns (one it reports a status for) gets FINALIZER. When it
 * is deleted, the API server only sets its deletionTimestamp; it leaves `objects()` (so the core
 * drops it from the contract and marks its topic or group obsolete) and shows up in
 * `finalizing()`. Once the core reports it `finalized` (its topic or group is deleted), a worker
 * removes the finalizer and the API server removes the object.
 */

export interface KubernetesSourceOptions {
  readonly api: KubeApi;
  readonly logger: Logger;
  /** The controller's namespace: the ConfigMaps it uses are read there, by name. */
  readonly systemNamespace: string;
  /** The kinds to watch; every row of api-kinds.ts by default. */
  readonly kinds?: readonly KindInfo[];
  /** Status and finalizer writes in flight at once. */
  readonly writers?: number;
  /** First and largest delay before a failed write of one object is tried again. */
  readonly writeRetryMinMs?: number;
  readonly writeRetryMaxMs?: number;
  /** Informer restarts after an error: first and largest delay. */
  readonly watchRetryMinMs?: number;
  readonly watchRetryMaxMs?: number;
  /** How often a kind whose CRD is not installed is looked for again. */
  readonly notInstalledRetryMs?: number;
  /** How often referenced Services and Addressables are read again. */
  readonly addressRefreshMs?: number;
  /** How often the ConfigMaps in use (Brokers' `spec.config`, kafka-channel-config) are read again. */
  readonly configMapRefreshMs?: number;
  readonly clusterDomain?: string;
  /** Quiet time after a burst of watch events before the controller is told. */
  readonly debounceMs?: number;
  readonly pageSize?: number;
}

/** Longest wait for lookups of new refs before the controller is told of a change. */
const LOOKUP_WAIT_MS = 1000;
/** Longest pause between passes while changes stream in. */
const MAX_PACING_MS = 2000;

interface Entry {
  readonly info: KindInfo;
  api: ApiObject;
  object: KnObject;
}

export class KubernetesSource implements ResourceSource {
  private readonly entries = new Map<ObjectKey, Entry>();
  private readonly informers: KindInformer[];
  private readonly queue: WorkQueue;
  private readonly resolver: RefResolver;
  private readonly configMaps: ConfigMapReader;
  private readonly kindsByKey: Map<string, KindInfo>;
  private wanted: ReadonlyMap<ObjectKey, ObjectStatus> = new Map();
  private readonly released = new Set<ObjectKey>();
  /** Objects whose API copy matched the wanted status when last compared. */
  private readonly inStep = new Map<ObjectKey, { readonly api: ApiObject; readonly status: ObjectStatus }>();
  /** When the controller was last told of a change, and how long its pass took (to writeStatuses). */
  private passStartedAt: number | undefined;
  private lastPassMs = 0;
  private onChange: (() => void) | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private objectsCache: KnObject[] | undefined;
  private finalizingCache: KnObject[] | undefined;
  private closed = false;
  private readonly logger: Logger;
  private writes = { status: 0, finalizersAdded: 0, finalizersRemoved: 0, failed: 0 };

  constructor(private readonly options: KubernetesSourceOptions) {
    this.logger = options.logger.child({ component: 'kubernetes-source' });
    const kinds = options.kinds ?? KINDS;
    this.kindsByKey = new Map(kinds.map((k) => [`${k.group}/${k.kind}`, k]));
    // The Knative kinds are watched cluster-wide; ConfigMaps are read by name (config-maps.ts).
    const configMapKind = kinds.find((k) => k.group === '' && k.kind === 'ConfigMap');
    this.configMaps = new ConfigMapReader({
      api: options.api,
      logger: this.logger,
      namespace: options.systemNamespace,
      handlers: {
        upsert: (object) => configMapKind !== undefined && this.upsert(configMapKind, object),
        remove: (object) => configMapKind !== undefined && this.remove(configMapKind, object),
      },
      ...(options.configMapRefreshMs === undefined ? {} : { refreshMs: options.configMapRefreshMs }),
    });
    this.informers = kinds.filter((info) => info.group !== '').map((info) => new KindInformer({
      api: options.api,
      info,
      handlers: { upsert: (object) => this.upsert(info, object), remove: (object) => this.remove(info, object) },
      logger: this.logger,
      ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
      ...(options.watchRetryMinMs === undefined ? {} : { retryMinMs: options.watchRetryMinMs }),
      ...(options.watchRetryMaxMs === undefined ? {} : { retryMaxMs: options.watchRetryMaxMs }),
      ...(options.notInstalledRetryMs === undefined ? {} : { notInstalledRetryMs: options.notInstalledRetryMs }),
    }));
    this.queue = new WorkQueue((key) => this.sync(key), {
      concurrency: options.writers ?? 16,
      baseDelayMs: options.writeRetryMinMs ?? 200,
      maxDelayMs: options.writeRetryMaxMs ?? 60_000,
      onError: (key, error, failures, delayMs) => {
        this.writes.failed++;
        const log = failures >= 3 ? this.logger.warn.bind(this.logger) : this.logger.debug.bind(this.logger);
        log({ resource: key, failures, retryInMs: delayMs, err: error }, `writing ${key} failed (${describeApiError(error)}); retrying in ${delayMs} ms`);
      },
    });
    this.resolver = new RefResolver({
      api: options.api,
      logger: this.logger,
      handled: (group, kind) => this.kindsByKey.has(`${group}/${kind}`),
      onChange: () => this.changed(),
      ...(options.clusterDomain === undefined ? {} : { clusterDomain: options.clusterDomain }),
      ...(options.addressRefreshMs === undefined ? {} : { refreshMs: options.addressRefreshMs }),
    });
  }

  /** Lists every kind (those not installed count as empty), then reports changes to `onChange`. */
  async start(onChange: () => void): Promise<void> {
    await Promise.all(this.informers.map((informer) => informer.start()));
    this.configMaps.update(wantedConfigMaps(this.objects(), this.options.systemNamespace));
    await this.configMaps.settled(10 * LOOKUP_WAIT_MS);
    this.resolver.update(this.allRefs());
    // The first pass should see referenced Services already (else every Trigger flaps to not Ready).
    await this.resolver.settled(10 * LOOKUP_WAIT_MS);
    this.onChange = onChange;
    const counts = this.informers.map((i) => `${i.kind.plural}: ${i.state.state === 'not-installed' ? 'not installed' : [...this.entries.values()].filter((e) => e.info === i.kind).length}`);
    this.logger.info({ objects: this.entries.size }, `listed ${counts.join(', ')}`);
  }

  objects(): readonly KnObject[] {
    this.objectsCache ??= [...this.entries.values()].filter((e) => !isDeleting(e.api)).map((e) => e.object);
    return this.objectsCache;
  }

  finalizing(): readonly KnObject[] {
    this.finalizingCache ??= [...this.entries.values()].filter((e) => isDeleting(e.api) && hasFinalizer(e.api)).map((e) => e.object);
    return this.finalizingCache;
  }

  problems(): readonly SourceProblem[] {
    const problems: SourceProblem[] = [];
    for (const informer of this.informers) {
      const state = informer.state;
      if (state.state === 'not-installed' || state.state === 'failing') problems.push({ source: informer.kind.plural, message: state.message });
    }
    problems.push(...this.configMaps.problems());
    return problems;
  }

  addresses(): ExternalAddresses {
    return this.resolver.snapshot();
  }

  /**
   * Queues every owned object whose status or finalizer differs from what the API has; the
   * workers write them (this does not wait for the writes: a pass is not held up by the API).
   */
  async writeStatuses(statuses: ReadonlyMap<ObjectKey, ObjectStatus>): Promise<void> {
    this.wanted = statuses;
    for (const [key, status] of statuses) {
      const entry = this.entries.get(key);
      if (entry === undefined || entry.info.group === '' || isDeleting(entry.api)) continue;
      // Most passes change a few statuses in thousands: an object whose API copy and wanted
      // status are those already found in step is not compared again.
      const seen = this.inStep.get(key);
      if (seen !== undefined && seen.api === entry.api && jsonEqual(seen.status, status)) continue;
      if (!hasFinalizer(entry.api) || statusPatch(entry.api.status, status) !== undefined) {
        this.inStep.delete(key);
        this.queue.add(key);
      } else this.inStep.set(key, { api: entry.api, status });
    }
    if (this.passStartedAt !== undefined) this.lastPassMs = Date.now() - this.passStartedAt;
    // A pass on the in-memory log never waits for I/O: let timers (the Lease's renewal) and
    // watch events in between passes.
    await new Promise((resolve) => setImmediate(resolve));
  }

  async finalized(keys: readonly ObjectKey[]): Promise<void> {
    for (const key of keys) {
      if (this.released.has(key)) continue;
      this.released.add(key);
      this.queue.add(key);
    }
  }

  /** Resolves when no write is waiting or in progress (writes in backoff do not count). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  stats(): { readonly objects: number; readonly queued: number; readonly writes: Readonly<KubernetesSource['writes']> } {
    return { objects: this.entries.size, queued: this.queue.length, writes: { ...this.writes } };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.debounce);
    this.debounce = undefined;
    this.resolver.close();
    this.configMaps.close();
    await Promise.all(this.informers.map((informer) => informer.stop()));
    await this.queue.shutdown();
  }

  // ---- informer events ----

  private upsert(info: KindInfo, api: ApiObject): void {
    const converted = toKnObject(info, api);
    if (typeof converted === 'string') {
      this.logger.warn({ kind: info.kind }, `ignoring a ${info.kind}: ${converted}`);
      return;
    }
    const key = objectKey(info.kind, converted.metadata.namespace, converted.metadata.name);
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.entries.set(key, { info, api, object: converted });
      this.invalidate();
      return;
    }
    const wasDeleting = isDeleting(entry.api);
    const hadFinalizer = hasFinalizer(entry.api);
    entry.api = api;
    // Our own status writes come back as MODIFIED events: keep the object the core already
    // has (its admission is memoized on identity) and tell nobody.
    if (sameForCore(entry.object, converted) && wasDeleting === isDeleting(api) && hadFinalizer === hasFinalizer(api)) {
      return;
    }
    entry.object = converted;
    this.invalidate();
  }

  private remove(info: KindInfo, api: ApiObject): void {
    const name = api.metadata?.name;
    if (typeof name !== 'string') return;
    const key = objectKey(info.kind, typeof api.metadata?.namespace === 'string' && api.metadata.namespace !== '' ? api.metadata.namespace : 'default', name);
    if (!this.entries.delete(key)) return;
    this.released.delete(key);
    this.inStep.delete(key);
    this.invalidate();
  }

  private invalidate(): void {
    this.objectsCache = undefined;
    this.finalizingCache = undefined;
    this.changed();
  }

  /**
   * Tells the controller, once per burst: the first change of a burst starts a timer, later ones
   * ride on it. The delay is the debounce, or as long as the last pass took, so that while
   * thousands of objects stream in the controller reconciles at most half of the time and leaves
   * the rest of the CPU to the work it waits for (the API server, on a small machine).
   */
  private changed(): void {
    if (this.onChange === undefined || this.closed || this.debounce !== undefined) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      // Refs are recomputed on the same beat: a new Trigger's Service is looked up at once,
      // and briefly waited for, so that its first status is the Service's address.
      this.resolver.update(this.allRefs());
      // A Broker naming a new ConfigMap: read it before the pass, as for refs.
      this.configMaps.update(wantedConfigMaps(this.objects(), this.options.systemNamespace));
      void Promise.all([this.resolver.settled(LOOKUP_WAIT_MS), this.configMaps.settled(LOOKUP_WAIT_MS)]).then(() => {
        this.passStartedAt = Date.now();
        this.onChange?.();
      });
    }, Math.max(this.options.debounceMs ?? 20, Math.min(MAX_PACING_MS, this.lastPassMs)));
    this.debounce.unref();
  }

  private allRefs(): ReturnType<typeof destinationRefs> {
    return this.objects().flatMap(destinationRefs);
  }

  // ---- the per-key writer (work queue) ----

  /** Makes the API match what is wanted for one object: finalizer, then status; or lets it go. */
  private async sync(key: ObjectKey): Promise<void> {
    const entry = this.entries.get(key);
    if (entry === undefined || this.closed) return;
    const { info } = entry;
    const { namespace, name } = entry.object.metadata;
    try {
      if (isDeleting(entry.api)) {
        if (this.released.has(key) && hasFinalizer(entry.api)) {
          entry.api = await this.options.api.patch(info, namespace, name, removeFinalizerPatch(entry.api));
          this.writes.finalizersRemoved++;
          this.logger.info({ resource: key }, `${key}: cleaned up; finalizer removed`);
        }
        return;
      }
      const wanted = this.wanted.get(key);
      if (wanted === undefined) return;
      if (!hasFinalizer(entry.api)) {
        entry.api = await this.options.api.patch(info, namespace, name, addFinalizerPatch(entry.api));
        this.writes.finalizersAdded++;
      }
      const patch = statusPatch(entry.api.status, wanted);
      if (patch !== undefined) {
        const written = await this.options.api.patchStatus(info, namespace, name, patch);
        this.writes.status++;
        // Until the watch brings this version, compare the next wanted status with it.
        if (this.entries.get(key) === entry) entry.api = written;
      }
    } catch (error) {
      // Gone meanwhile: nothing left to write. A conflict (409) means the informer is about to
      // bring a newer copy; the retry uses it.
      if (statusOf(error) === 404) return;
      throw error;
    }
  }
}
