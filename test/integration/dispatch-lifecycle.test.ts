import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { answer, eventLogKinds, makeEvent, startScenario, startSubscriber, uniqueEgress } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Egresses come and go with the contract, live, without disturbing the others; and close() (SIGTERM)
 * lets deliveries in progress finish, commits what is done, and loses nothing.
 */
for (const kind of eventLogKinds) {
  const wait = { timeoutMs: kind.timeoutMs };

  describe(`dispatch lifecycle on ${kind.name}`, { timeout: kind.timeoutMs * 6, concurrency: 2 }, () => {
    test('egresses are added, updated and removed live; the others are not disturbed', async (t) => {
      const a = await startSubscriber(t);
      const b = await startSubscriber(t);
      const c = await startSubscriber(t);
      const egressA = uniqueEgress('a', { destination: a.url });
      const s = await startScenario(t, kind, { egresses: [egressA] });
      await s.send([makeEvent({ id: 'e1' })]);
      await waitUntil(() => a.ids().includes('e1'), { ...wait, message: 'e1 at A' });

      // Add B (its group starts at the topic's beginning, as the controller set it).
      const egressB = uniqueEgress('b', { destination: b.url });
      await s.publish([egressA, egressB]);
      await waitUntil(() => s.dispatcher.stats().egresses.find((e) => e.uid === egressB.uid)?.state === 'running', { ...wait, message: 'B running' });
      await s.send([makeEvent({ id: 'e2' })]);
      await waitUntil(() => b.ids().includes('e2') && a.ids().includes('e2'), { ...wait, message: 'e2 at A and B' });
      // B may fetch e1 and e2 together; unordered, they then race to the subscriber: each once, in any order.
      assert.deepEqual([...b.ids()].sort(), ['e1', 'e2']);

      // Update B in place (new destination): same member, no restart, no redelivery.
      await s.publish([egressA, { ...egressB, destination: c.url }]);
      await s.send([makeEvent({ id: 'e3' })]);
      await waitUntil(() => c.ids().includes('e3') && a.ids().includes('e3'), { ...wait, message: 'e3 at C' });
      assert.deepEqual(c.ids(), ['e3']);
      assert.equal(s.dispatcher.stats().egresses.find((e) => e.uid === egressB.uid)?.counters.received, 3, 'B kept its consumer');

      // Remove A: it stops; B (now at C) goes on.
      await s.publish([{ ...egressB, destination: c.url }]);
      await waitUntil(() => s.dispatcher.stats().egresses.every((e) => e.uid !== egressA.uid), { ...wait, message: 'A removed' });
      await s.send([makeEvent({ id: 'e4' })]);
      await waitUntil(() => c.ids().includes('e4'), { ...wait, message: 'e4 at C' });
      // A's consumer was gone before e4 was appended, so nothing can reach A any more: no wait needed.
      assert.deepEqual(a.ids(), ['e1', 'e2', 'e3'], 'A saw each event once, and nothing after its removal');
      assert.deepEqual([...b.ids()].sort(), ['e1', 'e2']);
    });

    test('a change of delivery order restarts the egress in its group, from its committed offset', async (t) => {
      const sub = await startSubscriber(t);
      const egress = uniqueEgress('reorder', { destination: sub.url });
      const s = await startScenario(t, kind, { egresses: [egress] });
      await s.send([makeEvent({ id: 'r1' })]);
      await waitUntil(() => sub.ids().includes('r1'), { ...wait, message: 'r1' });
      await s.publish([{ ...egress, deliveryOrder: 'ordered' }]);
      await waitUntil(() => s.dispatcher.stats().egresses[0]?.state === 'running' && s.dispatcher.stats().egresses[0]?.counters.received === 0, { ...wait, message: 'restarted' });
      await s.send([makeEvent({ id: 'r2' })]);
      await waitUntil(() => sub.ids().includes('r2'), { ...wait, message: 'r2' });
      assert.deepEqual(sub.ids(), ['r1', 'r2']);
    });

    test('an egress whose topic does not exist yet is retried until it does', async (t) => {
      const sub = await startSubscriber(t);
      const egress = uniqueEgress('late-topic', { destination: sub.url });
      const s = await startScenario(t, kind, { egresses: [] });
      const lateTopic = `${s.topic}-late`;
      await s.publish([egress], { topics: [lateTopic] });
      await waitUntil(() => s.dispatcher.stats().egresses[0]?.state === 'retrying', { ...wait, message: 'the egress retrying its start' });
      await s.log.ensureTopic(lateTopic, { partitions: 1, replicationFactor: 1 });
      // As the controller's next pass would: the dispatcher, retrying, may be joining the group at
      // the same moment, and kafkajs then fails the positioning (retriable); the controller tries again.
      await waitUntil(() => s.log.initGroup(egress.consumerGroup, lateTopic, 'earliest').then(() => true), { ...wait, message: 'the group positioned' });
      await waitUntil(() => s.dispatcher.stats().egresses[0]?.state === 'running', { ...wait, message: 'egress started' });
      await s.log.append(lateTopic, [(await import('../../core/cloudevents/kafka-binding.js')).toKafkaRecord(makeEvent({ id: 'late' }))]);
      await waitUntil(() => sub.ids().includes('late'), { ...wait, message: 'delivered' });
    });

    test('graceful shutdown: deliveries in progress finish and are committed; a restart does not repeat them', async (t) => {
      const sub = await startSubscriber(t);
      const responded: string[] = [];
      // Held until the test lets them go, not for a fixed 500 ms: on a busy machine the fifth request
      // arrived after the first ones had already been answered.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      t.after(() => release());
      sub.respond(async (req, res) => {
        await held;
        responded.push(String(req.headers['ce-id']));
        answer(res, 200);
      });
      const s = await startScenario(t, kind, { egresses: [uniqueEgress('slow', { destination: sub.url })], config: { shutdownDeadlineMs: 10_000 } });
      const ids = ['s1', 's2', 's3', 's4', 's5'];
      await s.send(ids.map((id) => makeEvent({ id })));
      // Says what it saw when it times out (once, under load, not all five had come in 60 s).
      await waitUntil(() => {
        if (sub.requests.length !== 5) throw new Error(`requests for ${JSON.stringify(sub.ids())}; dispatcher ${JSON.stringify(s.dispatcher.stats().totals)}`);
        return true;
      }, { ...wait, message: 'all five in flight' });
      assert.equal(responded.length, 0);

      let closed = false;
      const closing = s.dispatcher.close().then(() => (closed = true));
      await sleep(300);
      assert.equal(closed, false, 'close() waits while deliveries are in progress');
      release();
      await closing;
      assert.equal(responded.length, 5, 'close() waited for the deliveries in progress');
      assert.equal(s.dispatcher.stats().egresses.length, 0);

      sub.respond((_req, res) => answer(res, 200));
      await s.start();
      await s.send([makeEvent({ id: 'after' })]);
      await waitUntil(() => sub.ids().includes('after'), { ...wait, message: 'marker' });
      // The five went out side by side (unordered), so they may arrive in any order; each once, then the marker.
      assert.deepEqual([...sub.ids().slice(0, 5)].sort(), ids);
      assert.deepEqual(sub.ids().slice(5), ['after']);
    });

    test('shutdown deadline: a delivery still running is abandoned, not lost — the next dispatcher delivers it', async (t) => {
      const sub = await startSubscriber(t);
      const hung: (() => void)[] = [];
      sub.respond((_req, res) => {
        hung.push(() => answer(res, 200));
      });
      t.after(() => hung.forEach((release) => release()));
      const s = await startScenario(t, kind, { egresses: [uniqueEgress('hung', { destination: sub.url })], config: { shutdownDeadlineMs: 200 } });
      await s.send([makeEvent({ id: 'stuck' })]);
      await waitUntil(() => sub.requests.length === 1, { ...wait, message: 'in flight' });
      await s.dispatcher.close();

      sub.respond((_req, res) => answer(res, 200));
      await s.start();
      await waitUntil(() => sub.requests.length === 2, { ...wait, message: 'redelivered' });
      assert.deepEqual(sub.ids(), ['stuck', 'stuck']);
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 1, { ...wait, message: 'done' });
    });
  });
}
