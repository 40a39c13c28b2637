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
import { kafkaClientKinds, parseKafkaClientKind, type KafkaClientKind } from '../core/event-log/kafka/client-kind.js';
import { CliError, type CliIo } from './cli.js';

export const KAFKA_AUTH_FLAG = { 'kafka-auth-dir': { type: 'string' }, 'kafka-auth-root': { type: 'string' }, 'kafka-client': { type: 'string' } } as const;

export const KAFKA_AUTH_USAGE = `      --kafka-auth-dir <dir>  Kafka credentials: files named as Knative Kafka's auth Secret keys (protocol,
                              sasl.mechanism, user, password, ca.crt, user.crt, user.key); default
                              $KAFKA_AUTH_DIR, or KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USER,
                              KAFKA_SASL_PASSWORD_FILE, KAFKA_TLS_CA_FILE, KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE;
                              else PLAINTEXT
      --kafka-auth-root <dir> credentials of Brokers on clusters of their own (ConfigMap auth.secret.ref.name):
                              <dir>/<namespace>/<secret-name>/<key>, e.g. each Secret mounted there;
                              default $KAFKA_AUTH_ROOT
      --kafka-client <name>   the Kafka client library appends and consumer groups run on: kafkajs or
                              platformatic (@platformatic/kafka); default $KAFKA_CLIENT, else platformatic
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

/** `--kafka-client`, else KAFKA_CLIENT: which client library the Kafka event log runs on; undefined: the default. */
export function kafkaClientOf(env: CliIo['env'], flag: string | boolean | undefined): KafkaClientKind | undefined {
  const from = typeof flag === 'string' ? '--kafka-client' : 'KAFKA_CLIENT';
  const text = typeof flag === 'string' ? flag : env['KAFKA_CLIENT'] || undefined;
  if (text === undefined) return undefined;
  const kind = parseKafkaClientKind(text);
  if (kind === undefined) throw new CliError(`${from} must be one of ${kafkaClientKinds.join(', ')}, got "${text}"`);
  return kind;
}

/**
 * The registry of a process's cluster logs: `base` for resources on the process's cluster, a
 * KafkaEventLog per other cluster and credential set, with credentials from `root` folders.
 */
export async function clustersOf(base: EventLog, root: string | undefined, clientId: string, logger: Logger): Promise<EventLogClusters> {
  if (base.kind !== 'kafka') return new EventLogClusters(base);
  const { KafkaEventLog } = await import('../core/event-log/kafka/adapter.js');
  // Clusters of their own run on the same client library as the process's own log.
  const client = base instanceof KafkaEventLog ? base.client : undefined;
  const open: OpenClusterLog = (ref, security) => new KafkaEventLog({ brokers: [...ref.bootstrapServers], clientId, logger, security, client });
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
