/**
 * How the commands that talk to Kafka get its credentials: `--kafka-auth-dir <dir>` (a folder
 * with one file per key of Knative Kafka's auth Secret, e.g. the Secret mounted as a volume), or
 * KAFKA_AUTH_DIR, or KAFKA_SECURITY_PROTOCOL with its companions (core/kafka-auth.ts). Secrets
 * only ever come from files.
 */
import { EventLogClusters, type OpenClusterLog } from '../core/event-log/clusters.js';
import type { EventLog } from '../core/event-log/port.js';
import { kafkaAuthFromEnv, kafkaAuthFromRoot } from '../core/kafka-auth.js';
import type { Logger } from '../core/logger.js';
import { BrokerError } from '../core/errors.js';
import type { ReadCredentials } from '../controller/cluster-logs.js';
import type { KafkaSecurity } from '../core/event-log/kafka/security.js';
import { CliError, type CliIo } from './cli.js';

export const KAFKA_AUTH_FLAG = { 'kafka-auth-dir': { type: 'string' }, 'kafka-auth-root': { type: 'string' } } as const;

export const KAFKA_AUTH_USAGE = `      --kafka-auth-dir <dir>  Kafka credentials: files named as Knative Kafka's auth Secret keys (protocol,
                              sasl.mechanism, user, password, ca.crt, user.crt, user.key); default
                              $KAFKA_AUTH_DIR, or KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USER,
                              KAFKA_SASL_PASSWORD_FILE, KAFKA_TLS_CA_FILE, KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE;
                              else PLAINTEXT
      --kafka-auth-root <dir> credentials of Brokers on clusters of their own (ConfigMap auth.secret.ref.name):
                              <dir>/<namespace>/<secret-name>/<key>, e.g. each Secret mounted there;
                              default $KAFKA_AUTH_ROOT
`;

export async function kafkaSecurityOf(io: CliIo, dirFlag: string | boolean | undefined): Promise<KafkaSecurity> {
  try {
    return (await kafkaAuthFromEnv(io.env, typeof dirFlag === 'string' ? dirFlag : undefined)).security;
  } catch (error) {
    throw new CliError(`Kafka credentials: ${(error as Error).message}`);
  }
}

/** `--kafka-auth-root`, else KAFKA_AUTH_ROOT: where per-resource credentials are (core/kafka-auth.ts kafkaAuthFromRoot). */
export function kafkaAuthRootOf(io: CliIo, flag: string | boolean | undefined): string | undefined {
  return typeof flag === 'string' ? flag : io.env['KAFKA_AUTH_ROOT'] || undefined;
}

/**
 * The registry of a process's cluster logs: `base` for resources on the process's cluster, a
 * KafkaEventLog per other cluster and credential set, with credentials from `root` folders.
 */
export async function clustersOf(base: EventLog, root: string | undefined, clientId: string, logger: Logger): Promise<EventLogClusters> {
  if (base.kind !== 'kafka') return new EventLogClusters(base);
  const { KafkaEventLog } = await import('../core/event-log/kafka/adapter.js');
  const open: OpenClusterLog = (ref, security) => new KafkaEventLog({ brokers: [...ref.bootstrapServers], clientId, logger, security });
  return new EventLogClusters(base, open, root === undefined ? undefined : (secret) => kafkaAuthFromRoot(root, secret));
}

/** The controller's reader of per-resource credentials in standalone mode: the `root` folders. */
export function rootCredentials(root: string | undefined): ReadCredentials {
  return async (secret) => {
    if (root === undefined) {
      throw new BrokerError('KAFKA_AUTH_INVALID', `Kafka credentials ${secret.namespace}/${secret.name} are named but no --kafka-auth-root (KAFKA_AUTH_ROOT) says where their files are`, { retriable: false });
    }
    return kafkaAuthFromRoot(root, secret);
  };
}
