import { bootstrapServersSchema } from '../../core/config.js';
import type { ClusterRef } from '../../core/contract/types.js';
import { objectKey, type KnObject, type ObjectKey } from '../resources.js';
import { isRecord } from './admission.js';
import { isSecretName, sameCluster } from './kafka-sink.js';

/**
 * A Kafka cluster named by a ConfigMap the way Knative Kafka does it, pure: `bootstrap.servers`
 * (else the controller's own cluster), `auth.secret.ref.name` and, where the kind reads it
 * (KafkaChannel's `kafka-channel-config`), `auth.secret.ref.namespace` (else the ConfigMap's).
 * Used by Brokers (their `spec.config`) and KafkaChannels.
 */

export const BOOTSTRAP_KEY = 'bootstrap.servers';
export const AUTH_SECRET_KEY = 'auth.secret.ref.name';
export const AUTH_SECRET_NAMESPACE_KEY = 'auth.secret.ref.namespace';

export type ClusterResult = { readonly ok: true; readonly ref: ClusterRef | undefined } | { readonly ok: false; readonly message: string };

/** The data of a ConfigMap among the pass's objects; empty when it is absent. */
export function configMapData(configMaps: ReadonlyMap<ObjectKey, KnObject>, namespace: string, name: string): Record<string, unknown> {
  const configMap = configMaps.get(objectKey('ConfigMap', namespace, name));
  return configMap !== undefined && isRecord(configMap.data) ? configMap.data : {};
}

const given = (value: unknown): boolean => value !== undefined && value !== null && !(typeof value === 'string' && value.trim() === '');

/**
 * The cluster a ConfigMap's data names, or undefined when that is the controller's own cluster
 * (sharing a server with `own`) without credentials: the default path, with no client of its own.
 * In memory (`own` empty) there is no cluster to pick: always undefined.
 */
export function clusterFromConfig(
  data: Record<string, unknown>,
  configMap: { readonly namespace: string; readonly name: string },
  own: readonly string[],
  options: { readonly secretNamespaceKey: boolean },
): ClusterResult {
  if (own.length === 0) return { ok: true, ref: undefined };
  const where = `ConfigMap ${configMap.namespace}/${configMap.name}`;
  let servers = [...own].sort();
  const serversText = data[BOOTSTRAP_KEY];
  if (given(serversText)) {
    const parsed = typeof serversText === 'string' ? bootstrapServersSchema.safeParse(serversText) : undefined;
    if (parsed === undefined || !parsed.success) return { ok: false, message: `${where}: ${BOOTSTRAP_KEY} must be host:port[,host:port...], found ${JSON.stringify(serversText)}` };
    servers = [...parsed.data].sort();
  }
  let authSecret: ClusterRef['authSecret'] = null;
  const secretName = data[AUTH_SECRET_KEY];
  if (given(secretName)) {
    if (typeof secretName !== 'string' || !isSecretName(secretName.trim())) {
      return { ok: false, message: `${where}: ${AUTH_SECRET_KEY} must be a Secret name, found ${JSON.stringify(secretName)}` };
    }
    let namespace = configMap.namespace;
    const secretNamespace = options.secretNamespaceKey ? data[AUTH_SECRET_NAMESPACE_KEY] : undefined;
    if (given(secretNamespace)) {
      if (typeof secretNamespace !== 'string' || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(secretNamespace.trim())) {
        return { ok: false, message: `${where}: ${AUTH_SECRET_NAMESPACE_KEY} must be a namespace name, found ${JSON.stringify(secretNamespace)}` };
      }
      namespace = secretNamespace.trim();
    }
    authSecret = { namespace, name: secretName.trim() };
  }
  // The deploy/ ConfigMap names the controller's own cluster, perhaps by another list of its
  // servers: sharing one is the same cluster, as for KafkaSinks.
  if (sameCluster(servers, own) && authSecret === null) return { ok: true, ref: undefined };
  return { ok: true, ref: { bootstrapServers: servers, authSecret } };
}
