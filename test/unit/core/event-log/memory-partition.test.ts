import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pack, PartitionLog, unpack } from '../../../../core/event-log/memory-partition.js';

// The in-memory log holds each record packed in one buffer (issue 17's GC pauses); what comes back must be what went in.
const cases = [
  { name: 'value and headers', key: null, value: Buffer.from('{"a":1}'), headers: { ce_id: Buffer.from('1'), 'content-type': Buffer.from('application/json') } },
  { name: 'key, no value (a tombstone)', key: Buffer.from('k'), value: null, headers: {} },
  { name: 'empty key, value and header', key: Buffer.alloc(0), value: Buffer.alloc(0), headers: { empty: Buffer.alloc(0) } },
  { name: 'non-ASCII header name and binary bytes', key: null, value: Buffer.from([0, 255, 0xff, 1]), headers: { 'ce_ünï': Buffer.from([0xff, 0]), x: Buffer.from('y') } },
  { name: 'a name that is an Object.prototype member', key: null, value: Buffer.from('v'), headers: { constructor: Buffer.from('c'), toString: Buffer.from('t') } },
] as const;

for (const c of cases) {
  test(`pack/unpack round trip: ${c.name}`, () => {
    const headers = Object.create(null) as Record<string, Buffer>;
    for (const [name, value] of Object.entries(c.headers)) headers[name] = value;
    // A header named __proto__ can only be set on a null-prototype object, as the wire could.
    if (c.name.includes('prototype')) headers['__proto__'] = Buffer.from('p');
    const back = unpack(pack(c.key, c.value, headers));
    assert.deepEqual(back.key === null ? null : [...back.key], c.key === null ? null : [...c.key]);
    assert.deepEqual(back.value === null ? null : [...back.value], c.value === null ? null : [...c.value]);
    assert.deepEqual(Object.keys(back.headers), Object.keys(headers));
    for (const name of Object.keys(headers)) assert.deepEqual([...back.headers[name]!], [...headers[name]!], name);
    assert.equal(Object.getPrototypeOf(back.headers), null);
  });
}

test('a packed record is a copy: changing what was appended changes nothing held', () => {
  const value = Buffer.from('original');
  const log = new PartitionLog();
  const offset = log.append({ key: null, value, headers: { h: Buffer.from('x') }, timestamp: 5, bytes: 9 });
  value.write('CHANGED!');
  const stored = log.get(offset)!;
  assert.equal(stored.value!.toString(), 'original');
  assert.equal(stored.timestamp, 5);
  assert.equal(stored.bytes, 9);
  assert.equal(log.meta(offset)!.timestamp, 5);
});
