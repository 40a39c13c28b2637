import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileLike, parseLikePattern } from '../../../../core/cesql/like.js';

/** Reference: the pattern as an anchored regular expression over code points. */
function reference(pattern: string, text: string): boolean {
  let source = '';
  for (const segment of parseLikePattern(pattern)) {
    if (segment.kind === 'any') source += '.*';
    else if (segment.kind === 'one') source += '.';
    else source += segment.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'su').test(text);
}

describe('LIKE patterns', () => {
  test('parsing: escapes, collapsed %, literal backslashes', () => {
    assert.deepEqual(parseLikePattern(String.raw`a\%b%%c\_d_e\f`), [
      { kind: 'literal', text: 'a%b' },
      { kind: 'any' },
      { kind: 'literal', text: 'c_d' },
      { kind: 'one' },
      { kind: 'literal', text: String.raw`e\f` },
    ]);
    assert.deepEqual(parseLikePattern('\\'), [{ kind: 'literal', text: '\\' }]);
  });

  test('fast paths and the general matcher agree with a regular-expression reference', () => {
    const patterns = [
      '', '%', '_', 'abc', 'abc%', '%abc', '%abc%', 'a%c', 'a_c', '%a_c%', '_%_', 'a%b%c', '%.%.%',
      String.raw`a\%`, String.raw`%\_%`, 'ab%ba', '%%a%%', '😀%', '%_😀', 'a\nb%', '%b%b%b%',
    ];
    const texts = [
      '', 'a', 'abc', 'abcabc', 'aXc', 'ac', 'a%', 'a_', 'x_y', 'aba', 'abba', '.a.b.', 'a\nb', '😀', '😀x',
      'x😀', 'xy😀', 'bbb', 'abcbcb', '%', '_', 'a😀c',
    ];
    for (const pattern of patterns) {
      const matches = compileLike(pattern);
      for (const text of texts) {
        assert.equal(matches(text), reference(pattern, text), `${JSON.stringify(text)} LIKE ${JSON.stringify(pattern)}`);
      }
    }
  });

  test('pathological patterns stay linear-ish (no exponential backtracking)', () => {
    const matches = compileLike(`${'%a'.repeat(30)}%b`);
    const text = 'a'.repeat(5000);
    // CPU time, not wall time: a busy machine that deschedules the test does not count.
    const start = process.cpuUsage();
    assert.equal(matches(text), false);
    const used = process.cpuUsage(start);
    const cpuMs = (used.user + used.system) / 1000;
    assert.ok(cpuMs < 1000, `took ${cpuMs} ms of CPU`);
  });
});
