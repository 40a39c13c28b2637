import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CloudEvent } from '../../../core/cloudevents/event.js';
import { DEFAULT_TTL, ttlOf, withoutTtl } from '../../../core/cloudevents/ttl.js';
import { replyOf, stampReply } from '../../../dispatcher/reply.js';

const event = (extra: Record<string, string | number> = {}, data?: Buffer): CloudEvent => ({
  attributes: { specversion: '1.0', id: 'e1', source: '/test', type: 'test.event', ...extra },
  ...(data === undefined ? {} : { data }),
});

const binaryHeaders = { 'ce-specversion': '1.0', 'ce-id': 'r1', 'ce-source': '/sub', 'ce-type': 'reply.event', 'content-type': 'text/plain' };

describe('what counts as a reply', () => {
  test('a binary CloudEvent in a 200 is a reply', () => {
    const reply = replyOf(200, binaryHeaders, Buffer.from('hi'), false);
    assert.equal(reply.kind, 'reply');
    assert.equal(reply.kind === 'reply' && reply.event.attributes['id'], 'r1');
    assert.equal(reply.kind === 'reply' && reply.event.data?.toString(), 'hi');
  });

  test('a structured CloudEvent in a 201 is a reply', () => {
    const body = Buffer.from(JSON.stringify({ specversion: '1.0', id: 'r2', source: '/sub', type: 'reply.event', data: { a: 1 } }));
    const reply = replyOf(201, { 'content-type': 'application/cloudevents+json' }, body, false);
    assert.equal(reply.kind, 'reply');
    assert.equal(reply.kind === 'reply' && reply.event.attributes['id'], 'r2');
  });

  test('202 is never a reply, whatever it carries', () => {
    assert.deepEqual(replyOf(202, binaryHeaders, Buffer.from('hi'), false), { kind: 'none' });
  });

  test('a plain body without CloudEvent headers is not a reply', () => {
    assert.deepEqual(replyOf(200, { 'content-type': 'application/json' }, Buffer.from('{"ok":true}'), false), { kind: 'none' });
    assert.deepEqual(replyOf(200, {}, Buffer.alloc(0), false), { kind: 'none' });
  });

  test('a CloudEvent message that does not validate is an invalid reply', () => {
    const { 'ce-id': _id, ...withoutId } = binaryHeaders;
    const reply = replyOf(200, withoutId, Buffer.from('hi'), false);
    assert.equal(reply.kind, 'invalid');
    assert.match(reply.kind === 'invalid' ? reply.reason : '', /id/);
    assert.equal(replyOf(200, { 'content-type': 'application/cloudevents+json' }, Buffer.from('{not json'), false).kind, 'invalid');
  });

  test('a batch is not one reply', () => {
    const body = Buffer.from(JSON.stringify([
      { specversion: '1.0', id: 'a', source: '/s', type: 't' },
      { specversion: '1.0', id: 'b', source: '/s', type: 't' },
    ]));
    assert.equal(replyOf(200, { 'content-type': 'application/cloudevents-batch+json' }, body, false).kind, 'invalid');
  });

  test('a reply cut at the size limit is invalid', () => {
    assert.equal(replyOf(200, binaryHeaders, Buffer.from('hi'), true).kind, 'invalid');
  });
});

describe('TTL (knativebrokerttl)', () => {
  test('read as an integer from a string or a number; absent or garbage means 255', () => {
    assert.equal(ttlOf(event({ knativebrokerttl: '7' })), 7);
    assert.equal(ttlOf(event({ knativebrokerttl: 9 })), 9);
    assert.equal(ttlOf(event()), DEFAULT_TTL);
    assert.equal(ttlOf(event({ knativebrokerttl: 'lots' })), DEFAULT_TTL);
  });

  test('removed from the event delivered, nothing else changed', () => {
    const original = event({ knativebrokerttl: '5', traceparent: 'x' }, Buffer.from('d'));
    const delivered = withoutTtl(original);
    assert.equal('knativebrokerttl' in delivered.attributes, false);
    assert.deepEqual({ ...delivered.attributes, knativebrokerttl: '5' }, original.attributes);
    assert.equal(delivered.data, original.data);
  });

  test("a reply gets the original's TTL minus one, whatever it carried", () => {
    const stamped = stampReply(event({ knativebrokerttl: '200' }), event({ knativebrokerttl: '5' }));
    assert.equal(stamped.kind, 'forward');
    assert.equal(stamped.kind === 'forward' && stamped.event.attributes['knativebrokerttl'], 4);
    const fromDefault = stampReply(event(), event());
    assert.equal(fromDefault.kind === 'forward' && fromDefault.ttl, 254);
  });

  test('a reply whose TTL would reach 0 is to be dropped', () => {
    assert.deepEqual(stampReply(event(), event({ knativebrokerttl: '1' })), { kind: 'ttl-exhausted', ttl: 0 });
    // A TTL above the maximum (written by another producer) is capped before the decrement.
    const capped = stampReply(event(), event({ knativebrokerttl: '4000000000' }));
    assert.equal(capped.kind === 'forward' && capped.ttl, 254);
    assert.equal(stampReply(event(), event({ knativebrokerttl: '0' })).kind, 'ttl-exhausted');
    assert.equal(stampReply(event(), event({ knativebrokerttl: '2' })).kind, 'forward');
  });
});
