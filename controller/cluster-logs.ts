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
