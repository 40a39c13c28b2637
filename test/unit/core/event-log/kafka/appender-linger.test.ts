import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KafkaAppender, type BatchProducer, type OutgoingRecord, type ProducerFactory } from '../../../../../core/event-log/kafka/producer.js';

/**
 * The appender's linger (Kafka's linger.ms): the first append of a batch waits for others to
 * share its produce request; a batch that waited for the request in flight goes when it is
 * answered. A producer that records each send and answers when told stands in for Kafka.
 */

interface Sends {
  readonly factory: ProducerFactory;
  /** Each send's record values, as text. */
  readonly batches: string[][];
  /** Answers the oldest unanswered send. */
  answer(): void;
}

function recordingProducer(): Sends {
  const batches: string[][] = [];
  const waiting: (() => void)[] = [];
  const producer: BatchProducer = {
    send: (records: readonly OutgoingRecord[]) => {
      batches.push(records.map((r) => r.value!.toString()));
      return new Promise((resolve) => waiting.push(() => resolve(new Map())));
    },
    close: () => Promise.resolve(),
  };
  return {
    factory: { create: () => Promise.resolve(producer), topicGone: () => false },
    batches,
    answer: () => waiting.shift()!(),
  };
}

const topics = { partitionCountForAppend: () => Promise.resolve(3), forgetPartitionCount: () => undefined };
const record = (text: string): { key: null; value: Buffer } => ({ key: null, value: Buffer.from(text) });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('KafkaAppender linger', () => {
  test('without a linger, the first append goes alone and later ones wait for its answer', async (t) => {
    const sends = recordingProducer();
    const appender = new KafkaAppender(sends.factory, topics, { appendTimeoutMs: 5000, maxInFlightBatches: 1, lingerMs: 0 });
    t.after(() => appender.close());
    const first = appender.append('t', [record('a')]);
    await sleep(5);
    const rest = [appender.append('t', [record('b')]), appender.append('t', [record('c')])];
    await sleep(5);
    assert.deepEqual(sends.batches, [['a']]);
    sends.answer();
    await first;
    await sleep(5);
    assert.deepEqual(sends.batches, [['a'], ['b', 'c']]);
    sends.answer();
    await Promise.all(rest);
  });

  test('with a linger, appends within it share one produce request, sent once it has passed', async (t) => {
    const sends = recordingProducer();
    const appender = new KafkaAppender(sends.factory, topics, { appendTimeoutMs: 5000, maxInFlightBatches: 1, lingerMs: 40 });
    t.after(() => appender.close());
    const started = performance.now();
    const appends = [appender.append('t', [record('a')])];
    // A later turn of the event loop, but one that runs before any timer: a 5 ms sleep let a busy
    // machine pass the whole 40 ms linger before the second append.
    await new Promise((resolve) => setImmediate(resolve));
    appends.push(appender.append('t', [record('b'), record('c')]));
    assert.deepEqual(sends.batches, [], 'nothing is sent before the linger has passed');
    while (sends.batches.length === 0) await sleep(2);
    // Node's timers count from the event loop's cached clock, which can lag performance.now() by
    // however long the current turn has run, so a timer may fire early by that much on a busy machine.
    assert.ok(performance.now() - started >= 20, 'the first append waited the linger');
    assert.deepEqual(sends.batches, [['a', 'b', 'c']]);
    sends.answer();
    const results = await Promise.all(appends);
    assert.equal(results.flat().length, 3);
  });

  test('a batch that waited longer than the linger for the request in flight goes as soon as that is answered', async (t) => {
    const sends = recordingProducer();
    const appender = new KafkaAppender(sends.factory, topics, { appendTimeoutMs: 5000, maxInFlightBatches: 1, lingerMs: 20 });
    t.after(() => appender.close());
    const first = appender.append('t', [record('a')]);
    while (sends.batches.length === 0) await sleep(2);
    const second = appender.append('t', [record('b')]);
    await sleep(40);
    assert.deepEqual(sends.batches, [['a']], 'one request in flight at a time');
    sends.answer();
    await first;
    await sleep(1);
    assert.deepEqual(sends.batches, [['a'], ['b']], 'no second linger for a batch that has waited already');
    sends.answer();
    await second;
  });

  test('close fails the appends still lingering', async () => {
    const sends = recordingProducer();
    const appender = new KafkaAppender(sends.factory, topics, { appendTimeoutMs: 5000, maxInFlightBatches: 1, lingerMs: 1000 });
    const lingering = appender.append('t', [record('a')]);
    await appender.close();
    await assert.rejects(lingering, { code: 'LOG_UNAVAILABLE' });
    assert.deepEqual(sends.batches, []);
  });
});

describe('KafkaAppender: a batch Kafka refuses as too large', () => {
  test('the appends that shared it each get a verdict of their own: only the large one fails', async (t) => {
    const batches: string[][] = [];
    const producer: BatchProducer = {
      // As Kafka does: a record batch with a record over the topic's limit is refused whole.
      send: (records: readonly OutgoingRecord[]) => {
        batches.push(records.map((r) => r.value!.toString()));
        if (records.some((r) => r.value!.toString() === 'big')) return Promise.reject(Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE' }));
        return Promise.resolve(new Map());
      },
      close: () => Promise.resolve(),
    };
    const appender = new KafkaAppender({ create: () => Promise.resolve(producer), topicGone: () => false }, topics, { appendTimeoutMs: 5000, maxInFlightBatches: 1, lingerMs: 20 });
    t.after(() => appender.close());
    const outcomes = await Promise.allSettled(['a', 'big', 'b'].map((text) => appender.append('t', [record(text)])));
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(batches, [['a', 'big', 'b'], ['a'], ['big'], ['b']]);
  });
});
