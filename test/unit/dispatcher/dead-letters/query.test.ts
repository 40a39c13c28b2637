import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseObjectRef, parseQuery, parseReplayBody, parseSince } from '../../../../dispatcher/dead-letters/query.js';

const NOW = Date.parse('2026-11-27T12:00:00Z');

describe('dead-letter requests', () => {
  test('since takes a time or a duration back from now', () => {
    assert.equal(parseSince('2026-11-27T11:00:00Z', NOW), NOW - 3_600_000);
    assert.equal(parseSince('90s', NOW), NOW - 90_000);
    assert.equal(parseSince('2h', NOW), NOW - 7_200_000);
    assert.throws(() => parseSince('yesterday', NOW), /since must be a time/);
    assert.throws(() => parseSince('1', NOW), /since must be a time/);
  });

  test('object refs default to the default namespace; query and replay body are checked', () => {
    assert.deepEqual(parseObjectRef('dl', 'sink'), { namespace: 'default', name: 'dl' });
    assert.deepEqual(parseObjectRef('ns/dl', 'sink'), { namespace: 'ns', name: 'dl' });
    assert.throws(() => parseObjectRef('a/b/c', 'sink'), /sink must be <namespace>\/<name>/);
    assert.deepEqual(parseQuery({ trigger: 'pay', type: 't', limit: '5' }, NOW), { trigger: { namespace: 'default', name: 'pay' }, type: 't', limit: 5 });
    assert.throws(() => parseQuery({ limit: '0' }, NOW), /limit must be a whole number/);
    assert.deepEqual(parseReplayBody(Buffer.from('{"all":true,"sink":"dl","force":true}'), NOW), { all: true, query: { sink: { namespace: 'default', name: 'dl' } }, force: true });
    assert.throws(() => parseReplayBody(Buffer.from('[1]'), NOW), /JSON object/);
    assert.throws(() => parseReplayBody(Buffer.from('{"ids":[1]}'), NOW), /ids must be a list/);
  });
});
