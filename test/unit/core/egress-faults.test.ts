import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addSkipped, describeSkipped, FaultBook, MAX_RANGES, type EgressFault, type SkippedRange } from '../../../core/egress-faults.js';

/** Skipped ranges kept per consumer group: merged, bounded, and named in one line. */

const AT = '2026-11-27T12:00:00.000Z';
const r = (partition: number, from: number, to: number, topic = 't'): SkippedRange => ({ topic, partition, from: String(from), to: String(to) });
const fold = (ranges: readonly SkippedRange[]): EgressFault | undefined => ranges.reduce<EgressFault | undefined>((f, range) => addSkipped(f, range, AT), undefined);

describe('egress faults', () => {
  const cases: { name: string; ranges: SkippedRange[]; skipped: SkippedRange[]; count: number }[] = [
    { name: 'one range', ranges: [r(0, 5, 9)], skipped: [r(0, 5, 9)], count: 4 },
    { name: 'adjacent ranges of one partition merge', ranges: [r(0, 5, 9), r(0, 9, 12)], skipped: [r(0, 5, 12)], count: 7 },
    { name: 'overlapping ones merge too', ranges: [r(0, 5, 9), r(0, 7, 8)], skipped: [r(0, 5, 9)], count: 5 },
    { name: 'other partitions and topics stay apart', ranges: [r(0, 0, 2), r(1, 2, 4), r(0, 2, 4, 'u')], skipped: [r(0, 0, 2), r(1, 2, 4), r(0, 2, 4, 'u')], count: 6 },
    { name: 'gaps stay apart', ranges: [r(0, 0, 2), r(0, 5, 6)], skipped: [r(0, 0, 2), r(0, 5, 6)], count: 3 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const fault = fold(c.ranges)!;
      assert.deepEqual(fault.skipped, c.skipped);
      assert.equal(fault.skippedRecords, c.count);
      assert.equal(fault.lastSkippedAt, AT);
    });
  }

  test('at most MAX_RANGES are kept (the latest), while the count keeps every record', () => {
    const ranges = Array.from({ length: MAX_RANGES + 5 }, (_, i) => r(0, i * 10, i * 10 + 1));
    const fault = fold(ranges)!;
    assert.equal(fault.skipped.length, MAX_RANGES);
    assert.deepEqual(fault.skipped[0], r(0, 50, 51));
    assert.equal(fault.skippedRecords, MAX_RANGES + 5);
  });

  test('describeSkipped names the partitions and the offsets, inclusive', () => {
    assert.equal(
      describeSkipped(fold([r(2, 0, 1)])!),
      `1 record never delivered: their offsets were no longer in the log (retention or truncation) when the consumer group resumed (t partition 2 offsets 0-0); last at ${AT}`,
    );
  });

  test('the book tells its listener, and forgets a group that left', () => {
    let changes = 0;
    const book = new FaultBook(() => changes++, () => new Date(AT));
    book.recordSkipped('g', r(0, 1, 3));
    assert.equal(book.snapshot().get('g')?.skippedRecords, 2);
    book.forget('g');
    book.forget('never');
    assert.equal(book.snapshot().size, 0);
    assert.equal(changes, 2);
  });
});
