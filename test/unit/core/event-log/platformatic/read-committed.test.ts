import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCommitted, type AbortedTransaction, type BatchHead } from '../../../../../core/event-log/platformatic/read-committed.js';

/** Which batches of a partition a read-committed consumer hands out, for a fetch's aborted list. */

const marker = (type: 'commit' | 'abort'): Buffer => Buffer.from([0, 0, 0, type === 'abort' ? 0 : 1]);

type Row = readonly [offset: number, kind: 'plain' | 'txn' | 'commit' | 'abort', producer: number, count?: number];

function batch([offset, kind, producer, count = 1]: Row): BatchHead {
  const attributes = kind === 'plain' ? 0 : kind === 'txn' ? 0x10 : 0x30;
  const key = kind === 'commit' || kind === 'abort' ? marker(kind) : Buffer.from('k');
  return { firstOffset: BigInt(offset), lastOffsetDelta: count - 1, attributes, producerId: BigInt(producer), records: Array.from({ length: count }, () => ({ key })) };
}

const cases: { name: string; batches: readonly Row[]; aborted?: readonly [producer: number, firstOffset: number][]; kept: readonly number[] }[] = [
  { name: 'no transactions: everything', batches: [[0, 'plain', -1, 3], [3, 'plain', -1]], kept: [0, 3] },
  { name: 'a committed transaction: its records, not its marker', batches: [[0, 'txn', 7, 2], [2, 'commit', 7], [3, 'plain', -1]], kept: [0, 3] },
  {
    name: 'an aborted transaction: neither its records nor its marker',
    batches: [[0, 'txn', 7, 2], [2, 'commit', 7], [3, 'txn', 7, 2], [5, 'abort', 7], [6, 'txn', 7], [7, 'commit', 7]],
    aborted: [[7, 3]], kept: [0, 6],
  },
  {
    name: 'two producers interleaved, one aborts: the other\'s records stay',
    batches: [[0, 'txn', 7], [1, 'txn', 8], [2, 'txn', 7], [3, 'abort', 7], [4, 'commit', 8], [5, 'plain', -1]],
    aborted: [[7, 0]], kept: [1, 5],
  },
  {
    name: 'the aborted list out of order, two aborts of one producer',
    batches: [[0, 'txn', 7], [1, 'abort', 7], [2, 'txn', 7], [3, 'commit', 7], [4, 'txn', 7], [5, 'abort', 7]],
    aborted: [[7, 4], [7, 0]], kept: [2],
  },
  {
    name: 'a fetch that starts inside an aborted transaction (it began before the fetch offset)',
    batches: [[3, 'txn', 7], [4, 'abort', 7], [5, 'plain', -1]],
    aborted: [[7, 1]], kept: [5],
  },
  { name: 'an aborted transaction past this answer does not touch it', batches: [[0, 'txn', 7], [1, 'commit', 7]], aborted: [[7, 10]], kept: [0] },
];

for (const c of cases) {
  test(`readCommitted: ${c.name}`, () => {
    const aborted: AbortedTransaction[] | undefined = c.aborted?.map(([producerId, firstOffset]) => ({ producerId: BigInt(producerId), firstOffset: BigInt(firstOffset) }));
    const keep = readCommitted(aborted);
    assert.deepEqual(c.batches.map(batch).filter(keep).map((b) => Number(b.firstOffset)), c.kept);
  });
}
