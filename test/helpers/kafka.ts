import type { TestContext } from 'node:test';
import type { Kafka, Producer } from 'kafkajs';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { parseKafkaClientKind, type KafkaClientKind } from '../../core/event-log/kafka/client-kind.js';
import { silentLogger } from '../../core/logger.js';

/**
 * The Kafka the tests talk to: `npm test` starts one and sets KAFKA_BOOTSTRAP_SERVERS (see
 * scripts/test.ts); a test file run on its own needs it set (`npm run kafka` prints it).
 */
export function kafkaBootstrapServers(): string[] {
  const value = process.env['KAFKA_BOOTSTRAP_SERVERS'];
  if (!value) {
    throw new Error('KAFKA_BOOTSTRAP_SERVERS is not set: run the tests with `npm test`, or start Kafka with `npm run kafka`');
  }
  return value.split(',').map((s) => s.trim());
}

/**
 * The Kafka client library tests run the adapter on: KAFKA_CLIENT (kafkajs | platformatic) when
 * set, else the adapter's default; a test may name one itself.
 */
export function testKafkaClient(): KafkaClientKind | undefined {
  const value = process.env['KAFKA_CLIENT'];
  if (!value) return undefined;
  const kind = parseKafkaClientKind(value);
  if (kind === undefined) throw new Error(`KAFKA_CLIENT must be kafkajs or platformatic, got "${value}"`);
  return kind;
}

/** A Kafka event log closed when the test ends. */
export function kafkaEventLog(t: TestContext | { after(fn: () => Promise<void>): void }, clientId = 'test', client: KafkaClientKind | undefined = testKafkaClient()): KafkaEventLog {
  const log = new KafkaEventLog({ brokers: kafkaBootstrapServers(), clientId, logger: silentLogger(), client });
  t.after(() => log.close());
  return log;
}

/**
 * A kafkajs producer for a test to write its records with. Idempotent: a plain one retries a
 * whole send when one partition of it fails (a just-created topic's leader not elected yet), and
 * writes the partitions that succeeded a second time, which a test counting records reads as a
 * bug of the consumer under test.
 */
export function testWriter(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
}
