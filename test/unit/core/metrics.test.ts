import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { egressLag, LagReader, partitionKey, type LagSource } from '../../../core/event-log/lag.js';
import { MemoryEventLog } from '../../../core/event-log/memory.js';
import type { PartitionLag } from '../../../core/event-log/port.js';
import { createMetricsRegistry, dispatchLatency, EventTypeFold } from '../../../core/metrics.js';

describe('EventTypeFold', () => {
  const cases: { name: string; max: number; seen: unknown[]; expect: string[] }[] = [
    { name: 'keeps the first max types', max: 2, seen: ['a', 'b', 'a', 'c', 'b'], expect: ['a', 'b', 'a', 'other', 'b'] },
    { name: 'max 0 folds everything', max: 0, seen: ['a', 'b'], expect: ['other', 'other'] },
    { name: 'no type is an empty label', max: 2, seen: [undefined, '', 7], expect: ['', '', ''] },
    { name: 'a prototype name is a type like any other', max: 3, seen: ['__proto__', 'constructor', '__proto__'], expect: ['__proto__', 'constructor', '__proto__'] },
    { name: 'an over-long type folds', max: 5, seen: ['x'.repeat(129), 'ok'], expect: ['other', 'ok'] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const fold = new EventTypeFold(c.max);
      assert.deepEqual(c.seen.map((t) => fold.label(t)), c.expect);
      assert.ok(fold.size <= c.max);
    });
  }
});

describe('egressLag', () => {
  const source: LagSource = { reference: { kind: 'Trigger', namespace: 'ns', name: 't', uid: 'u' }, consumerGroup: 'g', topics: ['topic'] };
  const offsets = (records: number, oldestTimestamp?: number): PartitionLag => ({ topic: 'topic', partition: 0, committed: '10', end: String(10 + records), records, oldestTimestamp });
  const cases: { name: string; source: LagSource; offsets: PartitionLag[]; records: number; age: number | undefined }[] = [
    { name: 'nothing behind: age 0', source, offsets: [offsets(0)], records: 0, age: 0 },
    { name: 'age from the log when nothing is pending', source, offsets: [offsets(3, 7_000)], records: 3, age: 3 },
    { name: 'pending records win over the log', source: { ...source, pending: new Map([[partitionKey('topic', 0), 9_000]]) }, offsets: [offsets(3, 7_000)], records: 3, age: 1 },
    { name: 'unknown age when neither knows', source, offsets: [offsets(2)], records: 2, age: undefined },
    { name: 'no partitions: no lag', source, offsets: [], records: 0, age: 0 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const lag = egressLag(c.source, c.offsets, 10_000);
      assert.equal(lag.records, c.records);
      assert.equal(lag.oldestAgeSeconds, c.age);
      assert.equal(lag.consumerGroup, 'g');
    });
  }
});

describe('LagReader on the in-memory log', () => {
  test('records past the committed offset, cached for ttlMs, with the age of the record at the committed offset', async (t) => {
    let now = 1_000_000;
    const log = new MemoryEventLog({ now: () => now });
    t.after(() => log.close());
    await log.ensureTopic('t', { partitions: 1, replicationFactor: 1 });
    await log.initGroup('g', 't', 'latest');
    await log.append('t', [{ value: Buffer.from('1') }]);
    now += 4000;
    await log.append('t', [{ value: Buffer.from('2') }]);
    const reader = new LagReader(log, () => [{ reference: { kind: 'Trigger', namespace: 'ns', name: 'x', uid: 'x' }, consumerGroup: 'g', topics: ['t'] }], { ttlMs: 1000, now: () => now });
    const [first] = await reader.read();
    assert.equal(first?.records, 2);
    assert.equal(first?.oldestAgeSeconds, 4);
    await log.append('t', [{ value: Buffer.from('3') }]);
    assert.equal((await reader.read())[0]?.records, 2, 'cached');
    now += 1000;
    assert.equal((await reader.read())[0]?.records, 3, 'read again after ttlMs');
    assert.deepEqual(await log.groupLag('no-such-group', ['t']), [{ topic: 't', partition: 0, committed: undefined, end: '3', records: 0, oldestTimestamp: undefined }]);
  });
});

describe('metrics registry', () => {
  test('each registry is its own; the dispatch histogram is shared by name within one', async () => {
    const a = createMetricsRegistry({ processMetrics: false });
    const b = createMetricsRegistry({ processMetrics: false });
    assert.equal(dispatchLatency(a), dispatchLatency(a));
    dispatchLatency(a).labels({ kn_broker_name: 'x', http_response_status_code: '202' }).observe(3);
    assert.match(await a.metrics(), /kn_eventing_dispatch_latency_ms_count\{kn_broker_name="x",http_response_status_code="202"\} 1/);
    assert.doesNotMatch(await b.metrics(), /kn_eventing_dispatch_latency_ms_count\{/);
  });
});
