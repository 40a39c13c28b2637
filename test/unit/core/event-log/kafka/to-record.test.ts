import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KafkaMessage } from 'kafkajs';
import { toRecord } from '../../../../../core/event-log/kafka/consumer.js';

test('kafkajs records: header names from the wire are own keys, never the prototype', () => {
  // JSON.parse makes `__proto__` an own property, as a decoder keying by wire names may.
  const headers = JSON.parse('{"__proto__": "x", "constructor": "y", "ce_id": "1"}') as Record<string, string>;
  const message = { key: null, value: Buffer.from('v'), headers, offset: '7', timestamp: '1000', attributes: 0 } as unknown as KafkaMessage;
  const record = toRecord('t', 0, message);
  assert.ok(Object.hasOwn(record.headers, '__proto__'));
  assert.equal(record.headers['__proto__']?.toString(), 'x');
  assert.equal(record.headers['constructor']?.toString(), 'y');
  assert.equal(Object.getPrototypeOf(Object.getPrototypeOf(record.headers)), null, 'nothing inherited from Object.prototype');
  assert.deepEqual(Object.keys(record.headers).sort(), ['__proto__', 'ce_id', 'constructor']);
});
