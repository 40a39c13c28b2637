import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDuration } from '../../../../controller/kinds/durations.js';

describe('parseDuration (ISO 8601)', () => {
  const valid: [string, number][] = [
    ['PT0.2S', 200],
    ['PT1S', 1000],
    ['PT0,5S', 500],
    ['PT1M30S', 90_000],
    ['PT2H', 7_200_000],
    ['P1D', 86_400_000],
    ['P1W', 604_800_000],
    ['P1DT1H', 90_000_000],
    ['PT0S', 0],
    ['-PT1S', -1000],
    ['PT1.5M', 90_000],
  ];
  for (const [text, ms] of valid) test(`${text} = ${ms} ms`, () => assert.deepEqual(parseDuration(text), { ok: true, ms }));

  const invalid = ['', 'P', 'PT', '5s', 'PT5', '1S', 'P1.5DT1H', 'PT1.5H30M', 'PTS', 'pt1s', 'P1H'];
  for (const text of invalid) {
    test(`"${text}" is not a duration`, () => {
      const result = parseDuration(text);
      assert.equal(result.ok, false);
      assert.match(result.ok ? '' : result.message, /ISO 8601/);
    });
  }
});
