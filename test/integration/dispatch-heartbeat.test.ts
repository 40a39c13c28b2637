import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeEgressConfig } from '../helpers/builders.js';
import { answer, eventLogKinds, makeEvent, startScenario, startSubscriber, uniqueEgress } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Slow subscribers never cost the group membership: a delivery that takes longer than
 * the Kafka session timeout (30 s in the adapter) must not starve heartbeats. Had the member been
 * dropped, its partition would be reassigned and the event delivered a second time; so the check
 * is that the slow event arrives exactly once, and the member keeps consuming afterwards.
 */
const KAFKA_SLOW_MS = 35_000;

for (const kind of eventLogKinds) {
  // The in-memory log has no session to lose: a short delay checks the same flow there.
  const SLOW_MS = kind.name === 'kafka' ? KAFKA_SLOW_MS : 2_000;
  describe(`dispatch heartbeats on ${kind.name}`, { timeout: SLOW_MS + kind.timeoutMs * 3 }, () => {
    test(`a subscriber that takes ${SLOW_MS / 1000} s per event does not cause a rebalance`, async (t) => {
      const sub = await startSubscriber(t);
      sub.respond(async (req, res) => {
        if (req.headers['ce-id'] === 'slow') await sleep(SLOW_MS);
        answer(res, 200);
      });
      const s = await startScenario(t, kind, {
        egresses: [uniqueEgress('slow', { destination: sub.url, deliveryOrder: 'ordered', egressConfig: makeEgressConfig({ timeoutMs: SLOW_MS * 2 }) })],
      });
      await s.send([makeEvent({ id: 'slow' }), makeEvent({ id: 'next' })]);
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 2, { timeoutMs: SLOW_MS + kind.timeoutMs, message: 'both delivered' });
      await s.send([makeEvent({ id: 'after' })]);
      await waitUntil(() => sub.ids().includes('after'), { timeoutMs: kind.timeoutMs, message: 'still consuming' });
      assert.deepEqual(sub.ids(), ['slow', 'next', 'after']);
    });
  });
}
