import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordTimes } from '../../../../../core/event-log/platformatic/record-time.js';

test('a record\'s time: the batch\'s first plus its delta, or the batch\'s append time when Kafka stamped it', () => {
  const cases: { name: string; attributes: number; deltas: bigint[]; times: number[] }[] = [
    { name: 'create time', attributes: 0, deltas: [0n, 5n, -3n], times: [1000, 1005, 997] },
    { name: 'create time, compressed and transactional', attributes: 0x01 | 0x10, deltas: [0n, 7n], times: [1000, 1007] },
    { name: 'log append time: every record the batch\'s max', attributes: 0x08, deltas: [0n, 5n, -3n], times: [9000, 9000, 9000] },
    { name: 'log append time, compressed', attributes: 0x08 | 0x04, deltas: [2n], times: [9000] },
  ];
  for (const { name, attributes, deltas, times } of cases) {
    const timeOf = recordTimes({ attributes, firstTimestamp: 1000n, maxTimestamp: 9000n });
    assert.deepEqual(deltas.map(timeOf), times, name);
  }
});
