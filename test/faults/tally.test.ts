import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReport, percentile, tally, type Acked, type Delivery } from './tally.js';

const acked = (id: string, at = 0, retried = false): Acked => ({ id, firstAttemptAt: at, retried });
const d = (trigger: string, id: string, at: number): Delivery => ({ trigger, id, at });

test('tally: every pair delivered once is no loss and no duplicate', () => {
  const t = tally([acked('a'), acked('b')], [d('t1', 'a', 10), d('t1', 'b', 30), d('t2', 'a', 20), d('t2', 'b', 40)], ['t1', 't2']);
  assert.deepEqual({ ...t, lostSample: [...t.lostSample] }, {
    acknowledged: 2, delivered: 4, lost: 0, lostSample: [], duplicates: 0, duplicateRatio: 0, producerDuplicates: 0,
    latencyP50Ms: 20, latencyP99Ms: 40, longestGapMs: 20,
  });
});

const cases: { name: string; acked: Acked[]; deliveries: Delivery[]; triggers: string[]; expect: Partial<ReturnType<typeof tally>> }[] = [
  { name: 'an acknowledged event one trigger never got is lost', acked: [acked('a'), acked('b')], deliveries: [d('t1', 'a', 1), d('t2', 'a', 1), d('t2', 'b', 1)], triggers: ['t1', 't2'], expect: { lost: 1, lostSample: ['t1/b'], delivered: 3 } },
  { name: 'a second delivery is a duplicate', acked: [acked('a')], deliveries: [d('t1', 'a', 1), d('t1', 'a', 5)], triggers: ['t1'], expect: { duplicates: 1, duplicateRatio: 1 } },
  { name: 'copies of an event the producer retried are the producer\'s', acked: [acked('a', 0, true)], deliveries: [d('t1', 'a', 1), d('t1', 'a', 5)], triggers: ['t1'], expect: { duplicates: 0, producerDuplicates: 1 } },
  { name: 'deliveries of unacknowledged events and unchecked triggers are not counted', acked: [acked('a')], deliveries: [d('t1', 'a', 1), d('t1', 'x', 2), d('other', 'a', 3)], triggers: ['t1'], expect: { delivered: 1, duplicates: 0, lost: 0 } },
  { name: 'nothing acknowledged: nothing lost', acked: [], deliveries: [], triggers: ['t1'], expect: { acknowledged: 0, lost: 0, duplicateRatio: 0, latencyP99Ms: 0 } },
];
for (const c of cases) {
  test(`tally: ${c.name}`, () => {
    const t = tally(c.acked, c.deliveries, c.triggers);
    for (const [key, value] of Object.entries(c.expect)) assert.deepEqual(t[key as keyof typeof t], value, key);
  });
}

test('tally: the gap is measured on the named triggers only', () => {
  const deliveries = [d('slow', 'a', 0), d('slow', 'b', 60_000), d('fast', 'a', 0), d('fast', 'b', 100)];
  assert.equal(tally([acked('a'), acked('b')], deliveries, ['slow', 'fast'], ['fast']).longestGapMs, 100);
  assert.equal(tally([acked('a'), acked('b')], deliveries, ['slow', 'fast']).longestGapMs, 60_000);
});

test('percentile: nearest rank', () => {
  assert.equal(percentile([], 0.5), 0);
  assert.equal(percentile([5], 0.99), 5);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
  assert.equal(percentile([1, 2, 3, 4], 0.99), 4);
});

test('formatReport: a row per scenario, peak RSS, and the lost events named', () => {
  const t = tally([acked('a')], [], ['t1']);
  const text = formatReport([{ scenario: 's1', tally: t, peakRss: new Map([['dispatcher', 100 * 1024 * 1024]]), seconds: 12 }]);
  assert.match(text, /^scenario\s+acked\s+delivered\s+LOST/);
  assert.match(text, /s1\s+1\s+0\s+1\s/);
  assert.match(text, /s1: dispatcher 100/);
  assert.match(text, /LOST in s1: 1, e\.g\. t1\/a/);
});
