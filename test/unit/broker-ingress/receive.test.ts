import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttributeValue } from '../../../core/cloudevents/event.js';
import { applyBrokerTtl, receive } from '../../../broker-ingress/receive.js';
import { entryFor } from '../../../broker-ingress/ingress-table.js';
import { makeBroker } from '../../helpers/builders.js';

const minimal = { specversion: '1.0', id: '1', source: '/s', type: 't' };
const event = (extra: Record<string, AttributeValue> = {}) => ({ attributes: { ...minimal, ...extra } });

describe('applyBrokerTtl', () => {
  const cases: [string, AttributeValue | undefined, number | string][] = [
    ['absent: 255', undefined, 255],
    ['255 (string, binary mode): 254', '255', 254],
    ['2 (number, structured mode): 1', 2, 1],
    ['1: spent', '1', 'TTL_EXHAUSTED'],
    ['0: spent', 0, 'TTL_EXHAUSTED'],
    ['-3: spent', '-3', 'TTL_EXHAUSTED'],
    ['not a number: invalid', 'abc', 'EVENT_INVALID'],
    ['a fraction: invalid', 2.5, 'EVENT_INVALID'],
    ['a boolean: invalid', true, 'EVENT_INVALID'],
    // A producer cannot switch loop protection off: anything above 255 is taken as 255.
    ['256: capped at 255, then 254', '256', 254],
    ['2147483647 (number): capped, 254', 2147483647, 254],
    ['99999999999999999999 (beyond int64): capped, 254', '99999999999999999999', 254],
    ['400 digits (beyond a double): capped, 254', '9'.repeat(400), 254],
  ];
  for (const [name, ttl, expected] of cases) {
    test(name, () => {
      const result = applyBrokerTtl(ttl === undefined ? event() : event({ knativebrokerttl: ttl }));
      if (typeof expected === 'number') {
        assert.ok(result.ok);
        assert.equal(result.event.attributes['knativebrokerttl'], expected);
      } else {
        assert.equal(result.ok, false);
        assert.equal(!result.ok && result.error.code, expected);
        assert.match(!result.ok ? result.error.message : '', /knativebrokerttl/);
      }
    });
  }
  test('keeps the data and every other attribute', () => {
    const data = Buffer.from('x');
    const result = applyBrokerTtl({ attributes: { ...minimal, ext: 'v' }, data });
    assert.ok(result.ok);
    assert.equal(result.event.data, data);
    assert.equal(result.event.attributes['ext'], 'v');
  });
});

describe('receive', () => {
  const broker = entryFor(makeBroker('b'))!;
  const channel = entryFor(makeBroker('c', [], { kind: 'KafkaChannel' }))!;
  const headers = { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', 'ce-knativebrokerttl': '1' };

  test('a broker applies the hop limit', () => {
    const result = receive(broker, headers, Buffer.alloc(0));
    assert.equal(!result.ok && result.error.code, 'TTL_EXHAUSTED');
  });
  test('a channel does not', () => {
    const result = receive(channel, headers, Buffer.alloc(0));
    assert.ok(result.ok);
    assert.equal(result.events[0]!.attributes['knativebrokerttl'], '1');
  });
  test('in a batch, one spent event rejects all and names its index', () => {
    const body = Buffer.from(JSON.stringify([minimal, { ...minimal, knativebrokerttl: 1 }]));
    const result = receive(broker, { 'content-type': 'application/cloudevents-batch+json' }, body);
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.error.details?.['index'], 1);
  });
});
