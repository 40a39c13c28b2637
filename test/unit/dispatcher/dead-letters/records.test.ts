import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { payloadOf } from '../../../../dispatcher/dead-letters/records.js';

describe('dead-letter payloads', () => {
  test('payloads are text when readable, base64 otherwise', () => {
    assert.deepEqual(payloadOf(Buffer.from('héllo\n'), 'text/plain'), { encoding: 'text', value: 'héllo\n', bytes: 7 });
    assert.equal(payloadOf(Buffer.from('{"a":1}'), 'application/cloudevents+json').encoding, 'text');
    assert.equal(payloadOf(Buffer.from('abc'), 'application/octet-stream').encoding, 'base64');
    assert.equal(payloadOf(Buffer.from([0xff, 0xfe])).encoding, 'base64');
    assert.equal(payloadOf(Buffer.from('a\u0000b')).encoding, 'base64');
  });
});
