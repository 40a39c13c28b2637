import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { toKafkaRecord } from '../../../core/cloudevents/kafka-binding.js';
import { MemoryEventLog } from '../../../core/event-log/memory.js';
import { dispatcherConfigSchema } from '../../../dispatcher/config.js';
import type { AttemptResult, HttpRequest, Sender } from '../../../dispatcher/delivery.js';
import { systemClock } from '../../../dispatcher/dispatch.js';
import { EgressConsumer } from '../../../dispatcher/egress-consumer.js';
import { makeBroker, makeEgress, makeEgressConfig } from '../../helpers/builders.js';
import { waitUntil } from '../../helpers/wait.js';

/** A held event is visible in the logs, but rate-limited: one warning per interval, not per round. */
describe('egress consumer: held events in the logs', () => {
  test('one warning per stallWarnIntervalMs, however many rounds', async (t) => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const logger = pino({ level: 'warn' }, sink);
    const log = new MemoryEventLog();
    t.after(() => log.close());
    await log.ensureTopic('topic', { partitions: 1, replicationFactor: 1 });
    let attempts = 0;
    const sender: Sender = {
      send: async (_request: HttpRequest): Promise<AttemptResult> => {
        attempts++;
        return { kind: 'response', status: 500, headers: {}, body: Buffer.alloc(0), truncated: false };
      },
    };
    const egress = makeEgress('held', { destination: 'http://subscriber.test/', egressConfig: makeEgressConfig({ retry: 0 }) });
    const resource = makeBroker('b', [egress], { topics: ['topic'] });
    await log.initGroup(egress.consumerGroup, 'topic', 'earliest');
    const config = dispatcherConfigSchema.parse({ stallBackoffBaseMs: 5, maxStallBackoffMs: 10, stallWarnIntervalMs: 60_000 });
    const consumer = new EgressConsumer(resource, egress, { log, sender, config, logger, clock: systemClock, random: () => 0 });
    await consumer.start();
    t.after(() => consumer.stop(0));

    await log.append('topic', [toKafkaRecord({ attributes: { specversion: '1.0', id: 'held-1', source: '/t', type: 't' } })]);
    await waitUntil(() => attempts >= 20, { message: 'held rounds' });

    const warnings = lines.filter((l) => l['level'] === 40);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.['reason'], 'no-dead-letter-sink');
    assert.equal(warnings[0]?.['eventId'], 'held-1');
    assert.equal(warnings[0]?.['offset'], '0');
    assert.equal(consumer.heldCount(), 1);
    assert.ok(consumer.counters.heldRounds >= 19);
  });
});
