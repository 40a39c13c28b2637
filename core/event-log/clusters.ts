import { createHash } from 'node:crypto';
import type { ClusterRef } from '../contract/types.js';
import { BrokerError } from '../errors.js';
import type { KafkaSecurity } from './kafka/security.js';
import type { EventLog } from './port.js';

/**
 * One event log per Kafka cluster and credential set. A resource without a cluster of its own
 * uses the process's log (`base`, owned by the caller) with no lookup beyond an `undefined`
 * check; a resource that names one (a Broker's `bootstrap.servers`, its `auth.secret.ref.name`)
 * gets a client opened on first use and shared by every resource with the same servers and
 * Secret, closed by `retain` once no resource names it any more.
 */

export type { ClusterRef } from '../contract/types.js';

/** Opens a log for a cluster with the given credentials (kafka: a KafkaEventLog). */
export type OpenClusterLog = (ref: ClusterRef, security: KafkaSecurity) => EventLog;
/** The credentials of a Secret reference, for processes that read them themselves (files). Throws a BrokerError. */
export type ClusterCredentials = (secret: NonNullable<ClusterRef['authSecret']>) => KafkaSecurity;

/** Servers in order given by the contract (the controller sorts them) plus the Secret: the identity of a client. */
export function clusterKey(ref: ClusterRef): string {
  const secret = ref.authSecret === null ? '' : `${ref.authSecret.namespace}/${ref.authSecret.name}`;
  return `${ref.bootstrapServers.join(',')}|${secret}`;
}

/** Servers and Secret, secret-free, for logs and messages. */
export function describeCluster(ref: ClusterRef): string {
  return ref.authSecret === null
    ? ref.bootstrapServers.join(',')
    : `${ref.bootstrapServers.join(',')} (credentials ${ref.authSecret.namespace}/${ref.authSecret.name})`;
}

/** Same settings, same digest: a rotated Secret then gets a fresh client. The digest never leaves the process. */
function fingerprint(security: KafkaSecurity): string {
  return createHash('sha256').update(JSON.stringify(security)).digest('hex');
}

interface Entry {
  readonly log: EventLog;
  readonly fingerprint: string;
}

export class EventLogClusters {
  private readonly entries = new Map<string, Entry>();
  private readonly closing = new Set<Promise<void>>();

  constructor(
    readonly base: EventLog,
    private readonly open?: OpenClusterLog,
    private readonly credentials?: ClusterCredentials,
  ) {}

  /** The log for a resource's cluster; `base` when it has none. Throws a BrokerError when it cannot be opened. */
  get(ref: ClusterRef | undefined): EventLog {
    if (ref === undefined) return this.base;
    const key = clusterKey(ref);
    const entry = this.entries.get(key);
    if (entry !== undefined) return entry.log;
    return this.openEntry(key, ref, this.securityOf(ref));
  }

  /**
   * The log for a cluster with credentials the caller read itself (the controller reads Secrets
   * from the Kubernetes API): a changed credential set replaces the client.
   */
  getWith(ref: ClusterRef, security: KafkaSecurity): EventLog {
    const key = clusterKey(ref);
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.fingerprint === fingerprint(security)) return entry.log;
    if (entry !== undefined) this.closeEntry(key, entry);
    return this.openEntry(key, ref, security);
  }

  /**
   * An EventLog that looks the cluster's log up on every call, so that a client that cannot be
   * opened (credentials missing) fails that call, which its caller retries or answers with 503,
   * and a client replaced by `getWith` or closed by `retain` is never kept. `close` is a no-op:
   * the registry owns the clients.
   */
  lazy(ref: ClusterRef | undefined): EventLog {
    if (ref === undefined) return this.base;
    const log = (): EventLog => this.get(ref);
    return {
      kind: this.base.kind,
      ensureTopic: async (name, spec) => log().ensureTopic(name, spec),
      deleteTopic: async (name) => log().deleteTopic(name),
      describeTopic: async (name) => log().describeTopic(name),
      append: async (topic, records) => log().append(topic, records),
      consume: async (options) => log().consume(options),
      initGroup: async (groupId, topic, position) => log().initGroup(groupId, topic, position),
      deleteGroup: async (groupId) => log().deleteGroup(groupId),
      ping: async () => log().ping(),
      read: (topic, options) => ({ [Symbol.asyncIterator]: () => log().read(topic, options)[Symbol.asyncIterator]() }),
      close: async () => undefined,
    };
  }

  /** How many cluster clients are open (for logs and tests). */
  get size(): number {
    return this.entries.size;
  }

  /** Closes the clients no resource in `refs` uses; call after a contract is applied. */
  async retain(refs: Iterable<ClusterRef | undefined>): Promise<void> {
    const used = new Set<string>();
    for (const ref of refs) if (ref !== undefined) used.add(clusterKey(ref));
    for (const [key, entry] of this.entries) if (!used.has(key)) this.closeEntry(key, entry);
    await Promise.all(this.closing);
  }

  /** Closes every cluster client (not `base`, which belongs to the caller). */
  async close(): Promise<void> {
    await this.retain([]);
  }

  private securityOf(ref: ClusterRef): KafkaSecurity {
    if (ref.authSecret === null) return { protocol: 'PLAINTEXT' };
    if (this.credentials === undefined) {
      throw new BrokerError('KAFKA_AUTH_INVALID', `Kafka credentials ${ref.authSecret.namespace}/${ref.authSecret.name} are named but this process has no place to read them from (--kafka-auth-root)`, { retriable: false });
    }
    return this.credentials(ref.authSecret);
  }

  private openEntry(key: string, ref: ClusterRef, security: KafkaSecurity): EventLog {
    if (this.open === undefined) {
      throw new BrokerError('CONFIG_INVALID', `a Kafka cluster of its own (${describeCluster(ref)}) needs the Kafka event log, not the in-memory one`, { retriable: false });
    }
    const log = this.open(ref, security);
    this.entries.set(key, { log, fingerprint: fingerprint(security) });
    return log;
  }

  private closeEntry(key: string, entry: Entry): void {
    this.entries.delete(key);
    const closing: Promise<void> = entry.log.close().catch(() => undefined).finally(() => this.closing.delete(closing));
    this.closing.add(closing);
  }
}
