import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../core/logger.js';
import { REPLAY_EXTENSION } from '../../dispatcher/dispatch.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/main.js';
import { FileRewindHistory } from '../../dispatcher/rewind/history.js';
import { answer, eventLogKinds, makeEvent, startScenario, startSubscriber, uniqueEgress } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Rewind and skip while the dispatcher runs (dispatcher/rewind/): a rewind to a time re-delivers
 * exactly the events from that time on, marked as replays, to that trigger only, while new events
 * keep flowing; a skip drops nothing after its target; a dry run and a refused move change nothing.
 */
for (const kind of eventLogKinds) {
  const wait = { timeoutMs: kind.timeoutMs };

  describe(`rewind and skip on ${kind.name}`, { timeout: kind.timeoutMs * 4, concurrency: 2 }, () => {
    test('rewind to a time re-delivers exactly the events from then on, to that trigger only, while events flow', async (t) => {
      const a = await startSubscriber(t);
      const b = await startSubscriber(t);
      const egressA = uniqueEgress('rewound', { destination: a.url });
      const egressB = uniqueEgress('untouched', { destination: b.url });
      const s = await startScenario(t, kind, { partitions: 2, egresses: [egressA, egressB] });
      const old = Array.from({ length: 6 }, (_, i) => makeEvent({ id: `old-${i}` }));
      await s.send(old);
      await waitUntil(() => a.ids().length === 6 && b.ids().length === 6, { ...wait, message: 'old events delivered' });
      await sleep(50);
      const at = Date.now();
      await sleep(50);
      const recent = Array.from({ length: 5 }, (_, i) => makeEvent({ id: `new-${i}` }));
      await s.send(recent);
      await waitUntil(() => a.ids().length === 11 && b.ids().length === 11, { ...wait, message: 'new events delivered' });

      // Events keep coming while the rewind runs.
      let flowing = true;
      const live: string[] = [];
      const sender = (async () => {
        for (let i = 0; flowing; i++) {
          live.push(`live-${i}`);
          await s.send([makeEvent({ id: `live-${i}` })]);
          await sleep(20);
        }
      })();
      const result = await s.dispatcher.rewinds.rewind({ namespace: 'default', name: egressA.reference.name, mode: 'rewind', to: new Date(at).toISOString(), dryRun: false, confirm: false, who: 'test' });
      flowing = false;
      await sender;
      assert.equal(result.skipped, 0);
      assert.ok(result.redelivered >= 5, `redelivered ${result.redelivered}`);

      const replays = (): string[] => a.events().filter((e) => e.attributes[REPLAY_EXTENSION] === true || e.attributes[REPLAY_EXTENSION] === 'true').map((e) => String(e.attributes['id']));
      await waitUntil(() => new Set(replays()).size >= result.redelivered && live.every((id) => a.ids().includes(id) && b.ids().includes(id)), { ...wait, message: 'replays and live events delivered' });
      await sleep(200);
      const replayed = new Set(replays());
      assert.equal(replayed.size, result.redelivered, 'as many replays as the rewind said');
      for (const e of recent) assert.ok(replayed.has(String(e.attributes['id'])), `${String(e.attributes['id'])} replayed`);
      for (const id of replayed) assert.ok(!id.startsWith('old-'), `${id} is from before the time`);
      for (const e of old) assert.equal(a.ids().filter((id) => id === e.attributes['id']).length, 1, 'old events once');
      // The other trigger saw each event once, and no replay.
      assert.deepEqual([...b.ids()].sort(), [...new Set(b.ids())].sort());
      assert.ok(b.events().every((e) => e.attributes[REPLAY_EXTENSION] === undefined));
      assert.equal(s.dispatcher.rewinds.records('default', egressA.reference.name).length, 1);
      assert.equal(s.dispatcher.rewinds.records('default', egressA.reference.name)[0]!.who, 'test');
    });

    test('the record of rewinds outlives the dispatcher when it has a store', async (t) => {
      const subscriber = await startSubscriber(t);
      const egress = uniqueEgress('recorded', { destination: subscriber.url });
      const s = await startScenario(t, kind, { egresses: [egress], startDispatcher: false });
      const dir = await mkdtemp(path.join(tmpdir(), 'kb-rewinds-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const store = new FileRewindHistory(path.join(dir, 'rewinds.json'));
      const start = async (): Promise<RunningDispatcher> => {
        const d = await startDispatcher({ config: s.config, log: s.log, contracts: s.contracts, logger: silentLogger(), rewindHistory: store });
        t.after(() => d.close());
        return d;
      };
      const first = await start();
      await s.send([makeEvent({ id: 'kept' })]);
      await waitUntil(() => subscriber.ids().length === 1, { ...wait, message: 'delivered' });
      await first.rewinds.rewind({ namespace: 'default', name: egress.reference.name, mode: 'rewind', to: 'earliest', dryRun: false, confirm: false, who: 'carol' });
      await first.close();
      const second = await start();
      const records = second.rewinds.records('default', egress.reference.name);
      assert.deepEqual(records.map((r) => [r.who, r.to, r.redelivered]), [['carol', 'earliest', 1]]);
      assert.equal(second.rewinds.records('default', 'other').length, 0);
    });

    test('skip to a time drops only what is before it; dry run and an unconfirmed skip change nothing', async (t) => {
      const subscriber = await startSubscriber(t);
      let up = false;
      subscriber.respond((_req, res) => answer(res, up ? 200 : 503));
      const egress = uniqueEgress('skipped', { destination: subscriber.url });
      const s = await startScenario(t, kind, { egresses: [egress], config: { shutdownDeadlineMs: 200 } });
      await s.send(Array.from({ length: 120 }, (_, i) => makeEvent({ id: `stale-${i}` })));
      await sleep(50);
      const at = Date.now();
      await sleep(50);
      await s.send(Array.from({ length: 4 }, (_, i) => makeEvent({ id: `fresh-${i}` })));
      await waitUntil(() => subscriber.requests.length > 0, { ...wait, message: 'deliveries being tried' });
      const request = { namespace: 'default', name: egress.reference.name, mode: 'skip' as const, to: new Date(at).toISOString(), who: 'test' };
      const committed = async (): Promise<unknown> => (await s.log.groupLag!(egress.consumerGroup, [s.topic])).map((l) => l.committed);
      const before = await committed();

      const dry = await s.dispatcher.rewinds.rewind({ ...request, dryRun: true, confirm: false });
      assert.equal(dry.dryRun, true);
      assert.equal(dry.skipped, 120);
      assert.deepEqual(dry.moves.map((m) => [m.current, m.target]), [['0', '120']]);
      await assert.rejects(s.dispatcher.rewinds.rewind({ ...request, dryRun: false, confirm: false }), (error: { code?: string }) => error.code === 'CONFIRMATION_REQUIRED');
      assert.deepEqual(await committed(), before, 'nothing moved');
      assert.equal(s.dispatcher.rewinds.records('default', egress.reference.name).length, 0);

      const done = await s.dispatcher.rewinds.rewind({ ...request, dryRun: false, confirm: true });
      assert.equal(done.skipped, 120);
      up = true;
      await waitUntil(() => ['fresh-0', 'fresh-1', 'fresh-2', 'fresh-3'].every((id) => subscriber.events().some((e) => e.attributes['id'] === id && subscriber.requests.length > 0)), { ...wait, message: 'fresh events delivered' });
      const deliveredOk = subscriber.ids();
      assert.ok(deliveredOk.length > 0);
    });

    test('a second rewind while one runs, or a group with another member, is refused and changes nothing', async (t) => {
      const subscriber = await startSubscriber(t);
      const egress = uniqueEgress('contended', { destination: subscriber.url });
      const s = await startScenario(t, kind, { egresses: [egress] });
      await s.send(Array.from({ length: 3 }, () => makeEvent()));
      await waitUntil(() => subscriber.ids().length === 3, { ...wait, message: 'delivered' });
      const request = { namespace: 'default', name: egress.reference.name, mode: 'rewind' as const, to: 'earliest', dryRun: false, confirm: false, who: 'test' };
      const outcomes = await Promise.allSettled([s.dispatcher.rewinds.rewind(request), s.dispatcher.rewinds.rewind(request)]);
      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
      const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      assert.equal((refused.reason as { code?: string }).code, 'GROUP_BUSY');
      await waitUntil(() => subscriber.ids().length === 6, { ...wait, message: 'one rewind re-delivered the three' });

      // Another member of the group (another dispatcher): the move is refused, and this one goes on.
      const other = await s.log.consume({ groupId: egress.consumerGroup, topics: [s.topic], onRecord: (r) => r.done() });
      t.after(() => other.close());
      await assert.rejects(s.dispatcher.rewinds.rewind(request), (error: { code?: string }) => error.code === 'GROUP_BUSY');
      // Sent once the other member has left: while it is in the group it may own the partition,
      // and it marks what it reads done, so the event would be its own and never reach the subscriber.
      await other.close();
      await s.send([makeEvent({ id: 'after-refusal' })]);
      await waitUntil(() => subscriber.ids().includes('after-refusal'), { ...wait, message: 'the egress runs again' });
    });
  });
}
