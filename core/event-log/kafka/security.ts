import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import { BrokerError } from '../../errors.js';

/**
 * How a client reaches a secured Kafka: Kafka's `security.protocol`, with SASL credentials and
 * TLS material (PEM text) where the protocol uses them. Knative Kafka's auth Secret carries the
 * same (core/kafka-auth.ts reads it).
 */
export type KafkaProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export const kafkaProtocols: readonly KafkaProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];
export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
export const saslMechanisms: readonly SaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

export interface KafkaSasl {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

export interface KafkaTls {
  /** CAs to trust instead of Node's bundled ones; none: the public CAs (Confluent Cloud, MSK). */
  readonly ca?: string;
  /** Client certificate and key, for a listener with `ssl.client.auth=required` (mTLS). */
  readonly cert?: string;
  readonly key?: string;
}

export type KafkaSecurity =
  | { readonly protocol: 'PLAINTEXT' }
  | { readonly protocol: 'SSL'; readonly tls: KafkaTls }
  | { readonly protocol: 'SASL_PLAINTEXT'; readonly sasl: KafkaSasl }
  | { readonly protocol: 'SASL_SSL'; readonly sasl: KafkaSasl; readonly tls: KafkaTls };

export const PLAINTEXT: KafkaSecurity = { protocol: 'PLAINTEXT' };

/**
 * The same setting as @platformatic/kafka's connection options (the group-less reader, read.ts):
 * the same CAs, client certificate and SASL credentials as the kafkajs clients.
 */
export function platformaticSecurity(security: KafkaSecurity): { tls?: ConnectionOptions; sasl?: { mechanism: SaslMechanism; username: string; password: string } } {
  const sasl = 'sasl' in security ? { sasl: { mechanism: security.sasl.mechanism, username: security.sasl.username, password: security.sasl.password } } : {};
  const tls = 'tls' in security ? { tls: tlsOptions(security.tls) } : {};
  return { ...tls, ...sasl };
}

/** The kafkajs `ssl` and `sasl` settings for a security setting. Server certificates are always verified. */
export function kafkajsSecurity(security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  switch (security.protocol) {
    case 'PLAINTEXT':
      return {};
    case 'SSL':
      return { ssl: tlsOptions(security.tls) };
    case 'SASL_PLAINTEXT':
      return { sasl: saslOptions(security.sasl) };
    case 'SASL_SSL':
      return { ssl: tlsOptions(security.tls), sasl: saslOptions(security.sasl) };
    default: {
      const never: never = security;
      throw new Error(`unknown Kafka security protocol ${JSON.stringify(never)}`);
    }
  }
}

function tlsOptions(tls: KafkaTls): ConnectionOptions {
  return {
    rejectUnauthorized: true,
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
  };
}

function saslOptions(sasl: KafkaSasl): SASLOptions {
  const { username, password } = sasl;
  switch (sasl.mechanism) {
    case 'PLAIN':
      return { mechanism: 'plain', username, password };
    case 'SCRAM-SHA-256':
      return { mechanism: 'scram-sha-256', username, password };
    case 'SCRAM-SHA-512':
      return { mechanism: 'scram-sha-512', username, password };
    default: {
      const never: never = sasl.mechanism;
      throw new Error(`unknown SASL mechanism ${String(never)}`);
    }
  }
}

/** A one-line, secret-free description (for logs and start-up lines). */
export function describeSecurity(security: KafkaSecurity): string {
  const parts: string[] = [security.protocol];
  if ('sasl' in security) parts.push(`${security.sasl.mechanism} as ${security.sasl.username}`);
  if ('tls' in security) {
    parts.push(security.tls.ca === undefined ? 'public CAs' : 'own CA');
    if (security.tls.cert !== undefined) parts.push('client certificate');
  }
  return parts.join(', ');
}

// ---------------------------------------------------------------------------
// Failures

export type SecurityFailureKind = 'authentication' | 'tls';

/**
 * TLS failures by their Node/OpenSSL error code, with what an operator should read. Codes of the
 * X.509 checks our side makes come first; `ERR_SSL_*ALERT*` codes are the broker refusing us.
 */
const TLS_REASONS = new Map<string, string>([
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', "the broker's certificate is not signed by a trusted CA (check ca.crt)"],
  ['UNABLE_TO_GET_ISSUER_CERT', "the broker's certificate is not signed by a trusted CA (check ca.crt)"],
  ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', "the broker's certificate is not signed by a trusted CA (check ca.crt)"],
  ['SELF_SIGNED_CERT_IN_CHAIN', "the broker's certificate chains to a CA that is not trusted (check ca.crt)"],
  ['DEPTH_ZERO_SELF_SIGNED_CERT', "the broker's certificate is self-signed and not trusted (check ca.crt)"],
  ['CERT_UNTRUSTED', "the broker's certificate is not trusted (check ca.crt)"],
  ['CERT_SIGNATURE_FAILURE', "the broker's certificate has a bad signature"],
  ['CERT_HAS_EXPIRED', "the broker's certificate has expired"],
  ['CERT_NOT_YET_VALID', "the broker's certificate is not valid yet"],
  ['ERR_TLS_CERT_ALTNAME_INVALID', "the broker's certificate does not name the host connected to"],
  ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'the broker refused the client certificate: it has expired (user.crt)'],
  ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'the broker refused the client certificate, or wants one (user.crt, user.key)'],
  ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'the broker refused the client certificate: expired, or not from a CA it trusts (user.crt)'],
  ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', "the broker does not trust the client certificate's CA (user.crt)"],
  ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'the broker requires a client certificate (user.crt, user.key)'],
  ['ERR_SSL_WRONG_VERSION_NUMBER', 'the listener does not speak TLS (check protocol)'],
]);

