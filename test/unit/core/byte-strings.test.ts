import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteStrings } from '../../../core/byte-strings.js';
import { attributeOfHeader } from '../../../core/cloudevents/header-attributes.js';

test('ByteStrings reads bytes as Buffer.toString does, and says which are not UTF-8', () => {
  const strings = new ByteStrings();
  const cases: [Buffer, string, boolean][] = [
    [Buffer.from('ce_id'), 'ce_id', true],
    [Buffer.from(''), '', true],
    [Buffer.from('größe ✓', 'utf8'), 'größe ✓', true],
    [Buffer.from([0x61, 0xff, 0x62]), Buffer.from([0x61, 0xff, 0x62]).toString('utf8'), false],
    [Buffer.from([0xc3]), Buffer.from([0xc3]).toString('utf8'), false],
  ];
  for (const round of ['first', 'cached']) {
    for (const [bytes, text, valid] of cases) {
      assert.equal(strings.text(bytes), text, `${round}: ${bytes.toString('hex')}`);
      assert.equal(strings.utf8(bytes), valid ? text : undefined, `${round}: ${bytes.toString('hex')}`);
    }
  }
});

test('ByteStrings gives back the same string for the same bytes, wherever they sit', () => {
  const strings = new ByteStrings();
  const wire = Buffer.from('xxce_sourceyyce_sourcezz');
  const first = strings.text(wire.subarray(2, 11));
  const second = strings.text(wire.subarray(13, 22));
  assert.equal(first, 'ce_source');
  assert.equal(second, 'ce_source');
  // What it keeps is a copy: the network buffer may be reused.
  wire.fill(0x41);
  assert.equal(strings.text(Buffer.from('ce_source')), 'ce_source');
  assert.equal(strings.text(Buffer.from('AAAAAAAAA')), 'AAAAAAAAA');
});

test('ByteStrings tells apart bytes whose hashes collide, and stays bounded', () => {
  // Two entries at most: a third empties it, and every answer stays right.
  const strings = new ByteStrings(2, 8);
  const words = ['alpha', 'beta', 'gamma', 'alpha', 'delta', 'beta', 'a-much-longer-name'];
  for (const word of words) assert.equal(strings.text(Buffer.from(word)), word);
  // Different bytes, same length: a byte-by-byte check, not the hash alone, decides.
  for (let i = 0; i < 300; i++) {
    const word = `k${i}`;
    assert.equal(strings.text(Buffer.from(word)), word);
  }
});

test('attributeOfHeader drops the 3-character binding prefix', () => {
  const cases: [string, string][] = [
    ['ce-id', 'id'],
    ['ce_id', 'id'],
    ['ce-knativebrokerttl', 'knativebrokerttl'],
    ['ce_', ''],
    ['ce-__proto__', '__proto__'],
  ];
  for (const round of ['first', 'cached']) {
    for (const [header, attribute] of cases) assert.equal(attributeOfHeader(header), attribute, `${round}: ${header}`);
  }
});
