import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaAppender, type BatchProducer, type ProducerFactory } from '../../../../../core/event-log/kafka/producer.js';

/**
 * An append's offsets: each record of a partition gets the send's base offset for it plus its
 * place, exactly, also where they pass 2^53 (Kafka's offsets are 64-bit).
 */
test('the offsets of one send\'s records count on from its base, exactly past 2^53', async (t) => {
  const cases: { name: string; base: bigint; expected: string[] }[] = [
    { name: 'small', base: 41n, expected: ['41', '42', '43', '44'] },
    { name: 'crossing 2^53', base: 2n ** 53n - 2n, expected: ['9007199254740990', '9007199254740991', '9007199254740992', '9007199254740993'] },
    { name: 'past 2^53', base: 2n ** 62n, expected: ['4611686018427387904', '4611686018427387905', '4611686018427387906', '4611686018427387907'] },
  ];
  for (const { name, base, expected } of cases) {
    const producer: BatchProducer = { send: () => Promise.resolve(new Map([['t\u00000', base]])), close: () => Promise.resolve() };
    const factory: ProducerFactory = { create: () => Promise.resolve(producer), topicGone: () => false };
    const topics = { partitionCountForAppend: () => Promise.resolve(1), forgetPartitionCount: () => undefined };
    const appender = new KafkaAppender(factory, topics, { appendTimeoutMs: 5000, maxInFlightBatches: 1, lingerMs: 0 });
    t.after(() => appender.close());
    const results = await appender.append('t', expected.map((_, i) => ({ key: null, value: Buffer.from(String(i)) })));
    assert.deepEqual(results.map((r) => r.offset), expected, name);
  }
});
