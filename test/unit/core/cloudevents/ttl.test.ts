import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttributeValue, CloudEvent } from '../../../../core/cloudevents/event.js';
import { DEFAULT_TTL, MAX_TTL, parseTtl, TTL_ATTRIBUTE, ttlOf, withoutTtl, withTtl } from '../../../../core/cloudevents/ttl.js';

const event = (extra: Record<string, AttributeValue> = {}): CloudEvent => ({
  attributes: { specversion: '1.0', id: '1', source: '/s', type: 't', ...extra },
});

describe('broker TTL (core/cloudevents/ttl.ts)', () => {
  const cases: [AttributeValue, number | undefined][] = [
    ['7', 7], [9, 9], [' 12 ', 12], ['+3', 3], ['-3', -3], ['0', 0],
    ['255', 255], ['256', MAX_TTL], [1_000_000, MAX_TTL], ['9'.repeat(30), MAX_TTL], ['9'.repeat(400), MAX_TTL], [`-${'9'.repeat(400)}`, 0],
    ['lots', undefined], ['1.5', undefined], [2.5, undefined], ['', undefined], [true, undefined], ['0x10', undefined], ['1e3', undefined],
  ];
  for (const [value, expected] of cases) {
    test(`parseTtl(${JSON.stringify(value).slice(0, 30)}) = ${String(expected)}`, () => assert.equal(parseTtl(value), expected));
  }

  test('ttlOf: own value, capped; default when absent or not an integer', () => {
    assert.equal(ttlOf(event({ knativebrokerttl: '4' })), 4);
    assert.equal(ttlOf(event({ knativebrokerttl: '100000' })), MAX_TTL);
    assert.equal(ttlOf(event()), DEFAULT_TTL);
    assert.equal(ttlOf(event({ knativebrokerttl: 'x' })), DEFAULT_TTL);
  });

  test('withoutTtl removes only the TTL; withTtl sets it; prototype-named attributes survive both', () => {
    const original: CloudEvent = { attributes: JSON.parse('{"specversion":"1.0","id":"1","source":"/s","type":"t","constructor":"c","__proto__":"p","knativebrokerttl":"9"}') as Record<string, AttributeValue>, data: Buffer.from('d') };
    const without = withoutTtl(original);
    assert.equal(Object.hasOwn(without.attributes, TTL_ATTRIBUTE), false);
    assert.equal(without.attributes['constructor'], 'c');
    assert.equal(Object.hasOwn(without.attributes, '__proto__'), true);
    assert.equal(Object.getPrototypeOf(without.attributes), Object.prototype);
    assert.equal(without.data, original.data);
    const stamped = withTtl(without, 3);
    assert.equal(stamped.attributes[TTL_ATTRIBUTE], 3);
    assert.equal(Object.getOwnPropertyDescriptor(stamped.attributes, '__proto__')?.value, 'p');
    assert.equal(withoutTtl(event()).attributes['id'], '1');
  });
});
