import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wireObject } from '../../../core/wire-object.js';

describe('wireObject', () => {
  const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'ce_id', '0'];

  for (const name of names) {
    it(`keeps '${name}' as a plain own key and inherits nothing`, () => {
      const object = wireObject<number>();
      assert.equal(object[name], undefined, 'nothing inherited');
      assert.equal(name in object, false);
      object[name] = 7;
      assert.equal(object[name], 7);
      assert.ok(Object.hasOwn(object, name));
      assert.deepEqual(Object.keys(object), [name]);
      const seen: string[] = [];
      for (const key in object) seen.push(key);
      assert.deepEqual(seen, [name]);
    });
  }

  it('has no Object.prototype in its chain, and a prototype nobody can add to', () => {
    const object = wireObject<number>();
    const proto = Object.getPrototypeOf(object) as object;
    assert.equal(Object.getPrototypeOf(proto), null);
    assert.deepEqual(Reflect.ownKeys(proto), []);
    assert.ok(Object.isFrozen(proto));
    assert.equal(Object.getPrototypeOf(wireObject()), proto, 'one prototype for all');
  });

  it('gives a new object each time', () => {
    const a = wireObject<number>();
    a['x'] = 1;
    assert.deepEqual(Object.keys(wireObject()), []);
  });

  it('spreads and serialises as its own keys only', () => {
    const object = wireObject<string>();
    object['__proto__'] = 'a';
    object['b'] = 'c';
    assert.equal(JSON.stringify(object), '{"__proto__":"a","b":"c"}');
    const copy = { ...object };
    assert.ok(Object.hasOwn(copy, '__proto__'));
    assert.equal(copy['b'], 'c');
  });
});
