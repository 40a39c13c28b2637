import { makeInformer, type Informer, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../../core/logger.js';
import { collectionPath, type KindInfo } from '../api-kinds.js';
import { describeApiError, statusOf, type ApiObject, type KubeApi } from './api.js';

/**
 * One kind's informer: client-node's ListWatch (list, then watch from the list's
 * resourceVersion; a watch that ends is resumed from the last resourceVersion seen; 410 Gone
 * relists), plus what it leaves to its user:
 *
 *  - the list is read in pages (`limit`/`continue`), so 10,000 Triggers are not one response;
 *  - after an error the ListWatch stops; it is started again after a capped exponential backoff,
 *    resuming from its resourceVersion;
 *  - a kind whose CRD is not installed (404 on list) is reported once, counts as synced and
 *    empty, and is looked for again every `notInstalledRetryMs`: installing the CRD later is
 *    enough for its objects to be watched.
 *
 *   start ─▶ list pages ─▶ ADD each ─▶ synced ─▶ watch(rv) ─▶ ADDED/MODIFIED/DELETED ─▶ handlers
 *              ▲   404: not installed, retry slowly          │ ended: watch(rv) again
 *              └──── 410 Gone / error: backoff, relist ◀─────┘
 */

export interface InformerHandlers {
  upsert(object: ApiObject): void;
  remove(object: ApiObject): void;
}

export interface KindInformerOptions {
  readonly api: KubeApi;
  readonly info: KindInfo;
  /** Watch one namespace only (ConfigMaps in the controller's namespace); all of them when undefined. */
  readonly namespace?: string;
  readonly handlers: InformerHandlers;
  readonly logger: Logger;
  readonly pageSize?: number;
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  readonly notInstalledRetryMs?: number;
}

export type InformerState =
  | { readonly state: 'starting' }
  | { readonly state: 'synced' }
  | { readonly state: 'not-installed'; readonly message: string }
  | { readonly state: 'failing'; readonly message: string; readonly synced: boolean };

export class KindInformer {
  private readonly informer: Informer<KubernetesObject>;
  private current: InformerState = { state: 'starting' };
  private everSynced = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs: number;
  private stopped = false;
  private readonly syncWaiters: (() => void)[] = [];
  private reportedNotInstalled = false;
  private readonly path: string;
  private readonly counts = { lists: 0, pages: 0, restarts: 0 };

  constructor(private readonly options: KindInformerOptions) {
    const { api, info, namespace } = options;
    this.path = collectionPath(info, namespace);
    this.retryDelayMs = options.retryMinMs ?? 500;
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const items: ApiObject[] = [];
      let continueToken: string | undefined;
      let resourceVersion: string | undefined;
      do {
        const page = await api.list(info, { ...(namespace === undefined ? {} : { namespace }), limit: options.pageSize ?? 500, ...(continueToken === undefined ? {} : { continueToken }) });
        items.push(...page.items);
        // Later pages are served from the first page's snapshot: its resourceVersion is the list's.
        resourceVersion ??= page.metadata.resourceVersion;
        continueToken = page.metadata.continue === undefined || page.metadata.continue === '' ? undefined : page.metadata.continue;
        this.counts.pages++;
      } while (continueToken !== undefined);
      this.counts.lists++;
      this.listed();
      return { metadata: { resourceVersion: resourceVersion ?? '' }, items: items as KubernetesObject[] };
    };
    this.informer = makeInformer(api.kubeConfig, this.path, list);
    this.informer.on('add', (object) => this.options.handlers.upsert(object as ApiObject));
    this.informer.on('update', (object) => this.options.handlers.upsert(object as ApiObject));
    this.informer.on('delete', (object) => this.options.handlers.remove(object as ApiObject));
    this.informer.on('error', (error: unknown) => this.failed(error));
  }

  get state(): InformerState {
    return this.current;
  }

  /** Complete lists and their pages so far (a relist after 410 Gone is one more list). */
  stats(): { readonly lists: number; readonly pages: number; readonly restarts: number } {
    return { ...this.counts };
  }

  get kind(): KindInfo {
    return this.options.info;
  }

  /** Starts listing; resolves once the kind is synced (listed, or found not installed). */
  start(): Promise<void> {
    const synced = new Promise<void>((resolve) => {
      if (this.everSynced) resolve();
      else this.syncWaiters.push(resolve);
    });
    this.run();
    return synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.informer.stop();
  }

  private run(): void {
    if (this.stopped) return;
    // start() resolves after the list and the watch request; errors come through 'error'.
    this.informer.start().catch((error: unknown) => this.failed(error));
  }

  /** Called by the list function once every page is in (the ADD callbacks follow at once). */
  private listed(): void {
    // The ListWatch hands the items to the handlers in the microtasks right after this returns;
    // setImmediate runs once they are all done.
    setImmediate(() => {
      if (this.current.state !== 'synced') {
        if (this.current.state !== 'starting') this.options.logger.info({ kind: this.options.info.kind }, `${this.options.info.plural}: listing again works`);
        this.current = { state: 'synced' };
      }
      this.retryDelayMs = this.options.retryMinMs ?? 500;
      this.markSynced();
    });
  }

  private markSynced(): void {
    this.everSynced = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private failed(error: unknown): void {
    if (this.stopped) return;
    const { info, logger } = this.options;
    const status = statusOf(error);
    let delay: number;
    if (status === 404) {
      const message = `${info.plural}.${info.group || 'core'}/${info.version} is not installed (no CustomResourceDefinition): its objects are not watched; installing it is enough`;
      // Reported once: a cluster without channels is normal, not a condition to log every minute.
      if (!this.reportedNotInstalled) logger.warn({ kind: info.kind, path: this.path }, message);
      this.reportedNotInstalled = true;
      this.current = { state: 'not-installed', message };
      delay = this.options.notInstalledRetryMs ?? 30_000;
      this.markSynced();
    } else {
      const message = `${this.path}: ${describeApiError(error)}`;
      if (this.current.state !== 'failing' || this.current.message !== message) logger.warn({ kind: info.kind, status, err: error }, `listing or watching ${info.plural} failed: ${message}; retrying`);
      this.current = { state: 'failing', message, synced: this.everSynced };
      delay = this.retryDelayMs;
      this.retryDelayMs = Math.min(this.options.retryMaxMs ?? 30_000, this.retryDelayMs * 2);
    }
    clearTimeout(this.retryTimer);
    this.counts.restarts++;
    this.retryTimer = setTimeout(() => this.run(), delay);
    this.retryTimer.unref();
  }
}
