import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeEgressConfig } from '../helpers/builders.js';
import { answer, eventLogKinds, makeEvent, startScenario, startSubscriber, uniqueEgress } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Dead letters: an event the subscriber will not take goes to the dead-letter sink with
 * Knative's marks and ours; and when there is no sink, or the sink fails too, it is held — never
 * dropped, never committed — until someone takes it.
 *
 *   topic ──▶ dispatcher ──POST──▶ subscriber (fails)
 *                  └──────POST──▶ dead-letter sink (scripted: fails, then recovers)
 */
for (const kind of eventLogKinds) {
  const wait = { timeoutMs: kind.timeoutMs };

  describe(`dispatch dead letters on ${kind.name}`, { timeout: kind.timeoutMs * 4, concurrency: 2 }, () => {
    test('the dead-lettered event carries the error extensions and is otherwise unchanged', async (t) => {
      const subscriber = await startSubscriber(t);
      const longBody = 'x'.repeat(3000);
      subscriber.respond((_req, res) => answer(res, 500, { 'content-type': 'text/plain' }, longBody));
      const dls = await startSubscriber(t);
      const egress = uniqueEgress('dead', { destination: `${subscriber.url}/orders`, egressConfig: makeEgressConfig({ retry: 1, backoffDelayMs: 10, deadLetter: dls.url }) });
      const s = await startScenario(t, kind, { egresses: [egress] });
      const event = makeEvent({ type: 'order.created', subject: 'o-1', partitionkey: 'k1', knativebrokerttl: 17 }, '{"order":1}');
      await s.send([event]);

      await waitUntil(() => dls.requests.length === 1 && s.dispatcher.stats().totals.deadLettered === 1, { ...wait, message: 'dead letter' });
      const [dead] = dls.events();
      assert.ok(dead);
      const { knativeerrordest, knativeerrorcode, knativeerrordata, knativeerrortrigger, knativeerrorbroker, ...rest } = dead.attributes;
      assert.equal(knativeerrordest, `${subscriber.url}/orders`);
      assert.equal(knativeerrorcode, '500');
      assert.equal(Buffer.from(String(knativeerrordata), 'base64').toString(), longBody.slice(0, 1024));
      assert.equal(knativeerrortrigger, `${egress.reference.namespace}/${egress.reference.name}`);
      assert.equal(knativeerrorbroker, `${s.broker.reference.namespace}/${s.broker.reference.name}`);
      // The broker's TTL never leaves the broker; nothing else changed (HTTP
      // carries every attribute as a string).
      assert.equal(Object.hasOwn(rest, 'knativebrokerttl'), false);
      const { knativebrokerttl: _ttl, ...sent } = event.attributes;
      assert.deepEqual(rest, Object.fromEntries(Object.entries(sent).map(([k, v]) => [k, String(v)])));
      assert.equal(dead.data?.toString(), '{"order":1}');
    });

    test('a subscription is marked with knativeerrorsubscription', async (t) => {
      const subscriber = await startSubscriber(t);
      subscriber.respond((_req, res) => answer(res, 403));
      const dls = await startSubscriber(t);
      const base = uniqueEgress('audit', { destination: subscriber.url, egressConfig: makeEgressConfig({ deadLetter: dls.url }) });
      const egress = { ...base, reference: { ...base.reference, kind: 'Subscription' } };
      const s = await startScenario(t, kind, { egresses: [egress] });
      await s.send([makeEvent()]);
      await waitUntil(() => dls.requests.length === 1, { ...wait, message: 'dead letter' });
      assert.equal(dls.requests[0]?.headers['ce-knativeerrorsubscription'], `${egress.reference.namespace}/${egress.reference.name}`);
      assert.equal(dls.requests[0]?.headers['ce-knativeerrortrigger'], undefined);
    });

    test('a failing dead-letter sink: the event is held and not committed (a restart still has it), then dead-lettered once the sink recovers', async (t) => {
      const subscriber = await startSubscriber(t);
      subscriber.respond((_req, res) => answer(res, 500));
      const dls = await startSubscriber(t);
      let sinkUp = false;
      dls.respond((_req, res) => answer(res, sinkUp ? 202 : 503));
      const egress = uniqueEgress('held', { destination: subscriber.url, egressConfig: makeEgressConfig({ retry: 1, backoffDelayMs: 10, deadLetter: dls.url }) });
      const s = await startScenario(t, kind, { egresses: [egress], config: { stallBackoffBaseMs: 20, maxStallBackoffMs: 100 } });
      const event = makeEvent({ id: 'held-1' });
      await s.send([event]);

      await waitUntil(() => dls.requests.length >= 4, { ...wait, message: 'sink attempts' });
      const stats = s.dispatcher.stats();
      assert.equal(stats.totals.deadLettered, 0);
      assert.equal(stats.totals.held, 1);
      assert.ok(stats.totals.heldRounds >= 1);

      // A restart (SIGTERM): the held event is abandoned at the deadline, uncommitted, so the next
      // dispatcher reads it again and keeps trying.
      await s.restart({ shutdownDeadlineMs: 50 });
      const before = dls.requests.length;
      await waitUntil(() => dls.requests.length >= before + 2, { ...wait, message: 'sink attempts after the restart' });
      assert.ok(subscriber.requests.length >= 2);

      sinkUp = true;
      await waitUntil(() => s.dispatcher.stats().totals.deadLettered === 1, { ...wait, message: 'dead-lettered after recovery' });
      assert.equal(s.dispatcher.stats().totals.held, 0);
      assert.equal(dls.events().at(-1)?.attributes['id'], 'held-1');

      // Now it is done and committed: after another restart nothing more comes.
      await s.restart();
      await s.send([makeEvent({ id: 'marker' })]);
      await waitUntil(() => subscriber.ids().includes('marker'), { ...wait, message: 'marker' });
      await waitUntil(() => dls.ids().includes('marker'), { ...wait, message: 'marker dead-lettered' });
      assert.equal(subscriber.ids().filter((id) => id === 'held-1').length, subscriber.ids().indexOf('marker'));
      assert.equal(dls.requests.filter((r) => r.headers['ce-id'] === 'held-1' && r.at > (dls.requests.find((q) => q.headers['ce-id'] === 'marker')?.at ?? 0)).length, 0);
    });

    test('no dead-letter sink: held until the subscriber takes it (never dropped)', async (t) => {
      const subscriber = await startSubscriber(t);
      let up = false;
      subscriber.respond((_req, res) => answer(res, up ? 200 : 400));
      const s = await startScenario(t, kind, {
        egresses: [uniqueEgress('no-dls', { destination: subscriber.url, egressConfig: makeEgressConfig({ retry: 0 }) })],
        config: { stallBackoffBaseMs: 20, maxStallBackoffMs: 100 },
      });
      await s.send([makeEvent({ id: 'keep-me' })]);
      await waitUntil(() => subscriber.requests.length >= 3, { ...wait, message: 'held attempts' });
      assert.equal(s.dispatcher.stats().totals.held, 1);
      up = true;
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 1, { ...wait, message: 'delivered at last' });
      assert.equal(s.dispatcher.stats().totals.held, 0);
    });
  });
}