/**
 * Whether a Kafka client failure is a security one, and why, read from error classes and codes
 * (never message text). kafkajs: KafkaJSSASLAuthenticationError, the protocol errors of a refused
 * SASL handshake (`type`), and the TLS code kept on KafkaJSConnectionError. @platformatic/kafka:
 * its AuthenticationError (code PLT_KFK_AUTHENTICATION), protocol errors (`apiId`), and the TLS
 * error as `cause` of a network error, possibly inside an aggregate of retries (`errors`).
 */
export function securityFailure(error: unknown): { kind: SecurityFailureKind; reason: string } | undefined {
  const nodes: SecurityErrorFields[] = [];
  const queue: { error: unknown; depth: number }[] = [{ error, depth: 0 }];
  while (queue.length > 0) {
    const { error: current, depth } = queue.shift()!;
    if (current === undefined || current === null || typeof current !== 'object' || depth > 6) continue;
    nodes.push(current as SecurityErrorFields);
    const { originalError, cause, errors } = current as { originalError?: unknown; cause?: unknown; errors?: unknown };
    queue.push({ error: originalError ?? cause, depth: depth + 1 });
    if (Array.isArray(errors)) for (const inner of errors) queue.push({ error: inner, depth: depth + 1 });
  }
  // A refused mechanism is wrapped in a generic authentication error by @platformatic/kafka: the specific reason first.
  const mechanism = nodes.find((n) => MECHANISM_ERRORS.has(String(n.type ?? n.apiId)));
  if (mechanism !== undefined) return { kind: 'authentication', reason: 'the listener does not accept this SASL mechanism (check sasl.mechanism and protocol)' };
  for (const node of nodes) {
    const found = securityFailureOf(node);
    if (found !== undefined) return found;
  }
  return undefined;
}

interface SecurityErrorFields {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly type?: unknown;
  readonly apiId?: unknown;
}

const MECHANISM_ERRORS = new Set(['UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE']);

function securityFailureOf({ name, code, type, apiId }: SecurityErrorFields): { kind: SecurityFailureKind; reason: string } | undefined {
  const protocolError = type ?? apiId;
  if (name === 'KafkaJSSASLAuthenticationError' || protocolError === 'SASL_AUTHENTICATION_FAILED' || code === 'PLT_KFK_AUTHENTICATION') {
    return { kind: 'authentication', reason: 'SASL authentication failed (check user, password and sasl.mechanism)' };
  }
  if (typeof code === 'string') {
    // OpenSSL 3.5 (Node 24) spells the SSLv3-era alerts `SSL/TLS_ALERT_`; older ones `SSLV3_ALERT_`.
    const reason = TLS_REASONS.get(code.replace('ERR_SSL_SSL/TLS_ALERT_', 'ERR_SSL_SSLV3_ALERT_'));
    if (reason !== undefined) return { kind: 'tls', reason: `TLS failed: ${reason} [${code}]` };
    if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return { kind: 'tls', reason: `TLS failed [${code}]` };
  }
  return undefined;
}

/** KAFKA_AUTH_FAILED / KAFKA_TLS_FAILED for a security failure; undefined for any other. Not retriable: a setting must change. */
export function securityError(what: string, error: unknown): BrokerError | undefined {
  const failure = securityFailure(error);
  if (failure === undefined) return undefined;
  const code = failure.kind === 'authentication' ? 'KAFKA_AUTH_FAILED' : 'KAFKA_TLS_FAILED';
  return new BrokerError(code, `${what}: ${failure.reason}`, { cause: error, retriable: false, details: { kafkaSecurity: failure.kind } });
}
