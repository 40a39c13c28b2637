import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PartitionOffsets } from '../../../../core/event-log/offsets.js';

const cases: { name: string; handed: number[]; done: number[]; commit: number }[] = [
  { name: 'nothing handed out commits the start', handed: [], done: [], commit: 5 },
  { name: 'nothing done commits the start', handed: [5, 6, 7], done: [], commit: 5 },
  { name: 'all done commits past the last', handed: [5, 6, 7], done: [7, 5, 6], commit: 8 },
  { name: 'a gap in done stops the commit', handed: [5, 6, 7, 8], done: [5, 7, 8], commit: 6 },
  { name: 'out-of-order completion counts once contiguous', handed: [5, 6, 7], done: [6, 7], commit: 5 },
  { name: 'offset gaps (compaction) are fine', handed: [5, 9, 12], done: [5, 9], commit: 12 },
  { name: 'duplicate done is harmless', handed: [5, 6], done: [5, 5, 6], commit: 7 },
];

for (const { name, handed, done, commit } of cases) {
  test(`PartitionOffsets: ${name}`, () => {
    const offsets = new PartitionOffsets(5);
    for (const o of handed) offsets.handedOut(o);
    for (const o of done) offsets.done(o);
    assert.equal(offsets.commitPoint(), commit);
    assert.equal(offsets.inFlight(), handed.length - new Set(done.filter((d) => d < commit)).size);
  });
}

test('PartitionOffsets: toCommit reports a point only once it moved', () => {
  const offsets = new PartitionOffsets(0);
  assert.equal(offsets.toCommit(), undefined);
  offsets.handedOut(0);
  offsets.handedOut(1);
  offsets.done(0);
  assert.equal(offsets.toCommit(), 1);
  offsets.markCommitted(1);
  assert.equal(offsets.toCommit(), undefined);
  offsets.done(1);
  assert.equal(offsets.toCommit(), 2);
});

test('PartitionOffsets: a long run stays correct across compaction', () => {
  const offsets = new PartitionOffsets(0);
  for (let i = 0; i < 5000; i++) offsets.handedOut(i);
  for (let i = 4999; i >= 1; i--) offsets.done(i);
  assert.equal(offsets.commitPoint(), 0);
  offsets.done(0);
  assert.equal(offsets.commitPoint(), 5000);
  assert.equal(offsets.inFlight(), 0);
});
