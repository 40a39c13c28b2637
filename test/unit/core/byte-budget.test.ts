import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteBudget, type Reservation } from '../../../core/byte-budget.js';
import { parseQueryString, repeatedQueryKey } from '../../../core/http-server.js';

const KiB = 1024;

describe('ByteBudget', () => {
  // A 100 KiB budget: large bodies (over 64 KiB, or of unknown length) may hold 75 KiB together.
  const cases: { name: string; used: number; held: number; more: number; expected?: number; verdict: Reservation }[] = [
    { name: 'a small body with room', used: 0, held: 0, more: 1 * KiB, expected: 1 * KiB, verdict: 'ok' },
    { name: 'a small body in the share kept for small ones', used: 90 * KiB, held: 0, more: 2 * KiB, expected: 2 * KiB, verdict: 'ok' },
    { name: 'a small body past the whole limit', used: 99 * KiB, held: 0, more: 2 * KiB, expected: 2 * KiB, verdict: 'busy' },
    { name: 'a declared large body with room', used: 0, held: 0, more: 70 * KiB, expected: 70 * KiB, verdict: 'ok' },
    { name: 'a declared large body past the large share', used: 10 * KiB, held: 0, more: 70 * KiB, expected: 70 * KiB, verdict: 'busy' },
    { name: 'a declared body larger than the large share ever allows', used: 0, held: 0, more: 80 * KiB, expected: 80 * KiB, verdict: 'never' },
    { name: 'a chunk of unknown length counts as large', used: 75 * KiB, held: 0, more: 1, verdict: 'busy' },
    { name: 'a chunked body growing within the large share', used: 40 * KiB, held: 40 * KiB, more: 30 * KiB, verdict: 'ok' },
    { name: 'a chunked body growing past what can ever be held', used: 70 * KiB, held: 70 * KiB, more: 10 * KiB, verdict: 'never' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const budget = new ByteBudget({ limitBytes: 100 * KiB });
      // What other requests hold, as small bodies of 1 KiB.
      for (let held = 0; held < c.used; held += KiB) assert.equal(budget.reserve(0, KiB, KiB), 'ok', 'setting up what others hold');
      assert.equal(budget.reserve(c.held, c.more, c.expected), c.verdict);
      assert.equal(budget.usedBytes, c.verdict === 'ok' ? c.used + c.more : c.used, 'only an ok reserves');
    });
  }

  test('released bytes can be reserved again; releasing never goes below zero', () => {
    const budget = new ByteBudget({ limitBytes: 10, largeBodyBytes: 4, largeShare: 0.5 });
    assert.equal(budget.largeCeilingBytes, 5);
    assert.equal(budget.reserve(0, 4, 4), 'ok');
    assert.equal(budget.reserve(0, 4, 4), 'ok');
    assert.equal(budget.reserve(0, 2, 2), 'ok');
    assert.equal(budget.reserve(0, 1, 1), 'busy');
    budget.release(10);
    assert.equal(budget.usedBytes, 0);
    assert.equal(budget.reserve(0, 1, 1), 'ok');
    budget.release(5);
    assert.equal(budget.usedBytes, 0);
  });
});

describe('parseQueryString', () => {
  const cases: { query: string; parsed: [string, string][]; repeated?: string }[] = [
    { query: '', parsed: [] },
    { query: 'since=1h&limit=5', parsed: [['since', '1h'], ['limit', '5']] },
    { query: 'since=1h&since=2h', parsed: [['since', '1h']], repeated: 'since' },
    { query: 'a=1&b=2&b=3&a=4', parsed: [['a', '1'], ['b', '2']], repeated: 'b' },
    { query: '%61=1&a=2', parsed: [['a', '1']], repeated: 'a' },
    { query: 'x=%zz&y', parsed: [['x', '%zz'], ['y', '']] },
    { query: '__proto__=1&constructor=2', parsed: [['__proto__', '1'], ['constructor', '2']] },
    { query: 'a[]=1&a[]=2', parsed: [['a[]', '1']], repeated: 'a[]' },
  ];
  for (const c of cases) {
    test(JSON.stringify(c.query), () => {
      const parsed = parseQueryString(c.query);
      assert.equal(Object.getPrototypeOf(parsed), null, 'no prototype for names from the wire');
      assert.deepEqual(Object.entries(parsed), c.parsed);
      assert.equal(repeatedQueryKey(parsed), c.repeated);
    });
  }
  test('a query not made by it has no repeated key', () => {
    assert.equal(repeatedQueryKey({ a: ['1', '2'] }), undefined);
    assert.equal(repeatedQueryKey(undefined), undefined);
  });
});
