import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { advance, decodeCursor, encodeCursor, type Cursor } from '../../../../dispatcher/dead-letters/cursor.js';

describe('dead-letter list cursor', () => {
  test('round-trips per-partition offsets, topics named like prototype keys included', () => {
    const cursor: Cursor = new Map();
    advance(cursor, 'sink-a', 0, '41');
    advance(cursor, 'sink-a', 3, '9007199254740993');
    advance(cursor, '__proto__', 1, '0');
    const token = encodeCursor(cursor);
    assert.match(token, /^[A-Za-z0-9_-]+$/, 'base64url');
    const back = decodeCursor(token);
    assert.deepEqual([...back.get('sink-a')!], [[0, '42'], [3, '9007199254740994']]);
    assert.deepEqual([...back.get('__proto__')!], [[1, '1']]);
  });

  const bad: [string, string][] = [
    ['not base64url', 'a b'],
    ['not JSON', Buffer.from('{').toString('base64url')],
    ['another version', Buffer.from(JSON.stringify({ v: 2, at: [] })).toString('base64url')],
    ['an offset that is no number', Buffer.from(JSON.stringify({ v: 1, at: [['t', 0, 'x']] })).toString('base64url')],
    ['a negative partition', Buffer.from(JSON.stringify({ v: 1, at: [['t', -1, '0']] })).toString('base64url')],
    ['an object instead of entries', Buffer.from(JSON.stringify({ v: 1, at: { t: 1 } })).toString('base64url')],
  ];
  for (const [name, token] of bad) {
    test(`refuses ${name} with one sentence`, () => {
      assert.throws(() => decodeCursor(token), (error: { code?: string; message: string }) => error.code === 'INVALID_REQUEST' && /continue must be a token/.test(error.message));
    });
  }
});
