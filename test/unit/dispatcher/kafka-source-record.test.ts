import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KeyType, RecordConversion } from '../../../core/contract/types.js';
import { errorsOf, validateEvent } from '../../../core/cloudevents/validate.js';
import { headerExtensionName, KAFKA_EVENT_TYPE, keyAttribute, sourceEventOf, type SourceRecord } from '../../../dispatcher/kafka-source-record.js';

const conversion: RecordConversion = { kind: 'kafka-source', namespace: 'shop', name: 'orders-source', keyType: 'string', overrides: [] };

const record = (over: Partial<SourceRecord> = {}): SourceRecord => ({
  topic: 'orders', partition: 2, offset: '41', key: null, value: Buffer.from('{"order":42}'), headers: {}, timestamp: Date.UTC(2026, 0, 2, 3, 4, 5), ...over,
});

const eventOf = (r: SourceRecord, c: RecordConversion = conversion) => {
  const result = sourceEventOf(r, c);
  assert.ok(result.ok);
  return result.event;
};

const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const float32 = (n: number) => { const b = Buffer.alloc(4); b.writeFloatBE(n); return b; };
const float64 = (n: number) => { const b = Buffer.alloc(8); b.writeDoubleBE(n); return b; };

describe('KafkaSource record conversion', () => {
  test('a raw JSON record becomes dev.knative.kafka.event with the record as its identity', () => {
    const event = eventOf(record({ headers: { 'content-type': Buffer.from('Application/JSON') } }));
    assert.deepEqual({ ...event.attributes }, {
      specversion: '1.0',
      id: 'partition:2/offset:41',
      source: '/apis/v1/namespaces/shop/kafkasources/orders-source#orders',
      type: KAFKA_EVENT_TYPE,
      subject: 'partition:2#41',
      time: '2026-01-02T03:04:05.000Z',
      datacontenttype: 'application/json',
    });
    assert.equal(event.data?.toString(), '{"order":42}');
  });

  test('a record without a value has no data; without content-type no datacontenttype', () => {
    const event = eventOf(record({ value: null }));
    assert.equal(event.data, undefined);
    assert.equal(event.attributes['datacontenttype'], undefined);
  });

  test('headers become kafkaheader extensions, names lower-cased and stripped to a-z0-9', () => {
    const event = eventOf(record({ headers: { 'X-Trace_Id': Buffer.from('abc'), 'Retry.Count': Buffer.from('3'), 'ümlaut-ok': Buffer.from('v') } }));
    assert.equal(event.attributes['kafkaheaderxtraceid'], 'abc');
    assert.equal(event.attributes['kafkaheaderretrycount'], '3');
    assert.equal(event.attributes['kafkaheadermlautok'], 'v');
  });

  const names: [string, string][] = [
    ['Foo', 'kafkaheaderfoo'],
    ['foo-bar', 'kafkaheaderfoobar'],
    ['A1_b2.C3', 'kafkaheadera1b2c3'],
    ['---', 'kafkaheader'],
  ];
  for (const [header, extension] of names) test(`header ${JSON.stringify(header)} -> ${extension}`, () => assert.equal(headerExtensionName(header), extension));

  // Knative's KeyDeserializer, case by case.
  const keys: [KeyType, Buffer | null, string | number | undefined][] = [
    ['string', Buffer.from('customer-7'), 'customer-7'],
    ['string', null, undefined],
    ['string', Buffer.alloc(0), undefined],
    ['int', int32(-12345), -12345],
    ['int', int32(2 ** 31 - 1), 2 ** 31 - 1],
    ['int', Buffer.from('42'), '42'], // not 4 bytes: read as text, as Knative falls back
    ['float', float32(1.5), '1.5'],
    ['float', float32(0.1), '0.1'],
    ['float', float64(-2.25), '-2.25'],
    ['float', Buffer.from('3.5'), '3.5'],
    ['byte-array', Buffer.from([0, 1, 254, 255]), 'AAH+/w=='],
    ['string', Buffer.from('café ✓'), 'café ✓'],
    // Text no CloudEvents String may hold goes base64-encoded, so the event stays valid.
    ['string', int32(8), 'AAAACA=='], // a binary int read with the default key type
    ['string', Buffer.from([0xc3, 0x28]), 'wyg='], // not UTF-8
    ['string', Buffer.from('a\u007fb'), 'YX9i'], // DEL is a control character
    ['int', Buffer.from([0, 1]), 'AAE='], // not 4 bytes, not text
    ['float', Buffer.from([0, 0, 1]), 'AAAB'],
  ];
  for (const [keyType, key, expected] of keys) {
    test(`key ${key === null ? 'null' : key.toString('hex')} as ${keyType} -> ${String(expected)}`, () => {
      assert.equal(keyAttribute(key, keyType), expected);
      const event = eventOf(record({ key }), { ...conversion, keyType });
      assert.equal(event.attributes['key'], expected);
      assert.equal(event.attributes['partitionkey'], expected);
      assert.deepEqual(errorsOf(validateEvent(event)), []);
    });
  }

  test('a binary-mode CloudEvent passes through as it is', () => {
    const event = eventOf(record({
      key: Buffer.from('k'),
      headers: { ce_specversion: Buffer.from('1.0'), ce_id: Buffer.from('order-1'), ce_source: Buffer.from('/shop'), ce_type: Buffer.from('com.example.order'), 'content-type': Buffer.from('application/json') },
    }));
    assert.equal(event.attributes['id'], 'order-1');
    assert.equal(event.attributes['type'], 'com.example.order');
    assert.equal(event.attributes['key'], undefined);
    assert.equal(event.data?.toString(), '{"order":42}');
  });

  test('a structured-mode CloudEvent passes through as it is', () => {
    const value = Buffer.from(JSON.stringify({ specversion: '1.0', id: 's-1', source: '/shop', type: 'com.example.s', data: { a: 1 } }));
    const event = eventOf(record({ value, headers: { 'content-type': Buffer.from('application/cloudevents+json; charset=UTF-8') } }));
    assert.equal(event.attributes['id'], 's-1');
    assert.equal(event.data?.toString(), '{"a":1}');
  });

  test('a record that claims to be a CloudEvent but is not one is converted (as Knative does)', () => {
    const event = eventOf(record({ headers: { ce_specversion: Buffer.from('1.0'), ce_id: Buffer.from('x') } }));
    assert.equal(event.attributes['type'], KAFKA_EVENT_TYPE);
    assert.equal(event.attributes['kafkaheadercespecversion'], '1.0');
  });

  test('ceOverrides set extensions on converted and passed-through events alike', () => {
    const withOverrides = { ...conversion, overrides: [{ name: 'team', value: 'billing' }, { name: 'subject', value: 'fixed' }] };
    const converted = eventOf(record(), withOverrides);
    assert.equal(converted.attributes['team'], 'billing');
    assert.equal(converted.attributes['subject'], 'fixed');
    const passed = eventOf(record({ headers: { ce_specversion: Buffer.from('1.0'), ce_id: Buffer.from('p'), ce_source: Buffer.from('/s'), ce_type: Buffer.from('t') } }), withOverrides);
    assert.equal(passed.attributes['id'], 'p');
    assert.equal(passed.attributes['team'], 'billing');
  });

  test('header values that are no CloudEvents String go base64-encoded; a bad content type is left out', () => {
    const event = eventOf(record({ headers: { bin: Buffer.from([0, 0, 0, 1]), text: Buffer.from('ok'), 'content-type': Buffer.from('text/plain\u0000') } }));
    assert.equal(event.attributes['kafkaheaderbin'], 'AAAAAQ==');
    assert.equal(event.attributes['kafkaheadertext'], 'ok');
    assert.equal(event.attributes['datacontenttype'], undefined);
    assert.deepEqual(errorsOf(validateEvent(event)), []);
  });

  test('a header named like an Object.prototype member stays an ordinary attribute', () => {
    const event = eventOf(record({ headers: { __proto__x: Buffer.from('1'), constructor: Buffer.from('2') } }));
    assert.equal(event.attributes['kafkaheaderprotox'], '1');
    assert.equal(event.attributes['kafkaheaderconstructor'], '2');
  });
});
