import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Env } from './config.js';
import { BrokerError } from './errors.js';
import {
  kafkaProtocols, saslMechanisms, type KafkaProtocol, type KafkaSasl, type KafkaSecurity, type KafkaTls, type SaslMechanism,
} from './event-log/kafka/security.js';

/**
 * Kafka credentials the way Knative Kafka configures them: the keys of the Secret named by
 * `auth.secret.ref.name` (broker ConfigMap, `kafka-channel-config` for KafkaChannels) or by a KafkaSink's
 * `spec.auth.secret.ref.name`:
 *
 *   protocol        PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL   (default PLAINTEXT)
 *   sasl.mechanism  PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512         (default PLAIN; SASL_* only)
 *   user, password  SASL credentials                               (SASL_* only, required there)
 *   ca.crt          PEM CAs to trust; absent: the public CAs        (SSL, SASL_SSL)
 *   user.crt, user.key  client certificate and key, for mTLS        (SSL, SASL_SSL; both or neither)
 *
 * Knative's older keys are read when `protocol` is absent: `tls.enabled: "true"` (or a `ca.crt`
 * or `user.crt`) means TLS, `user` with `password` means SASL, with `saslType` as the mechanism.
 *
 * The same keys reach a standalone process as files in a folder (a mounted Secret), or one by
 * one from environment variables naming files (kafkaAuthFromEnv): secrets never on a command line.
 */
export const AUTH_KEYS = ['protocol', 'sasl.mechanism', 'user', 'password', 'ca.crt', 'user.crt', 'user.key', 'tls.enabled', 'saslType'] as const;

export type KafkaAuthResult = { readonly ok: true; readonly security: KafkaSecurity } | { readonly ok: false; readonly message: string };

/** Reads a Secret's keys (decoded) into a security setting; `where` names the Secret in messages. Pure. */
export function parseKafkaAuth(data: ReadonlyMap<string, string>, where: string): KafkaAuthResult {
  const fail = (message: string): KafkaAuthResult => ({ ok: false, message: `${where}: ${message}` });
  const get = (key: string): string | undefined => {
    const value = data.get(key);
    return value === undefined || value.trim() === '' ? undefined : value;
  };

  let protocol: KafkaProtocol;
  const given = get('protocol')?.trim();
  if (given !== undefined) {
    const known = kafkaProtocols.find((p) => p === given.toUpperCase());
    if (known === undefined) return fail(`protocol must be one of ${kafkaProtocols.join(', ')}, found "${given}"`);
    protocol = known;
  } else {
    const tls = get('tls.enabled')?.trim().toLowerCase() === 'true' || get('ca.crt') !== undefined || get('user.crt') !== undefined;
    const sasl = get('user') !== undefined && get('password') !== undefined;
    protocol = sasl ? (tls ? 'SASL_SSL' : 'SASL_PLAINTEXT') : tls ? 'SSL' : 'PLAINTEXT';
  }
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const usesSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';

  // Material for a part the protocol does not use is a mistake worth saying: whoever set it
  // believes the connection is encrypted or authenticated.
  for (const key of ['ca.crt', 'user.crt', 'user.key'] as const) {
    if (!usesTls && get(key) !== undefined) return fail(`${key} is set but protocol ${protocol} does not use TLS (use SSL or SASL_SSL)`);
  }
  if (!usesSasl && given !== undefined && get('sasl.mechanism') !== undefined) {
    return fail(`sasl.mechanism is set but protocol ${protocol} does not use SASL (use SASL_PLAINTEXT or SASL_SSL)`);
  }

  let sasl: KafkaSasl | undefined;
  if (usesSasl) {
    const mechanismText = (get('sasl.mechanism') ?? get('saslType') ?? 'PLAIN').trim();
    const mechanism = saslMechanisms.find((m) => m === mechanismText.toUpperCase()) as SaslMechanism | undefined;
    if (mechanism === undefined) return fail(`sasl.mechanism must be one of ${saslMechanisms.join(', ')}, found "${mechanismText}"`);
    const username = get('user');
    const password = data.get('password');
    if (username === undefined) return fail(`user is required with protocol ${protocol}`);
    if (password === undefined || password === '') return fail(`password is required with protocol ${protocol}`);
    sasl = { mechanism, username: username.trim(), password: stripNewline(password) };
  }

  let tls: KafkaTls | undefined;
  if (usesTls) {
    const ca = get('ca.crt');
    const cert = get('user.crt');
    const key = get('user.key');
    if ((cert === undefined) !== (key === undefined)) return fail(`user.crt and user.key go together: ${cert === undefined ? 'user.crt' : 'user.key'} is missing`);
    if (ca !== undefined && !isCertificate(ca)) return fail('ca.crt is not a PEM certificate');
    if (cert !== undefined && !isCertificate(cert)) return fail('user.crt is not a PEM certificate');
    if (key !== undefined && !isPrivateKey(key)) return fail('user.key is not a PEM private key (unencrypted)');
    tls = { ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) };
  }

  switch (protocol) {
    case 'PLAINTEXT':
      return { ok: true, security: { protocol } };
    case 'SSL':
      return { ok: true, security: { protocol, tls: tls! } };
    case 'SASL_PLAINTEXT':
      return { ok: true, security: { protocol, sasl: sasl! } };
    case 'SASL_SSL':
      return { ok: true, security: { protocol, sasl: sasl!, tls: tls! } };
  }
}

