import type { Logger } from '../../core/logger.js';
import type { AddressEntry } from '../destinations.js';
import { describeApiError, KindNotServedError, statusOf, type KubeApi } from './api.js';
import { refKey, type ObjectRef } from './objects.js';
import { apiGroup } from '../resources.js';
import type { ExternalAddresses } from '../sources/source.js';
import { isRecord } from '../../core/values.js';

/**
 * Resolves destination `ref`s to objects the controller does not manage, the way Knative's
 * addressable resolver does (knative.dev/pkg `resolver`):
 *
 *   v1 Service            -> http://<name>.<namespace>.svc.<cluster domain>, once it exists
 *   anything else         -> its `status.address.url` (the Addressable duck type)
 *
 * Knative watches every referenced object; we read each one (`get`, which is all our ClusterRole
 * grants on Services) when it is first referenced and again every `refreshMs`, so a Service
 * created after its Trigger is found within that period. Kinds the controller serves itself
 * (Brokers, KafkaSinks, channels) are resolved by the core from its own objects and skipped here.
 */

export interface RefResolverOptions {
  readonly api: KubeApi;
  readonly logger: Logger;
  /** The kinds the core resolves itself (by API group and kind). */
  readonly handled: (group: string, kind: string) => boolean;
  /** Called when an address appeared, changed or went away. */
  readonly onChange: () => void;
  readonly clusterDomain?: string;
  readonly refreshMs?: number;
  /** Reads in flight at once. */
  readonly concurrency?: number;
}

type Lookup = { readonly state: 'found'; readonly entry: AddressEntry } | { readonly state: 'absent' };

export class RefResolver {
  private readonly refs = new Map<string, ObjectRef>();
  private readonly results = new Map<string, Lookup>();
  private readonly pending = new Set<string>();
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private snapshotCache: ExternalAddresses | undefined;
  private readonly clusterDomain: string;
  private readonly concurrency: number;

  constructor(private readonly options: RefResolverOptions) {
    this.clusterDomain = options.clusterDomain ?? 'cluster.local';
    this.concurrency = options.concurrency ?? 4;
    const refreshMs = options.refreshMs ?? 30_000;
    this.timer = setInterval(() => {
      for (const key of this.refs.keys()) this.pending.add(key);
      this.pump();
    }, refreshMs);
    this.timer.unref();
  }

  /** The refs referenced now; new ones are looked up at once, forgotten ones dropped. */
  update(refs: Iterable<ObjectRef>): void {
    const wanted = new Map<string, ObjectRef>();
    for (const ref of refs) if (!this.options.handled(apiGroup(ref.apiVersion), ref.kind)) wanted.set(refKey(ref), ref);
    let dropped = false;
    for (const key of this.refs.keys()) {
      if (!wanted.has(key)) {
        this.refs.delete(key);
        dropped = this.results.delete(key) || dropped;
      }
    }
    for (const [key, ref] of wanted) {
      if (!this.refs.has(key)) {
        this.refs.set(key, ref);
        this.pending.add(key);
      }
    }
    if (dropped) this.snapshotCache = undefined;
    this.pump();
  }

  /** Resolves once no lookup is waiting or running (or after `maxMs`). */
  async settled(maxMs = Infinity): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (!this.closed && (this.pending.size > 0 || this.running > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  /** What the core adds to its address book: the kinds looked up, and the objects found. */
  snapshot(): ExternalAddresses {
    if (this.snapshotCache !== undefined) return this.snapshotCache;
    const kinds = new Map<string, { group: string; kind: string }>();
    const entries: ExternalAddresses['entries'][number][] = [];
    for (const [key, ref] of this.refs) {
      const group = apiGroup(ref.apiVersion);
      const result = this.results.get(key);
      if (result === undefined) continue;
      kinds.set(`${group}/${ref.kind}`, { group, kind: ref.kind });
      if (result.state === 'found') entries.push({ group, kind: ref.kind, namespace: ref.namespace, name: ref.name, entry: result.entry });
    }
    this.snapshotCache = { kinds: [...kinds.values()], entries };
    return this.snapshotCache;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private pump(): void {
    while (!this.closed && this.running < this.concurrency && this.pending.size > 0) {
      const key = this.pending.values().next().value as string;
      this.pending.delete(key);
      const ref = this.refs.get(key);
      if (ref === undefined) continue;
      this.running++;
      void this.lookup(ref)
        .then((result) => {
          if (result === undefined || !this.refs.has(key)) return;
          const before = this.results.get(key);
          if (before !== undefined && JSON.stringify(before) === JSON.stringify(result)) return;
          this.results.set(key, result);
          this.snapshotCache = undefined;
          this.options.onChange();
        })
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }

  /** The lookup's outcome, or undefined when the API could not answer (the last answer stays). */
  private async lookup(ref: ObjectRef): Promise<Lookup | undefined> {
    const what = `${ref.kind} ${ref.namespace}/${ref.name} (${ref.apiVersion})`;
    try {
      if (ref.apiVersion === 'v1' && ref.kind === 'Service') {
        // Knative special-cases Services: callable without being Addressable (knative.dev/pkg resolver).
        if (!(await this.options.api.serviceExists(ref.namespace, ref.name))) return { state: 'absent' };
        return { state: 'found', entry: { url: `http://${ref.name}.${ref.namespace}.svc.${this.clusterDomain}` } };
      }
      const object = await this.options.api.read(ref.apiVersion, ref.kind, ref.namespace, ref.name);
      if (object === undefined) return { state: 'absent' };
      const status = isRecord(object.status) && isRecord(object.status['address']) ? object.status['address'] : undefined;
      const address = status?.['url'];
      const audience = status?.['audience'];
      if (typeof address === 'string' && address !== '') {
        return { state: 'found', entry: { url: address, ...(typeof audience === 'string' && audience !== '' ? { audience } : {}) } };
      }
      return { state: 'found', entry: { url: null, why: 'it has no status.address.url (it is not Addressable, or not ready)' } };
    } catch (error) {
      const status = statusOf(error);
      if (status === 403) {
        return { state: 'found', entry: { url: null, why: `the controller may not read it (${describeApiError(error)}); grant its ClusterRole get on ${ref.kind}` } };
      }
      if (error instanceof KindNotServedError) return { state: 'found', entry: { url: null, why: error.message } };
      this.options.logger.warn({ ref: what, err: error }, `cannot look up ${what}: ${describeApiError(error)}; keeping the last answer`);
      return undefined;
    }
  }
}

