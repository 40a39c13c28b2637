import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { KafkaSecurity, SaslMechanism } from '../../core/event-log/kafka/security.js';
import type { SecuredKafka } from '../../scripts/kafka/kafka.js';
import { startOwnKafka } from './own-kafka.js';

/**
 * A second, secured Kafka for the file that calls this (its own JVM: a few hundred MB, so only the
 * files that need SASL or TLS start one), stopped when the file's tests are done.
 */
export async function startSecuredKafka(): Promise<SecuredKafka> {
  const kafka = await startOwnKafka({ security: true, heapMb: 384 });
  after(() => kafka.stop());
  return kafka.security!;
}

/** What a SASL_SSL setting may change from the working one: to check a refusal or another mechanism. */
export interface SaslSslOptions {
  /** SCRAM-SHA-512 by default; the secured Kafka has a user for each mechanism. */
  readonly mechanism?: SaslMechanism;
  /** The mechanism's user's password by default. */
  readonly password?: string;
  /** The CA trusted for the broker's certificate; the test CA by default. */
  readonly ca?: string;
}

function saslSslSettings(kafka: SecuredKafka, options: SaslSslOptions): { mechanism: SaslMechanism; username: string; password: string; ca: string } {
  const mechanism = options.mechanism ?? 'SCRAM-SHA-512';
  const user = mechanism === 'PLAIN' ? kafka.users.plain : mechanism === 'SCRAM-SHA-256' ? kafka.users.scramSha256 : kafka.users.scramSha512;
  return { mechanism, username: user.username, password: options.password ?? user.password, ca: options.ca ?? kafka.pki.ca };
}

/** SASL over TLS with a user of the secured Kafka and the test CA, or what `options` change. */
export function saslSsl(kafka: SecuredKafka, options: SaslSslOptions = {}): KafkaSecurity {
  const { mechanism, username, password, ca } = saslSslSettings(kafka, options);
  return { protocol: 'SASL_SSL', sasl: { mechanism, username, password }, tls: { ca } };
}

/** SASL_SSL with SCRAM-SHA-512 and the test CA: the common managed-Kafka set-up. */
export function scramSsl(kafka: SecuredKafka): KafkaSecurity {
  return saslSsl(kafka);
}

/** TLS with the test client certificate (mTLS). */
export function mutualTls(kafka: SecuredKafka): KafkaSecurity {
  return { protocol: 'SSL', tls: { ca: kafka.pki.ca, cert: kafka.pki.client.cert, key: kafka.pki.client.key } };
}

/** The same as `saslSsl`, as the keys of a Knative Kafka auth Secret. */
export function saslSslSecret(kafka: SecuredKafka, options: SaslSslOptions = {}): Record<string, string> {
  const { mechanism, username, password, ca } = saslSslSettings(kafka, options);
  return { protocol: 'SASL_SSL', 'sasl.mechanism': mechanism, user: username, password, 'ca.crt': ca };
}

/** Writes a Secret's keys as files of a folder (made if need be), as Kubernetes mounts a Secret. */
export async function writeSecretKeys(dir: string, keys: Readonly<Record<string, string>>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [key, value] of Object.entries(keys)) await writeFile(join(dir, key), value, { mode: 0o600 });
}

/** A temporary folder laid out as a mounted Secret, removed after the test. */
export async function secretFolder(t: { after(fn: () => Promise<void>): void }, keys: Readonly<Record<string, string>>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kafka-auth-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeSecretKeys(dir, keys);
  return dir;
}

/**
 * A temporary `--kafka-auth-root` holding one Secret, as `<root>/<namespace>/<name>/<key>`,
 * removed after the test; returns the root.
 */
export async function secretRoot(t: { after(fn: () => Promise<void>): void }, namespace: string, name: string, keys: Readonly<Record<string, string>>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'kafka-auth-root-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeSecretKeys(join(root, namespace, name), keys);
  return root;
}