/** A password file written with `echo` ends in a newline that is not part of the password. */
function stripNewline(value: string): string {
  return value.replace(/\r?\n$/, '');
}

function isCertificate(pem: string): boolean {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return false;
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

function isPrivateKey(pem: string): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Standalone mode: a folder of key files, or environment variables naming files

/** Environment variables of standalone mode; the secret ones name files. */
export const AUTH_ENV = {
  dir: 'KAFKA_AUTH_DIR',
  protocol: 'KAFKA_SECURITY_PROTOCOL',
  mechanism: 'KAFKA_SASL_MECHANISM',
  user: 'KAFKA_SASL_USER',
  passwordFile: 'KAFKA_SASL_PASSWORD_FILE',
  caFile: 'KAFKA_TLS_CA_FILE',
  certFile: 'KAFKA_TLS_CERT_FILE',
  keyFile: 'KAFKA_TLS_KEY_FILE',
} as const;

/** Reads the auth keys present in a folder (a mounted Secret: one file per key). */
export async function readKafkaAuthDir(dir: string): Promise<Map<string, string>> {
  const data = new Map<string, string>();
  for (const key of AUTH_KEYS) {
    try {
      data.set(key, await readFile(join(dir, key), 'utf8'));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      throw new Error(`cannot read ${join(dir, key)}: ${code ?? String(error)}`, { cause: error });
    }
  }
  if (data.size === 0) throw new Error(`${dir} holds none of the Kafka auth keys (${AUTH_KEYS.join(', ')})`);
  return data;
}

/**
 * The security setting of a standalone process: `dir` (a flag, else KAFKA_AUTH_DIR) or the
 * KAFKA_SECURITY_PROTOCOL family, not both; neither is PLAINTEXT. Throws one-line errors.
 */
export async function kafkaAuthFromEnv(env: Env, dirFlag?: string): Promise<{ security: KafkaSecurity; from: string }> {
  const dir = dirFlag ?? (env[AUTH_ENV.dir] || undefined);
  const single = [AUTH_ENV.protocol, AUTH_ENV.mechanism, AUTH_ENV.user, AUTH_ENV.passwordFile, AUTH_ENV.caFile, AUTH_ENV.certFile, AUTH_ENV.keyFile].filter((name) => env[name]);
  const dirFrom = dirFlag !== undefined ? '--kafka-auth-dir' : AUTH_ENV.dir;
  if (dir !== undefined && single.length > 0) throw new Error(`give either ${dirFrom} or ${single.join(', ')}, not both`);
  let data: Map<string, string>;
  let from: string;
  if (dir !== undefined) {
    data = await readKafkaAuthDir(dir);
    from = `${dirFrom} ${dir}`;
  } else if (single.length > 0) {
    data = new Map();
    from = single.join(', ');
    const plain: [string, string][] = [[AUTH_ENV.protocol, 'protocol'], [AUTH_ENV.mechanism, 'sasl.mechanism'], [AUTH_ENV.user, 'user']];
    for (const [name, key] of plain) if (env[name]) data.set(key, env[name]);
    const files: [string, string][] = [[AUTH_ENV.passwordFile, 'password'], [AUTH_ENV.caFile, 'ca.crt'], [AUTH_ENV.certFile, 'user.crt'], [AUTH_ENV.keyFile, 'user.key']];
    for (const [name, key] of files) {
      const file = env[name];
      if (!file) continue;
      try {
        data.set(key, await readFile(file, 'utf8'));
      } catch (error) {
        throw new Error(`${name}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
      }
    }
    // Set one by one, the protocol is explicit: no guessing from which variables are there.
    if (!data.has('protocol')) throw new Error(`${AUTH_ENV.protocol} is required with ${single.join(', ')}`);
  } else {
    return { security: { protocol: 'PLAINTEXT' }, from: 'default' };
  }
  const parsed = parseKafkaAuth(data, from);
  if (!parsed.ok) throw new Error(parsed.message);
  return { security: parsed.security, from };
}

// ---------------------------------------------------------------------------
// Per-resource credentials in the data plane: a folder per Secret under a root

/**
 * The credentials of the Secret `namespace/name` from `<root>/<namespace>/<name>/<key>` (each
 * Secret mounted as a volume there, or written by whoever deploys the data plane). Read once per
 * cluster client, synchronously: a few small files, when a resource first uses the cluster.
 * Throws KAFKA_AUTH_INVALID naming the folder and the key.
 */
export function kafkaAuthFromRoot(root: string, secret: { readonly namespace: string; readonly name: string }): KafkaSecurity {
  const dir = join(root, secret.namespace, secret.name);
  const data = new Map<string, string>();
  for (const key of AUTH_KEYS) {
    try {
      data.set(key, readFileSync(join(dir, key), 'utf8'));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      throw new BrokerError('KAFKA_AUTH_INVALID', `cannot read ${join(dir, key)}: ${code ?? String(error)}`, { retriable: false });
    }
  }
  if (data.size === 0) throw new BrokerError('KAFKA_AUTH_INVALID', `Kafka credentials ${secret.namespace}/${secret.name}: ${dir} holds none of the auth keys (${AUTH_KEYS.join(', ')})`, { retriable: false });
  const parsed = parseKafkaAuth(data, `Kafka credentials ${dir}`);
  if (!parsed.ok) throw new BrokerError('KAFKA_AUTH_INVALID', parsed.message, { retriable: false });
  return parsed.security;
}
