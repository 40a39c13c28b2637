import { after } from 'node:test';
import type { KafkaSecurity } from '../../core/event-log/kafka/security.js';
import { startKafka, type SecuredKafka } from '../../scripts/kafka/kafka.js';

/**
 * A second, secured Kafka for the file that calls this (its own JVM: a few hundred MB, so only the
 * files that need SASL or TLS start one), stopped when the file's tests are done.
 */
export async function startSecuredKafka(): Promise<SecuredKafka> {
  const kafka = await startKafka({ security: true, heapMb: 384 });
  after(() => kafka.stop());
  return kafka.security!;
}

/** SASL_SSL with SCRAM-SHA-512 and the test CA: the common managed-Kafka set-up. */
export function scramSsl(kafka: SecuredKafka): KafkaSecurity {
  return { protocol: 'SASL_SSL', sasl: { mechanism: 'SCRAM-SHA-512', ...kafka.users.scramSha512 }, tls: { ca: kafka.pki.ca } };
}

/** TLS with the test client certificate (mTLS). */
export function mutualTls(kafka: SecuredKafka): KafkaSecurity {
  return { protocol: 'SSL', tls: { ca: kafka.pki.ca, cert: kafka.pki.client.cert, key: kafka.pki.client.key } };
}
