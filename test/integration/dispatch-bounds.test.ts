import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { makeEgressConfig } from '../helpers/builders.js';
import { answer, eventLogKinds, makeEvent, startScenario, startSubscriber, uniqueEgress } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Bounds a subscriber cannot push the dispatcher past, with real subscribers
 * on port 0, on both event logs:
 *
 *   - Retry-After is honoured up to the dispatcher's `maxRetryAfterMs`, whatever the trigger's
 *     `retryAfterMax` says;
 *   - deliveries waiting for a retry hold at most about `maxWaitingBytes`: past it the egresses
 *     stop taking records, and take them again once the waits end — nothing dropped or failed.
 */
for (const kind of eventLogKinds) {
  const wait = { timeoutMs: kind.timeoutMs };

  describe(`dispatch bounds on ${kind.name}`, { timeout: kind.timeoutMs * 4 }, () => {
    test('Retry-After: an hour asked, a trigger allowing an hour, the dispatcher bound (300 ms) wins', async (t) => {
      const subscriber = await startSubscriber(t);
      let n = 0;
      subscriber.respond((_req, res) => (++n === 1 ? answer(res, 503, { 'retry-after': '3600' }) : answer(res, 200)));
      const s = await startScenario(t, kind, {
        config: { maxRetryAfterMs: 300 },
        egresses: [uniqueEgress('retry-after-bound', { destination: subscriber.url, egressConfig: makeEgressConfig({ retry: 1, backoffDelayMs: 10, retryAfterMaxMs: 3_600_000 }) })],
      });
      await s.send([makeEvent()]);
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 1, { ...wait, message: 'delivery after the bound, not after an hour' });
      const gap = subscriber.requests[1]!.at - subscriber.requests[0]!.at;
      assert.ok(gap >= 298, `waited ${gap} ms, at least the bound`);
    });

    test('Retry-After with no retryAfterMax on the trigger is bounded too (held event, no dead-letter sink)', async (t) => {
      const subscriber = await startSubscriber(t);
      let n = 0;
      subscriber.respond((_req, res) => (++n <= 2 ? answer(res, 429, { 'retry-after': '86400' }) : answer(res, 200)));
      const s = await startScenario(t, kind, {
        config: { maxRetryAfterMs: 200 },
        egresses: [uniqueEgress('retry-after-held', { destination: subscriber.url, egressConfig: makeEgressConfig({ retry: 0, retryAfterMaxMs: null }) })],
      });
      await s.send([makeEvent()]);
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 1, { ...wait, message: 'delivery after two bounded waits, not after a day' });
      assert.equal(subscriber.requests.length, 3);
    });

    test('waiting memory: past maxWaitingBytes consumption pauses, then every event is delivered once the subscriber recovers', async (t) => {
      const subscriber = await startSubscriber(t);
      let failing = true;
      subscriber.respond((_req, res) => (failing ? answer(res, 503, { 'content-type': 'text/plain' }, 'x'.repeat(4096)) : answer(res, 200)));
      const dls = await startSubscriber(t);
      const s = await startScenario(t, kind, {
        // Each waiting event keeps ~8 KiB of record plus 1 KiB of error body: four pass 32 KiB.
        config: { maxWaitingBytes: 32 * 1024 },
        egresses: [uniqueEgress('waiting-bound', {
          destination: subscriber.url,
          egressConfig: makeEgressConfig({ retry: 1000, backoffPolicy: 'linear', backoffDelayMs: 25, deadLetter: dls.url }),
        })],
      });
      const data = 'd'.repeat(8 * 1024);
      const first = Array.from({ length: 6 }, (_, i) => makeEvent({ id: `first-${i}` }, data));
      await s.send(first);
      await waitUntil(() => s.dispatcher.stats().waiting.consumptionPaused, { ...wait, message: 'consumption paused at the bound' });
      const stats = s.dispatcher.stats();
      assert.ok(stats.waiting.bytes > 32 * 1024, `${stats.waiting.bytes} bytes waiting`);
      // Only the error data is kept of each 4 KiB failed response, not the whole body.
      assert.ok(stats.waiting.bytes <= 6 * (8 * 1024 + 1024 + 512), `${stats.waiting.bytes} bytes waiting for 6 events`);

      // Paused: events appended now are not taken while the first ones wait.
      const received = stats.totals.received;
      const later = Array.from({ length: 10 }, (_, i) => makeEvent({ id: `later-${i}` }, data));
      await s.send(later);
      // "Not taken" has no event to wait for: give the consumer a few fetch rounds to prove it.
      await sleep(kind.name === 'kafka' ? 3000 : 500);
      assert.equal(s.dispatcher.stats().totals.received, received, 'no record taken while over the bound');
      assert.ok(s.dispatcher.stats().waiting.consumptionPaused);

      failing = false;
      const all = [...first, ...later].map((e) => String(e.attributes['id']));
      await waitUntil(() => all.every((id) => subscriber.ids().includes(id)), { ...wait, message: 'every event delivered' });
      const end = s.dispatcher.stats();
      assert.equal(end.totals.deadLettered, 0);
      assert.equal(dls.requests.length, 0);
      assert.equal(end.waiting.consumptionPaused, false);
      assert.ok(end.waiting.pauses >= 1);
      await waitUntil(() => s.dispatcher.stats().waiting.bytes === 0, { ...wait, message: 'nothing waiting' });
    });
  });
}
