import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeMark, encodeMark, markApplies, type ReplayMark } from '../../../../dispatcher/dead-letters/replay-records.js';

describe('the replay record', () => {
  const mark: ReplayMark = {
    v: 1, topic: 't', partition: 1, offset: '42', eventId: 'a', recordTimestamp: 1000, replayedAt: '2026-11-27T12:00:00.000Z',
    count: 1, target: { kind: 'Trigger', namespace: 'default', name: 'pay' }, destination: 'http://x/pay', outcome: 'delivered',
  };

  test('is keyed by the dead letter’s position and round-trips as JSON', () => {
    const record = encodeMark(mark);
    assert.equal(record.key?.toString(), 't/1/42');
    assert.deepEqual(decodeMark(record.value), mark);
    assert.equal(decodeMark(Buffer.from('{"v":2}')), undefined);
    assert.equal(decodeMark(Buffer.from('not json')), undefined);
  });

  test('applies only to the record it was written for (a topic created again restarts its offsets)', () => {
    assert.ok(markApplies(mark, { eventId: 'a', timestamp: 1000 }));
    assert.ok(!markApplies(mark, { eventId: 'a', timestamp: 2000 }));
    assert.ok(!markApplies(mark, { eventId: 'b', timestamp: 1000 }));
  });
});
