import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeEgressConfig } from '../helpers/builders.js';
import { answer, eventLogKinds, makeEvent, startScenario, startSubscriber, uniqueEgress, type Subscriber } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Delivery order: `unordered` delivers many events of a partition at once, up to the
 * in-flight bound; `ordered` delivers one event at a time per partition, in offset order, the
 * next only once the previous is done — retries included.
 */

/** A subscriber that takes `delayMs` per event and records how many requests overlapped. */
function slowSubscriber(subscriber: Subscriber, delayMs: number): { maxConcurrent: () => number; maxConcurrentPerKey: () => number } {
  let current = 0;
  let max = 0;
  const perKey = new Map<string, number>();
  let maxPerKey = 0;
  subscriber.respond(async (req, res) => {
    const key = String(req.headers['ce-partitionkey']);
    current++;
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
    max = Math.max(max, current);
    maxPerKey = Math.max(maxPerKey, perKey.get(key)!);
    await sleep(delayMs);
    current--;
    perKey.set(key, perKey.get(key)! - 1);
    answer(res, 200);
  });
  return { maxConcurrent: () => max, maxConcurrentPerKey: () => maxPerKey };
}

for (const kind of eventLogKinds) {
  const wait = { timeoutMs: kind.timeoutMs };

  describe(`dispatch order on ${kind.name}`, { timeout: kind.timeoutMs * 4, concurrency: 2 }, () => {
    test('unordered: events of one partition are delivered concurrently, bounded by maxInFlightPerEgress', async (t) => {
      const subscriber = await startSubscriber(t);
      const observed = slowSubscriber(subscriber, 100);
      const s = await startScenario(t, kind, { egresses: [uniqueEgress('unordered', { destination: subscriber.url })], config: { maxInFlightPerEgress: 8 } });
      await s.send(Array.from({ length: 40 }, () => makeEvent({ partitionkey: 'one-key' })));
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 40, { ...wait, message: '40 deliveries' });
      assert.ok(observed.maxConcurrent() > 1, `max concurrency ${observed.maxConcurrent()}`);
      assert.ok(observed.maxConcurrent() <= 8, `max concurrency ${observed.maxConcurrent()} is over the bound`);
    });

    test('ordered: one at a time per partition, in order; partitions proceed side by side', async (t) => {
      const subscriber = await startSubscriber(t);
      const observed = slowSubscriber(subscriber, 20);
      const s = await startScenario(t, kind, {
        partitions: 3,
        egresses: [uniqueEgress('ordered', { destination: subscriber.url, deliveryOrder: 'ordered' })],
      });
      const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
      const events = Array.from({ length: 60 }, (_, i) => makeEvent({ id: `${keys[i % keys.length]}-${Math.floor(i / keys.length)}`, partitionkey: keys[i % keys.length]! }));
      await s.send(events);
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 60, { ...wait, message: '60 deliveries' });
      assert.equal(observed.maxConcurrentPerKey(), 1);
      for (const key of keys) {
        const seen = subscriber.ids().filter((id) => id.startsWith(`${key}-`));
        assert.deepEqual(seen, Array.from({ length: 10 }, (_, i) => `${key}-${i}`), `order of ${key}`);
      }
      // Several partitions: more than one request at a time overall.
      assert.ok(observed.maxConcurrent() > 1, `max concurrency ${observed.maxConcurrent()}`);
    });

    test('ordered: a failing event holds its partition until it is done (retries, then dead letter)', async (t) => {
      const subscriber = await startSubscriber(t);
      subscriber.respond((req, res) => answer(res, req.headers['ce-id'] === 'first' ? 503 : 200));
      const dls = await startSubscriber(t);
      const s = await startScenario(t, kind, {
        egresses: [uniqueEgress('ordered-hold', {
          destination: subscriber.url, deliveryOrder: 'ordered',
          egressConfig: makeEgressConfig({ retry: 3, backoffPolicy: 'linear', backoffDelayMs: 30, deadLetter: dls.url }),
        })],
      });
      await s.send([makeEvent({ id: 'first' }), makeEvent({ id: 'second' }), makeEvent({ id: 'third' })]);
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 2, { ...wait, message: 'deliveries' });
      assert.deepEqual(subscriber.ids(), ['first', 'first', 'first', 'first', 'second', 'third']);
      const deadAt = dls.requests[0]!.at;
      const secondAt = subscriber.requests[4]!.at;
      assert.ok(secondAt >= deadAt, 'the next event went out only after the first was dead-lettered');
    });

    test('unordered: a failing event does not hold the others', async (t) => {
      const subscriber = await startSubscriber(t);
      subscriber.respond((req, res) => answer(res, req.headers['ce-id'] === 'first' ? 503 : 200));
      const s = await startScenario(t, kind, {
        egresses: [uniqueEgress('unordered-free', { destination: subscriber.url, egressConfig: makeEgressConfig({ retry: 0 }) })],
        config: { stallBackoffBaseMs: 50, maxStallBackoffMs: 200 },
      });
      await s.send([makeEvent({ id: 'first' }), makeEvent({ id: 'second' }), makeEvent({ id: 'third' })]);
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 2, { ...wait, message: 'the others delivered' });
      assert.equal(s.dispatcher.stats().totals.held, 1);
    });
  });
}
