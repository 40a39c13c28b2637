import type { Logger } from '../../core/logger.js';
import { CHANNEL_CONFIG_MAP } from '../kinds/backing-channel.js';
import { isBroker } from '../kinds/broker.js';
import type { KnObject } from '../resources.js';
import type { SourceProblem } from '../sources/source.js';
import { isRecord } from '../../core/values.js';
import { describeApiError, statusOf, type ApiObject, type KubeApi } from './api.js';
import type { InformerHandlers } from './informer.js';

/**
 * The ConfigMaps the controller uses, read by name: each Broker's `spec.config` in the controller's
 * namespace and KafkaChannels' `kafka-channel-config`. Each is read (`get`) when first named and
 * again every `refreshMs`, so the controller's role needs neither `list` nor `watch` on ConfigMaps
 * and can name the ones it may read (`resourceNames`, deploy/base/10-rbac.yaml). Found, changed and
 * gone ConfigMaps reach the source through the same handlers as an informer's objects.
 *
 * One the role does not allow (403) is reported as a problem of the source and treated as absent.
 */

export interface ConfigMapReaderOptions {
  readonly api: KubeApi;
  readonly logger: Logger;
  readonly handlers: InformerHandlers;
  /** The controller's namespace: the only one whose ConfigMaps are read. */
  readonly namespace: string;
  readonly refreshMs?: number;
}

/** The names of the ConfigMaps the objects use, in `namespace`; kafka-channel-config always. Pure. */
export function wantedConfigMaps(objects: readonly KnObject[], namespace: string): Set<string> {
  const names = new Set<string>([CHANNEL_CONFIG_MAP]);
  for (const object of objects) {
    if (!isBroker(object) || !isRecord(object.spec)) continue;
    const config = object.spec['config'];
    if (!isRecord(config) || config['kind'] !== 'ConfigMap' || typeof config['name'] !== 'string' || config['name'] === '') continue;
    const ns = typeof config['namespace'] === 'string' && config['namespace'] !== '' ? config['namespace'] : object.metadata.namespace;
    if (ns === namespace) names.add(config['name']);
  }
  return names;
}

type Lookup = { readonly state: 'found'; readonly object: ApiObject } | { readonly state: 'absent' } | { readonly state: 'forbidden'; readonly message: string };

export class ConfigMapReader {
  private readonly wanted = new Set<string>();
  private readonly results = new Map<string, Lookup>();
  private readonly pending = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: ConfigMapReaderOptions) {
    this.timer = setInterval(() => {
      for (const name of this.wanted) this.read(name);
    }, options.refreshMs ?? 10_000);
    this.timer.unref();
  }

  /** The names wanted now: new ones are read at once; one no longer wanted is dropped (as deleted). */
  update(names: ReadonlySet<string>): void {
    for (const name of names) {
      if (this.wanted.has(name)) continue;
      this.wanted.add(name);
      this.read(name);
    }
    for (const name of [...this.wanted]) {
      if (names.has(name)) continue;
      this.wanted.delete(name);
      const seen = this.results.get(name);
      this.results.delete(name);
      if (seen?.state === 'found') this.options.handlers.remove(seen.object);
    }
  }

  /** Resolves once the reads started so far are done, or after `maxMs`. */
  async settled(maxMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, maxMs);
    });
    await Promise.race([Promise.all([...this.inFlight]).then(() => undefined), timeout]);
    clearTimeout(timer);
  }

  problems(): SourceProblem[] {
    const problems: SourceProblem[] = [];
    for (const [name, seen] of this.results) {
      if (seen.state === 'forbidden') problems.push({ source: `/api/v1/namespaces/${this.options.namespace}/configmaps/${name}`, message: seen.message });
    }
    return problems;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private read(name: string): void {
    if (this.pending.has(name) || this.closed) return;
    this.pending.add(name);
    const { api, namespace, logger } = this.options;
    const done: Promise<void> = api.readConfigMap(namespace, name).then(
      (object) => this.record(name, object === undefined ? { state: 'absent' } : { state: 'found', object }),
      (error: unknown) => {
        if (statusOf(error) === 403) {
          this.record(name, {
            state: 'forbidden',
            message: `the controller may not read ConfigMap ${namespace}/${name} (add it to the resourceNames of its Role); treated as absent`,
          });
        } else {
          // Anything else (the API server unreachable): keep what was last read, try at the next refresh.
          logger.warn({ configMap: `${namespace}/${name}`, err: error }, `reading ConfigMap ${namespace}/${name} failed: ${describeApiError(error)}`);
        }
      },
    ).finally(() => {
      this.pending.delete(name);
      this.inFlight.delete(done);
    });
    this.inFlight.add(done);
  }

  private record(name: string, lookup: Lookup): void {
    if (this.closed || !this.wanted.has(name)) return;
    const before = this.results.get(name);
    this.results.set(name, lookup);
    const { handlers, logger, namespace } = this.options;
    if (lookup.state === 'found') {
      const version = (o: ApiObject): unknown => o.metadata?.resourceVersion;
      if (before?.state !== 'found' || version(before.object) !== version(lookup.object)) handlers.upsert(lookup.object);
      return;
    }
    if (before?.state === 'found') handlers.remove(before.object);
    if (lookup.state === 'forbidden' && before?.state !== 'forbidden') logger.warn({ configMap: `${namespace}/${name}` }, lookup.message);
  }
}
