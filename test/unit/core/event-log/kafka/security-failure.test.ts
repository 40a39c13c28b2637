import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthenticationError, MultipleErrors, NetworkError, ProtocolError } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { securityError } from '../../../../../core/event-log/kafka/security.js';

/** A TLS failure as Node reports it (an Error with an OpenSSL code). */
function tlsError(code: string): Error {
  return Object.assign(new Error('tls'), { code });
}

// Both client libraries' failures give the same coded errors (KAFKA_AUTH_FAILED / KAFKA_TLS_FAILED).
const cases: { name: string; error: unknown; code: string | undefined; reason?: RegExp }[] = [
  { name: 'kafkajs: SASL refused', error: Reflect.construct(kafkajs.KafkaJSSASLAuthenticationError, ['bad password']) as Error, code: 'KAFKA_AUTH_FAILED', reason: /SASL authentication failed/ },
  { name: 'platformatic: SASL refused', error: new AuthenticationError('SASL authentication failed.', { cause: new ProtocolError('SASL_AUTHENTICATION_FAILED') }), code: 'KAFKA_AUTH_FAILED', reason: /SASL authentication failed/ },
  { name: 'platformatic: mechanism refused', error: new AuthenticationError('Cannot find a suitable SASL mechanism.', { cause: new ProtocolError('UNSUPPORTED_SASL_MECHANISM') }), code: 'KAFKA_AUTH_FAILED', reason: /does not accept this SASL mechanism/ },
  { name: 'platformatic: untrusted certificate, after retries', error: new MultipleErrors('retries exhausted', [new NetworkError('Connection failed.', { cause: tlsError('SELF_SIGNED_CERT_IN_CHAIN') })]), code: 'KAFKA_TLS_FAILED', reason: /not trusted/ },
  { name: 'platformatic: client certificate refused (OpenSSL 3.5 spelling)', error: new NetworkError('Connection failed.', { cause: tlsError('ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE') }), code: 'KAFKA_TLS_FAILED', reason: /refused the client certificate/ },
  { name: 'platformatic: connection refused is not a security failure', error: new NetworkError('Connection failed.', { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) }), code: undefined },
];

for (const c of cases) {
  test(`security failures: ${c.name}`, () => {
    const error = securityError('cannot connect to Kafka', c.error);
    assert.equal(error?.code, c.code);
    if (c.reason !== undefined) assert.match(error!.message, c.reason);
  });
}
