import type { ClusterRef } from '../core/contract/types.js';
import type { EventLogClusters } from '../core/event-log/clusters.js';
import { PLAINTEXT, type KafkaSecurity } from '../core/event-log/kafka/security.js';
import type { ClusterLogs } from './reconciler.js';

/** Reads the credentials of a Secret reference; rejects with KAFKA_AUTH_INVALID (missing, unreadable, bad keys). */
export type ReadCredentials = (secret: NonNullable<ClusterRef['authSecret']>) => Promise<KafkaSecurity>;

/**
 * The controller's cluster logs: the Secret is read each time a topic or group on that cluster
 * needs work (the Kubernetes API, or --kafka-auth-root files), so a fixed or rotated Secret is
 * used at the next attempt; the registry keeps one client per cluster and credential set and
 * replaces it when the credentials changed.
 */
export function clusterLogs(clusters: EventLogClusters, read: ReadCredentials): ClusterLogs {
  return {
    forCluster: async (cluster) => clusters.getWith(cluster, cluster.authSecret === null ? PLAINTEXT : await read(cluster.authSecret)),
    retain: (refs) => clusters.retain(refs),
  };
}

/**
 * Reuses each Secret's outcome (credentials or error) for `ttlMs`, and one read in flight, so a
 * pass with many topics on one cluster reads its Secret once; after `ttlMs` it is read again, so
 * a created, fixed or rotated Secret is used within that time.
 */
export function cachedCredentials(read: ReadCredentials, ttlMs: number, now: () => number = Date.now): ReadCredentials {
  const cache = new Map<string, { readonly at: number; readonly result: Promise<KafkaSecurity> }>();
  return (secret) => {
    const key = `${secret.namespace}/${secret.name}`;
    const hit = cache.get(key);
    if (hit !== undefined && now() - hit.at < ttlMs) return hit.result;
    const result = read(secret);
    // A rejection is handled by the callers; this keeps an unawaited cached one from being "unhandled".
    result.catch(() => undefined);
    cache.set(key, { at: now(), result });
    for (const [k, v] of cache) if (now() - v.at >= ttlMs) cache.delete(k);
    return result;
  };
}
