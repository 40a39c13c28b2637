import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CloudEvent } from '../../../core/cloudevents/event.js';
import type { Egress, Resource } from '../../../core/contract/types.js';
import { deadLetterEvent } from '../../../dispatcher/error-extensions.js';

const resource = { reference: { kind: 'Broker', namespace: 'shop', name: 'default', uid: 'b1' } } as Resource;
const trigger = { reference: { kind: 'Trigger', namespace: 'shop', name: 'orders', uid: 't1' } } as Egress;
const subscription = { reference: { kind: 'Subscription', namespace: 'shop', name: 'audit', uid: 's1' } } as Egress;

const original: CloudEvent = {
  attributes: { specversion: '1.0', id: 'e1', source: '/test', type: 'order.created', knativebrokerttl: '255', datacontenttype: 'application/json' },
  data: Buffer.from('{"order":1}'),
};

describe('dead-letter event', () => {
  test("adds Knative's marks and ours, drops the broker's TTL, changes nothing else", () => {
    const body = Buffer.from('boom');
    const dead = deadLetterEvent(original, { destination: 'http://sub.example/x', failure: { kind: 'status', status: 500 }, body }, resource, trigger);
    const { knativebrokerttl: _ttl, ...rest } = original.attributes;
    assert.deepEqual(dead.attributes, {
      ...rest,
      knativeerrordest: 'http://sub.example/x',
      knativeerrorcode: '500',
      knativeerrordata: body.toString('base64'),
      knativeerrortrigger: 'shop/orders',
      knativeerrorbroker: 'shop/default',
    });
    assert.equal(dead.data, original.data);
  });

  test('knativeerrordata carries at most the first 1024 bytes of the body', () => {
    const body = Buffer.alloc(5000, 'x');
    const dead = deadLetterEvent(original, { destination: 'http://s/', failure: { kind: 'status', status: 400 }, body }, resource, trigger);
    assert.equal(Buffer.from(String(dead.attributes['knativeerrordata']), 'base64').length, 1024);
  });

  test('no response (timeout): no code and no data', () => {
    const dead = deadLetterEvent(original, { destination: 'http://s/', failure: { kind: 'timeout' } }, resource, trigger);
    assert.equal(dead.attributes['knativeerrorcode'], undefined);
    assert.equal(dead.attributes['knativeerrordata'], undefined);
    assert.equal(dead.attributes['knativeerrordest'], 'http://s/');
  });

  test('a subscription is named as such', () => {
    const dead = deadLetterEvent(original, { destination: 'http://s/', failure: { kind: 'network', message: 'refused' } }, resource, subscription);
    assert.equal(dead.attributes['knativeerrorsubscription'], 'shop/audit');
    assert.equal(dead.attributes['knativeerrortrigger'], undefined);
  });

  test('marks from an earlier failure are replaced', () => {
    const replayed: CloudEvent = { attributes: { ...original.attributes, knativeerrorcode: '404', knativeerrordata: 'b2xk', knativeerrordest: 'http://old/' } };
    const dead = deadLetterEvent(replayed, { destination: 'http://new/', failure: { kind: 'timeout' } }, resource, trigger);
    assert.equal(dead.attributes['knativeerrordest'], 'http://new/');
    assert.equal(dead.attributes['knativeerrorcode'], undefined);
    assert.equal(dead.attributes['knativeerrordata'], undefined);
  });
});
