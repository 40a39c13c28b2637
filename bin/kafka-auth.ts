/**
 * How the commands that talk to Kafka get its credentials: `--kafka-auth-dir <dir>` (a folder
 * with one file per key of Knative Kafka's auth Secret, e.g. the Secret mounted as a volume), or
 * KAFKA_AUTH_DIR, or KAFKA_SECURITY_PROTOCOL with its companions (core/kafka-auth.ts). Secrets
 * only ever come from files.
 */
import { kafkaAuthFromEnv } from '../core/kafka-auth.js';
import type { KafkaSecurity } from '../core/event-log/kafka/security.js';
import { CliError, type CliIo } from './cli.js';

export const KAFKA_AUTH_FLAG = { 'kafka-auth-dir': { type: 'string' } } as const;

export const KAFKA_AUTH_USAGE = `      --kafka-auth-dir <dir>  Kafka credentials: files named as Knative Kafka's auth Secret keys (protocol,
                              sasl.mechanism, user, password, ca.crt, user.crt, user.key); default
                              $KAFKA_AUTH_DIR, or KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USER,
                              KAFKA_SASL_PASSWORD_FILE, KAFKA_TLS_CA_FILE, KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE;
                              else PLAINTEXT
`;

export async function kafkaSecurityOf(io: CliIo, dirFlag: string | boolean | undefined): Promise<KafkaSecurity> {
  try {
    return (await kafkaAuthFromEnv(io.env, typeof dirFlag === 'string' ? dirFlag : undefined)).security;
  } catch (error) {
    throw new CliError(`Kafka credentials: ${(error as Error).message}`);
  }
}
