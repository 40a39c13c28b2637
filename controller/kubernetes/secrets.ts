import type { ClusterRef } from '../../core/contract/types.js';
import { BrokerError } from '../../core/errors.js';
import type { KafkaSecurity } from '../../core/event-log/kafka/security.js';
import { parseKafkaAuth } from '../../core/kafka-auth.js';
import { describeApiError, statusOf, type KubeApi } from './api.js';

/**
 * The Kafka credentials of the Secret a resource names (Knative Kafka's keys, core/kafka-auth.ts),
 * read with a namespaced GET. Every way it can fail is KAFKA_AUTH_INVALID with one line naming the
 * Secret: not found, not allowed (RBAC), or a bad key; the topic's status shows it.
 */
export async function kafkaAuthFromSecret(api: KubeApi, secret: NonNullable<ClusterRef['authSecret']>): Promise<KafkaSecurity> {
  const where = `Secret ${secret.namespace}/${secret.name}`;
  let data: Map<string, string> | undefined;
  try {
    data = await api.readSecret(secret.namespace, secret.name);
  } catch (error) {
    const status = statusOf(error);
    const why = status === 403 ? 'the controller may not read it (RBAC: get on secrets in that namespace)' : describeApiError(error);
    throw new BrokerError('KAFKA_AUTH_INVALID', `${where}: ${why}`, { retriable: status !== 403, cause: error });
  }
  if (data === undefined) throw new BrokerError('KAFKA_AUTH_INVALID', `${where} not found (named by auth.secret.ref.name)`, { retriable: true });
  const parsed = parseKafkaAuth(data, where);
  if (!parsed.ok) throw new BrokerError('KAFKA_AUTH_INVALID', parsed.message, { retriable: false });
  return parsed.security;
}
