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

const isNamespaceName = (name: string): boolean => /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name);

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
  const serversGiven = configValue(data, BOOTSTRAP_KEY, where, 'host:port[,host:port...]', (text) => {
    const parsed = bootstrapServersSchema.safeParse(text);
    return parsed.success ? parsed.data : undefined;
  });
  if (!serversGiven.ok) return serversGiven;
  const servers = [...(serversGiven.value ?? own)].sort();
  let authSecret: ClusterRef['authSecret'] = null;
  const secretName = configValue(data, AUTH_SECRET_KEY, where, 'a Secret name', (text) => (isSecretName(text.trim()) ? text.trim() : undefined));
  if (!secretName.ok) return secretName;
  if (secretName.value !== undefined) {
    const secretNamespace = options.secretNamespaceKey
      ? configValue(data, AUTH_SECRET_NAMESPACE_KEY, where, 'a namespace name', (text) => (isNamespaceName(text.trim()) ? text.trim() : undefined))
      : NOT_GIVEN;
    if (!secretNamespace.ok) return secretNamespace;
    authSecret = { namespace: secretNamespace.value ?? configMap.namespace, name: secretName.value };
  }
  // The deploy/ ConfigMap names the controller's own cluster, perhaps by another list of its
  // servers: sharing one is the same cluster, as for KafkaSinks.
  if (sameCluster(servers, own) && authSecret === null) return { ok: true, ref: undefined };
  return { ok: true, ref: { bootstrapServers: servers, authSecret } };
}

type ConfigValue<T> = { readonly ok: true; readonly value: T | undefined } | { readonly ok: false; readonly message: string };

const NOT_GIVEN: ConfigValue<never> = { ok: true, value: undefined };

/**
 * One key of a ConfigMap's data: undefined when not given (so the caller's default applies), the
 * parsed value, or the one-line status message naming the ConfigMap, the key, what it must be and
 * what was found.
 */
function configValue<T>(
  data: Record<string, unknown>,
  key: string,
  where: string,
  expected: string,
  parse: (text: string) => T | undefined,
): ConfigValue<T> {
  const value = data[key];
  if (!given(value)) return { ok: true, value: undefined };
  const parsed = typeof value === 'string' ? parse(value) : undefined;
  if (parsed === undefined) return { ok: false, message: `${where}: ${key} must be ${expected}, found ${JSON.stringify(value)}` };
  return { ok: true, value: parsed };
}
