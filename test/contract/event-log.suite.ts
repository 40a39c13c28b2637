import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AppendResult, ConsumedRecord, EventLog } from '../../core/event-log/port.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';

/**
 * The event log port's behaviour, written once and run against every adapter
 * (memory.test.ts, kafka.test.ts): the data plane may be handed either without noticing.
 */
export interface EventLogFactory {
  /** A fresh log, closed when the test ends. */
  create(t: { after(fn: () => Promise<void>): void }): EventLog;
  /** Generous waits for a real broker on a busy machine. */
  readonly timeoutMs: number;
}

const text = (b: Buffer | null): string => (b === null ? '' : b.toString('utf8'));

/**
 * The records handed out last for each value. A rebalance (rare, but a loaded machine can cause
 * one) hands records out again; only the latest copy of each is live, so tests act on those.
 */
function latestByValue(records: readonly ConsumedRecord[]): Map<string, ConsumedRecord> {
  return new Map(records.map((r) => [text(r.value), r]));
}

/** Collects records handed to a consumer; `autoDone` marks each done as it arrives. */
function collector(autoDone = true): { records: ConsumedRecord[]; onRecord: (r: ConsumedRecord) => void } {
  const records: ConsumedRecord[] = [];
  return {
    records,
    onRecord: (r) => {
      records.push(r);
      if (autoDone) r.done();
    },
  };
}

