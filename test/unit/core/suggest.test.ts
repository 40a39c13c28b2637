import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closest, didYouMean, editDistance } from '../../../core/suggest.js';

test('editDistance counts single-character insertions, deletions and substitutions', () => {
  const cases: [string, string, number][] = [
    ['', '', 0],
    ['port', 'port', 0],
    ['prot', 'port', 2],
    ['--prot', '--port', 2],
    ['Triger', 'Trigger', 1],
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
    ['abc', '', 3],
  ];
  for (const [a, b, want] of cases) {
    assert.equal(editDistance(a, b), want, `${a} → ${b}`);
    assert.equal(editDistance(b, a), want, `${b} → ${a} (symmetric)`);
  }
});

test('closest picks the nearest candidate within the limit, case-insensitively, earlier on a tie', () => {
  const flags = ['--port', '--admin-port', '--host', '--kafka'];
  const cases: [string, string | undefined][] = [
    ['--prot', '--port'],
    ['--admin-prot', '--admin-port'],
    ['--HOST', '--host'],
    ['--zzzzzz', undefined],
  ];
  for (const [word, want] of cases) assert.equal(closest(word, flags), want, word);
  assert.equal(closest('ab', ['aa', 'bb']), 'aa', 'a tie goes to the earlier candidate');
  assert.equal(closest('abcd', ['wxyz'], 4), 'wxyz', 'the limit is inclusive');
});

test('didYouMean is a suffix for a one-line message, empty when nothing is close', () => {
  assert.equal(didYouMean('strat', ['start', 'get']), '; did you mean start?');
  assert.equal(didYouMean('frobnicate', ['start', 'get']), '');
});
