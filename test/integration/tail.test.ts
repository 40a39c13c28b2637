import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { tail, type TailedEvent, type TailStart } from '../../dispatcher/tail/stream.js';
import type { EventPredicate } from '../../core/filters/compile.js';
import { eventLogKinds, makeEvent, startScenario, uniqueEgress } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Tail (dispatcher/tail/stream.ts) on both logs: events appended after it started, with a start
 * time those before, the last N, a filter; and no consumer group is joined or moved meanwhile.
 */
for (const kind of eventLogKinds) {
  const wait = { timeoutMs: kind.timeoutMs };

  describe(`tail on ${kind.name}`, { timeout: kind.timeoutMs * 3 }, () => {
    test('shows events appended after it started, and with a start time or -n those before; moves no consumer group', async (t) => {
      const egress = uniqueEgress('tailed');
      const s = await startScenario(t, kind, { partitions: 2, egresses: [egress], startDispatcher: false });
      await s.send([makeEvent({ id: 'before-1' })]);
      await sleep(50);
      const at = Date.now();
      await sleep(50);
      await s.send([makeEvent({ id: 'before-2', type: 'other.type' }), makeEvent({ id: 'before-3' })]);
      const committed = async (): Promise<unknown> => (await s.log.groupLag!(egress.consumerGroup, [s.topic])).map((l) => [l.partition, l.committed]);
      const groupBefore = await committed();

      const abort = new AbortController();
      t.after(() => abort.abort());
      const loops: Promise<void>[] = [];
      const follow = (start: TailStart, filter?: (id: string, type: string) => boolean): { ids: string[]; seen: TailedEvent[]; positioned: boolean } => {
        const seen: TailedEvent[] = [];
        const predicate = filter === undefined ? undefined : (e: Parameters<EventPredicate>[0]): boolean => filter(String(e.attributes['id']), String(e.attributes['type']));
        // A tail reads only once it has fixed where it starts: its first `read` is the moment it started.
        let positioned = false;
        const watched = new Proxy(s.log, {
          get: (target, key) => {
            if (key === 'read') positioned = true;
            const value: unknown = Reflect.get(target, key, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
        loops.push((async () => {
          for await (const e of tail(watched, s.topic, { start, signal: abort.signal, pollMs: 50, filter: predicate })) seen.push(e);
          // A read still running when the test closes the log fails: only a failure before that counts.
        })().catch((error: unknown) => {
          if (!abort.signal.aborted) throw error;
        }));
        return { seen, get ids() { return seen.map((e) => String(e.event?.attributes['id'])); }, get positioned() { return positioned; } };
      };
      const fromNow = follow({ kind: 'end' });
      const fromTime = follow({ kind: 'time', at });
      const lastTwo = follow({ kind: 'last', count: 2 });
      const filtered = follow({ kind: 'time', at: 0 }, (_id, type) => type === 'test.event');
      // Looking up offsets takes a while on a busy Kafka: "after it started" means after that, not after a fixed time.
      await waitUntil(() => [fromNow, fromTime, lastTwo, filtered].every((f) => f.positioned), { ...wait, message: 'every tail started' });
      await s.send([makeEvent({ id: 'after-1' }), makeEvent({ id: 'after-2' })]);

      await waitUntil(() => fromNow.ids.length === 2 && fromTime.ids.length === 4 && lastTwo.ids.length === 4 && filtered.ids.length === 4, { ...wait, message: 'every tail caught up' });
      await sleep(200);
      assert.deepEqual([...fromNow.ids].sort(), ['after-1', 'after-2']);
      assert.deepEqual([...fromTime.ids].sort(), ['after-1', 'after-2', 'before-2', 'before-3']);
      assert.deepEqual([...lastTwo.ids].sort(), ['after-1', 'after-2', 'before-2', 'before-3']);
      assert.deepEqual([...filtered.ids].sort(), ['after-1', 'after-2', 'before-1', 'before-3']);
      // The broker's hop counter is its own bookkeeping: not shown.
      assert.ok(fromNow.seen.every((e) => e.event !== undefined && e.event.attributes['knativebrokerttl'] === undefined));
      assert.deepEqual(await committed(), groupBefore, "the trigger's group did not move");
      // Each tail ends its read before the log closes: a read cut by the close could leave a connection.
      abort.abort();
      await Promise.all(loops);
    });
  });
}