export function describeEventLog(name: string, factory: EventLogFactory): void {
  const wait = { timeoutMs: factory.timeoutMs };

  describe(`event log contract: ${name}`, () => {
    test('appending to a missing topic fails with TOPIC_NOT_FOUND', async (t) => {
      const log = factory.create(t);
      await assert.rejects(log.append(uniqueName('missing'), [{ value: Buffer.from('x') }]), (error: { code?: string; message: string }) => {
        assert.equal(error.code, 'TOPIC_NOT_FOUND');
        assert.match(error.message, /does not exist/);
        return true;
      });
    });

    test('ensureTopic is idempotent and describeTopic reports partitions', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('topics');
      assert.equal(await log.describeTopic(topic), undefined);
      await log.ensureTopic(topic, { partitions: 3, replicationFactor: 1 });
      await log.ensureTopic(topic, { partitions: 3, replicationFactor: 1 });
      assert.deepEqual(await log.describeTopic(topic), { name: topic, partitions: 3 });
      await log.deleteTopic(topic);
      await waitUntil(async () => (await log.describeTopic(topic)) === undefined, { ...wait, message: 'topic deleted' });
      await log.deleteTopic(topic); // a missing topic is not an error
    });

    test('append resolves only once the record is readable', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('durable');
      await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
      const [result] = await log.append(topic, [{ key: Buffer.from('k'), value: Buffer.from('hello'), headers: { ce_id: Buffer.from('1') } }]);
      assert.equal(result?.partition, 0);
      assert.equal(result?.offset, '0');
      const seen = [];
      for await (const record of log.read(topic)) seen.push(record);
      assert.equal(seen.length, 1);
      assert.equal(text(seen[0]!.value), 'hello');
      assert.equal(text(seen[0]!.key), 'k');
      assert.equal(seen[0]!.headers['ce_id']?.toString(), '1');
    });

    test('records of one key keep their order on one partition', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('order');
      await log.ensureTopic(topic, { partitions: 4, replicationFactor: 1 });
      const results: AppendResult[] = [];
      for (let i = 0; i < 20; i++) results.push(...(await log.append(topic, [{ key: Buffer.from(`key-${i % 2}`), value: Buffer.from(String(i)) }])));
      const partitionsOf = (parity: number): Set<number> => new Set(results.filter((_, i) => i % 2 === parity).map((r) => r.partition));
      assert.equal(partitionsOf(0).size, 1);
      assert.equal(partitionsOf(1).size, 1);
      const c = collector();
      const consumer = await log.consume({ groupId: uniqueName('g'), topics: [topic], start: 'earliest', onRecord: c.onRecord });
      t.after(() => consumer.close());
      await waitUntil(() => c.records.length === 20, { ...wait, message: '20 records' });
      for (const parity of [0, 1]) {
        const values = c.records.filter((r) => text(r.key) === `key-${parity}`).map((r) => Number(text(r.value)));
        assert.deepEqual(values, [...values].sort((a, b) => a - b));
        assert.equal(values.length, 10);
      }
    });

    test('two groups each see every record', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('fanout');
      await log.ensureTopic(topic, { partitions: 2, replicationFactor: 1 });
      await log.append(topic, Array.from({ length: 10 }, (_, i) => ({ value: Buffer.from(String(i)) })));
      const a = collector();
      const b = collector();
      const ca = await log.consume({ groupId: uniqueName('ga'), topics: [topic], start: 'earliest', onRecord: a.onRecord });
      const cb = await log.consume({ groupId: uniqueName('gb'), topics: [topic], start: 'earliest', onRecord: b.onRecord });
      t.after(async () => {
        await ca.close();
        await cb.close();
      });
      await waitUntil(() => a.records.length === 10 && b.records.length === 10, { ...wait, message: 'both groups' });
      assert.deepEqual(a.records.map((r) => text(r.value)).sort(), b.records.map((r) => text(r.value)).sort());
    });

    test('a new group at latest starts after what is already there; initGroup fixes the position', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('latest');
      await log.ensureTopic(topic, { partitions: 2, replicationFactor: 1 });
      await log.append(topic, [{ value: Buffer.from('old') }]);
      const groupId = uniqueName('g');
      await log.initGroup(groupId, topic, 'latest');
      // Written after the position was fixed but before any member joined: must be seen.
      await log.append(topic, [{ value: Buffer.from('new-1') }]);
      const c = collector();
      const consumer = await log.consume({ groupId, topics: [topic], start: 'latest', onRecord: c.onRecord });
      t.after(() => consumer.close());
      await log.append(topic, [{ value: Buffer.from('new-2') }]);
      await waitUntil(() => c.records.length >= 2, { ...wait, message: 'new records' });
      assert.deepEqual(c.records.map((r) => text(r.value)).sort(), ['new-1', 'new-2']);
    });

    test('only the contiguous prefix of done records is committed', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('prefix');
      await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
      await log.append(topic, ['r0', 'r1', 'r2', 'r3'].map((v) => ({ value: Buffer.from(v) })));
      const groupId = uniqueName('g');
      const first = collector(false);
      const c1 = await log.consume({ groupId, topics: [topic], start: 'earliest', onRecord: first.onRecord });
      await waitUntil(() => latestByValue(first.records).size === 4, { ...wait, message: '4 records' });
      const live = latestByValue(first.records);
      live.get('r0')!.done();
      live.get('r2')!.done(); // done before r1: commits nothing past r0
      live.get('r3')!.done();
      await c1.close();
      const second = collector();
      const c2 = await log.consume({ groupId, topics: [topic], start: 'earliest', onRecord: second.onRecord });
      t.after(() => c2.close());
      await waitUntil(() => second.records.length >= 3, { ...wait, message: 'redelivery from r1' });
      assert.deepEqual(second.records.slice(0, 3).map((r) => text(r.value)), ['r1', 'r2', 'r3']);
    });

    test('closing commits completed work: a restarted member gets nothing twice', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('close');
      await log.ensureTopic(topic, { partitions: 2, replicationFactor: 1 });
      await log.append(topic, Array.from({ length: 6 }, (_, i) => ({ value: Buffer.from(String(i)) })));
      const groupId = uniqueName('g');
      const first = collector();
      const c1 = await log.consume({ groupId, topics: [topic], start: 'earliest', commitIntervalMs: 60_000, onRecord: first.onRecord });
      await waitUntil(() => latestByValue(first.records).size === 6, { ...wait, message: '6 records' });
      await c1.close();
      await log.append(topic, [{ value: Buffer.from('after') }]);
      const second = collector();
      const c2 = await log.consume({ groupId, topics: [topic], start: 'earliest', onRecord: second.onRecord });
      t.after(() => c2.close());
      await waitUntil(() => second.records.length >= 1, { ...wait, message: 'the new record' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual([...new Set(second.records.map((r) => text(r.value)))], ['after']);
    });

    test('records not done are redelivered to the member that takes over', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('takeover');
      await log.ensureTopic(topic, { partitions: 2, replicationFactor: 1 });
      await log.append(topic, Array.from({ length: 8 }, (_, i) => ({ value: Buffer.from(String(i)) })));
      const groupId = uniqueName('g');
      const first = collector(false);
      const c1 = await log.consume({ groupId, topics: [topic], start: 'earliest', onRecord: first.onRecord });
      await waitUntil(() => latestByValue(first.records).size === 8, { ...wait, message: '8 records' });
      // Half done, half in flight when the member leaves.
      for (const r of latestByValue(first.records).values()) if (Number(text(r.value)) % 2 === 0) r.done();
      await c1.close();
      const second = collector();
      const c2 = await log.consume({ groupId, topics: [topic], start: 'earliest', onRecord: second.onRecord });
      t.after(() => c2.close());
      const odd = ['1', '3', '5', '7'];
      await waitUntil(() => odd.every((v) => second.records.some((r) => text(r.value) === v)), { ...wait, message: 'odd records again' });
    });

    test('two members of one group share the partitions without double delivery', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('share');
      await log.ensureTopic(topic, { partitions: 4, replicationFactor: 1 });
      const groupId = uniqueName('g');
      const a = collector();
      const b = collector();
      const ca = await log.consume({ groupId, topics: [topic], start: 'earliest', onRecord: a.onRecord });
      const cb = await log.consume({ groupId, topics: [topic], start: 'earliest', onRecord: b.onRecord });
      t.after(async () => {
        await ca.close();
        await cb.close();
      });
      // Steady state: wait until a probe on every partition has been seen by someone.
      let probes = 0;
      await waitUntil(async () => {
        // Unkeyed records go round-robin: four of them touch every partition.
        await log.append(topic, [0, 1, 2, 3].map(() => ({ value: Buffer.from(`probe-${probes++}`) })));
        const seen = new Set([...a.records, ...b.records].map((r) => r.partition));
        return seen.size === 4 && a.records.length > 0 && b.records.length > 0;
      }, { ...wait, intervalMs: 500, message: 'both members consuming' });
      // The last probes may still be on their way: wait for every one, or they would count below.
      const probesIn = (): number => new Set([...a.records, ...b.records].map((r) => text(r.value)).filter((v) => v.startsWith('probe-'))).size;
      await waitUntil(() => probesIn() === probes, { ...wait, message: `all ${probes} probes` });
      a.records.length = 0;
      b.records.length = 0;
      await log.append(topic, Array.from({ length: 40 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) })));
      await waitUntil(() => a.records.length + b.records.length >= 40, { ...wait, message: '40 records' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const values = [...a.records, ...b.records].map((r) => text(r.value));
      assert.equal(values.length, 40);
      assert.equal(new Set(values).size, 40);
      assert.ok(a.records.length > 0 && b.records.length > 0, 'both members got records');
      const pa = new Set(a.records.map((r) => r.partition));
      assert.ok(b.records.every((r) => !pa.has(r.partition)), 'no partition has two owners');
    });

    test('a member that keeps a partition across a rebalance does not redeliver its done records', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('keep');
      await log.ensureTopic(topic, { partitions: 2, replicationFactor: 1 });
      // Keyed, so both partitions get some.
      await log.append(topic, Array.from({ length: 8 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`r${i}`) })));
      const groupId = uniqueName('g');
      const a = collector(false);
      const revoked: number[] = [];
      // No periodic commit: what is done must survive the rebalance without one.
      const ca = await log.consume({
        groupId, topics: [topic], start: 'earliest', commitIntervalMs: 60_000, onRecord: a.onRecord,
        onRevoked: (partitions) => revoked.push(...partitions.map((p) => p.partition)),
      });
      await waitUntil(() => latestByValue(a.records).size === 8, { ...wait, message: '8 records' });
      assert.equal(a.records.length, 8, 'nothing handed out twice before the rebalance');
      // Half done before the rebalance, half still in flight across it.
      const before = [...a.records];
      for (const r of before) if (Number(text(r.value).slice(1)) % 2 === 0) r.done();
      const b = collector();
      const cb = await log.consume({ groupId, topics: [topic], start: 'earliest', onRecord: b.onRecord });
      t.after(async () => {
        await ca.close();
        await cb.close();
      });
      await waitUntil(() => revoked.length > 0, { ...wait, message: 'a partition moved to the second member' });
      const kept = 1 - revoked[0]!;
      assert.ok(before.some((r) => r.partition === kept), 'the kept partition had records before the rebalance');
      // Those in flight finish after the join: they must count.
      for (const r of before) if (r.partition === kept) r.done();
      // A fresh record on every partition; the kept one's reaches the first member after anything redelivered.
      await log.append(topic, Array.from({ length: 8 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`probe${i}`) })));
      await waitUntil(() => a.records.some((r) => r.partition === kept && text(r.value).startsWith('probe')), { ...wait, message: 'a probe on the kept partition' });
      const keptValues = a.records.filter((r) => r.partition === kept).map((r) => text(r.value));
      assert.equal(new Set(keptValues).size, keptValues.length, `records of the kept partition handed out twice: ${keptValues.join(', ')}`);
      // And they were committed: after both leave, a new member starts after them.
      for (const r of a.records) r.done();
      await ca.close();
      await cb.close();
      const c = collector();
      const cc = await log.consume({ groupId, topics: [topic], start: 'earliest', onRecord: c.onRecord });
      t.after(() => cc.close());
      await log.append(topic, [{ key: Buffer.from('k0'), value: Buffer.from('last') }]);
      await waitUntil(() => c.records.some((r) => text(r.value) === 'last'), { ...wait, message: 'the last record' });
      assert.deepEqual(c.records.filter((r) => r.partition === kept && text(r.value).startsWith('r')).map((r) => text(r.value)), []);
    });

    test('at most maxInFlight records are out and not done; done ones make room', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('bound');
      await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
      await log.append(topic, Array.from({ length: 50 }, (_, i) => ({ value: Buffer.from(String(i)) })));
      const c = collector(false);
      const consumer = await log.consume({ groupId: uniqueName('g'), topics: [topic], start: 'earliest', maxInFlight: 5, onRecord: c.onRecord });
      t.after(() => consumer.close());
      await waitUntil(() => c.records.length === 5, { ...wait, message: '5 records' });
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(c.records.length, 5, 'no more than the bound while none is done');
      let doneCount = 0;
      while (doneCount < 50) {
        const pending = c.records.slice(doneCount);
        for (const r of pending) r.done();
        doneCount += pending.length;
        if (doneCount < 50) await waitUntil(() => c.records.length > doneCount, { ...wait, message: `more than ${doneCount}` });
      }
      assert.deepEqual(c.records.map((r) => Number(text(r.value))), Array.from({ length: 50 }, (_, i) => i));
    });

    test('pause stops handing out records and resume continues', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('pause');
      await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
      const c = collector();
      const consumer = await log.consume({ groupId: uniqueName('g'), topics: [topic], start: 'earliest', onRecord: c.onRecord });
      t.after(() => consumer.close());
      await log.append(topic, [{ value: Buffer.from('a') }]);
      await waitUntil(() => c.records.length === 1, { ...wait, message: 'first record' });
      consumer.pause();
      await log.append(topic, [{ value: Buffer.from('b') }]);
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal(c.records.length, 1);
      consumer.resume();
      await waitUntil(() => c.records.length === 2, { ...wait, message: 'after resume' });
    });

    test('appends keep working after another topic the log wrote to is deleted', async (t) => {
      const log = factory.create(t);
      const gone = uniqueName('gone');
      const kept = uniqueName('kept');
      await log.ensureTopic(gone, { partitions: 1, replicationFactor: 1 });
      await log.ensureTopic(kept, { partitions: 1, replicationFactor: 1 });
      await log.append(gone, [{ value: Buffer.from('a') }]);
      await log.deleteTopic(gone);
      const [result] = await log.append(kept, [{ value: Buffer.from('b') }]);
      assert.equal(result?.offset, '0');
    });

    test('a 1 MiB record round-trips byte for byte', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('big');
      await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
      const value = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < value.length; i++) value[i] = (i * 31 + 7) & 0xff;
      await log.append(topic, [{ value, headers: { ce_id: Buffer.from('big') } }]);
      const c = collector();
      const consumer = await log.consume({ groupId: uniqueName('g'), topics: [topic], start: 'earliest', onRecord: c.onRecord });
      t.after(() => consumer.close());
      await waitUntil(() => c.records.length === 1, { ...wait, message: 'the big record' });
      assert.ok(c.records[0]!.value?.equals(value));
    });

    test('deleteGroup forgets committed offsets', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('delgroup');
      await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
      await log.append(topic, [{ value: Buffer.from('x') }]);
      const groupId = uniqueName('g');
      const first = collector();
      const c1 = await log.consume({ groupId, topics: [topic], start: 'earliest', onRecord: first.onRecord });
      await waitUntil(() => first.records.length === 1, { ...wait, message: 'record' });
      await c1.close();
      await log.deleteGroup(groupId);
      await log.deleteGroup(uniqueName('never-existed'));
      const second = collector();
      const c2 = await log.consume({ groupId, topics: [topic], start: 'earliest', onRecord: second.onRecord });
      t.after(() => c2.close());
      await waitUntil(() => second.records.length === 1, { ...wait, message: 'record again from the start' });
    });

    test('read: per-partition start offsets and a limit, up to the end as of the call', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('readopts');
      await log.ensureTopic(topic, { partitions: 2, replicationFactor: 1 });
      // Keys pinned to one partition each: 'a' and 'b' land where the partitioner puts them.
      const placed = await log.append(topic, Array.from({ length: 10 }, (_, i) => ({ key: Buffer.from(i % 2 === 0 ? 'a' : 'b'), value: Buffer.from(String(i)) })));
      const partitionOf = (i: number): number => placed[i]!.partition;
      const all: string[] = [];
      for await (const r of log.read(topic)) all.push(`${r.partition}/${r.offset}/${text(r.value)}`);
      assert.equal(all.length, 10);
      // Partitions in order, offsets in order within each.
      assert.deepEqual(all, [...all].sort((x, y) => { const [px, ox] = x.split('/').map(Number); const [py, oy] = y.split('/').map(Number); return px! - py! || ox! - oy!; }));

      const limited: string[] = [];
      for await (const r of log.read(topic, { limit: 3 })) limited.push(`${r.partition}/${r.offset}/${text(r.value)}`);
      assert.deepEqual(limited, all.slice(0, 3));

      // From offset 3 of 'a's partition and offset 4 of 'b's: the rest of each.
      const from = new Map<number, string>([[partitionOf(0), '3'], [partitionOf(1), '4']]);
      const rest: string[] = [];
      for await (const r of log.read(topic, { from })) rest.push(text(r.value));
      if (partitionOf(0) === partitionOf(1)) assert.deepEqual(rest.length, 6);
      else assert.deepEqual(new Set(rest), new Set(['6', '8', '9']));

      // Past the end: nothing; a limit of 0: nothing.
      const none: unknown[] = [];
      for await (const r of log.read(topic, { from: new Map([[0, '100'], [1, '100']]) })) none.push(r);
      for await (const r of log.read(topic, { limit: 0 })) none.push(r);
      assert.deepEqual(none, []);

      // Records appended after the read began are not part of it.
      const during: string[] = [];
      for await (const r of log.read(topic, { limit: 20 })) {
        if (during.length === 0) await log.append(topic, [{ key: Buffer.from('a'), value: Buffer.from('late') }]);
        during.push(text(r.value));
      }
      assert.equal(during.length, 10);
      assert.ok(!during.includes('late'));
    });

    test('read: a missing topic is TOPIC_NOT_FOUND', async (t) => {
      const log = factory.create(t);
      await assert.rejects(async () => {
        for await (const r of log.read(uniqueName('nope'), { limit: 1 })) void r;
      }, (error: { code?: string }) => error.code === 'TOPIC_NOT_FOUND');
    });

    test('offsetsForTime: per partition the first record at or after a time, else the end; offsetRange: start and end', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('by-time');
      await log.ensureTopic(topic, { partitions: 2, replicationFactor: 1 });
      const [first] = await log.append(topic, [{ key: Buffer.from('k'), value: Buffer.from('old-1') }, { key: Buffer.from('k'), value: Buffer.from('old-2') }]);
      const p = first!.partition;
      const other = 1 - p;
      await new Promise((resolve) => setTimeout(resolve, 30));
      const at = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 30));
      await log.append(topic, [{ key: Buffer.from('k'), value: Buffer.from('new-1') }, { key: Buffer.from('k'), value: Buffer.from('new-2') }]);

      const byPartition = (list: readonly { partition: number; offset: string }[]): Map<number, string> => new Map(list.map((x) => [x.partition, x.offset]));
      const found = byPartition(await log.offsetsForTime!(topic, at));
      assert.equal(found.get(p), String(Number(first!.offset) + 2), 'the first record appended after the time');
      assert.equal(found.get(other), '0', 'an empty partition answers its end');
      assert.equal(byPartition(await log.offsetsForTime!(topic, 0)).get(p), first!.offset, 'a time before everything: the first record');
      assert.equal(byPartition(await log.offsetsForTime!(topic, Date.now() + 3_600_000)).get(p), String(Number(first!.offset) + 4), 'a time after everything: the end');

      const ranges = await log.offsetRange!(topic);
      assert.deepEqual(ranges.find((r) => r.partition === p), { partition: p, start: first!.offset, end: String(Number(first!.offset) + 4) });
      assert.deepEqual(ranges.find((r) => r.partition === other), { partition: other, start: '0', end: '0' });
      await assert.rejects(log.offsetsForTime!(uniqueName('nope'), 0), (error: { code?: string }) => error.code === 'TOPIC_NOT_FOUND');
    });

    test('setGroupOffsets moves a memberless group backwards and forwards, and is refused while a member is in it', async (t) => {
      const log = factory.create(t);
      const topic = uniqueName('set-offsets');
      const groupId = uniqueName('set-offsets-group');
      await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
      await log.append(topic, ['0', '1', '2', '3', '4'].map((v) => ({ value: Buffer.from(v) })));
      await log.initGroup(groupId, topic, 'latest');

      // Backwards: the member starts at offset 1.
      await log.setGroupOffsets!(groupId, topic, [{ partition: 0, offset: '1' }]);
      const c = collector();
      const consumer = await log.consume({ groupId, topics: [topic], onRecord: c.onRecord, commitIntervalMs: 50 });
      await waitUntil(() => c.records.length >= 4, { ...wait, message: 'records from offset 1' });
      assert.deepEqual([...latestByValue(c.records).keys()].sort(), ['1', '2', '3', '4']);

      await assert.rejects(log.setGroupOffsets!(groupId, topic, [{ partition: 0, offset: '0' }]), (error: { code?: string }) => error.code === 'GROUP_BUSY');
      await consumer.close();

      // Forwards past what is there: the next member gets only what comes after.
      await log.setGroupOffsets!(groupId, topic, [{ partition: 0, offset: '5' }]);
      const lag = await log.groupLag!(groupId, [topic]);
      assert.equal(lag[0]?.committed, '5');
      await log.setGroupOffsets!(groupId, topic, [{ partition: 0, offset: '3' }]);
      assert.equal((await log.groupLag!(groupId, [topic]))[0]?.committed, '3', 'and back again');
    });
  });
}
