import type { TestContext } from 'node:test';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
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

/** A Kafka event log closed when the test ends. */
export function kafkaEventLog(t: TestContext | { after(fn: () => Promise<void>): void }, clientId = 'test'): KafkaEventLog {
  const log = new KafkaEventLog({ brokers: kafkaBootstrapServers(), clientId, logger: silentLogger() });
  t.after(() => log.close());
  return log;
}
