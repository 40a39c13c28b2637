import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reader } from '@platformatic/kafka';
// Imported for its effect: every client module of the adapter applies the fix on load.
import '../../../../../core/event-log/platformatic/client.js';

/** Kafka's encoding of a tagged-field section: unsigned count, then per field tag, size, data. */
function taggedSection(fields: readonly [number, Buffer][]): Buffer {
  const parts: Buffer[] = [Buffer.from([fields.length])];
  for (const [tag, data] of fields) parts.push(Buffer.from([tag, data.length]), data);
  return Buffer.concat(parts);
}

test('a non-empty tagged-field section is skipped as Kafka writes it, and what follows reads right', () => {
  // A produce answer's partition carries the new leader (tag 0) when it says NOT_LEADER_OR_FOLLOWER.
  const leader = Buffer.from([0, 0, 0, 1, 0, 0, 0, 7, 0]);
  const body = Buffer.concat([taggedSection([[0, leader], [3, Buffer.alloc(0)]]), Buffer.from([0, 0, 0, 42])]);
  const reader = Reader.from(body);
  reader.readTaggedFields();
  assert.equal(reader.readInt32(), 42);
  assert.equal(reader.remaining, 0);
});

test('array elements with trailing tagged fields keep their alignment', () => {
  const element = (value: number, fields: readonly [number, Buffer][]): Buffer => Buffer.concat([Buffer.from([0, 0, 0, value]), taggedSection(fields)]);
  // Compact array of 2: length + 1.
  const body = Buffer.concat([Buffer.from([3]), element(5, [[0, Buffer.from('abc')]]), element(6, []), Buffer.from([0, 9])]);
  const reader = Reader.from(body);
  assert.deepEqual(reader.readArray((r) => r.readInt32()), [5, 6]);
  assert.equal(reader.readInt16(), 9);
});

test('an empty section reads as before', () => {
  const reader = Reader.from(Buffer.from([0, 0, 1]));
  reader.readTaggedFields();
  assert.equal(reader.readInt16(), 1);
});
