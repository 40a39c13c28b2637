import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { silentLogger } from '../../core/logger.js';
import { kafkaBootstrapServers, testKafkaClient } from '../helpers/kafka.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';

/**
 * A closed Kafka event log opens no connection: a read that was still connecting when the log
 * closed (a tail between polls) fails instead of opening clients nobody closes, which held a
 * test process open after its tests had passed. (A kafkajs request already in flight at close
 * may still reconnect while it retries: kafkajs's own behaviour.)
 */
const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
const newLog = (): KafkaEventLog => new KafkaEventLog({ brokers: kafkaBootstrapServers(), clientId: uniqueName('close'), logger: silentLogger(), client: testKafkaClient() });

async function drain(records: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of records) n++;
  return n;
}

test('a read after close fails as LOG_UNAVAILABLE', async () => {
  const log = newLog();
  await log.close();
  await assert.rejects(drain(log.read(uniqueName('topic'))), { code: 'LOG_UNAVAILABLE' });
});

test('a read still connecting when the log closes leaves no connection open', async () => {
  const before = sockets();
  for (let i = 0; i < 3; i++) {
    const log = newLog();
    // Closed in the same turn: the read's first connection is still being made.
    const reading = drain(log.read(uniqueName('topic')));
    await log.close();
    await assert.rejects(reading, { code: 'LOG_UNAVAILABLE' });
  }
  await waitUntil(() => sockets() <= before, { timeoutMs: 10_000, message: 'connections left open' });
});
