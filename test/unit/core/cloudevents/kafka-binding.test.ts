import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CloudEvent } from '../../../../core/cloudevents/event.js';
import { fromKafkaRecord, toKafkaRecord, type KafkaRecordIn } from '../../../../core/cloudevents/kafka-binding.js';

const minimal = { specversion: '1.0', id: 'A234', source: '/mycontext', type: 'com.example.someevent' };
const b = (text: string): Buffer => Buffer.from(text);
const asIn = (record: ReturnType<typeof toKafkaRecord>): KafkaRecordIn => ({ key: record.key ?? null, value: record.value, headers: record.headers ?? {} });

describe('toKafkaRecord (binary)', () => {
  test('attributes become ce_ headers, datacontenttype becomes content-type, data the value', () => {
    const record = toKafkaRecord({ attributes: { ...minimal, datacontenttype: 'application/json', subject: 'café' }, data: b('{"a":1}') });
    assert.deepEqual(record.headers, {
      ce_specversion: b('1.0'), ce_id: b('A234'), ce_source: b('/mycontext'), ce_type: b('com.example.someevent'),
      'content-type': b('application/json'), ce_subject: b('café'),
    });
    assert.deepEqual(record.value, b('{"a":1}'));
    assert.equal(record.key, null);
  });
  test('partitionkey becomes the record key', () => {
    const record = toKafkaRecord({ attributes: { ...minimal, partitionkey: 'order-7' } });
    assert.deepEqual(record.key, b('order-7'));
    assert.deepEqual(record.headers?.['ce_partitionkey'], b('order-7'));
    assert.equal(record.value, null);
  });
  test('numbers and booleans are written as their text', () => {
    const record = toKafkaRecord({ attributes: { ...minimal, knativebrokerttl: 255, flag: true } });
    assert.deepEqual([record.headers?.['ce_knativebrokerttl'], record.headers?.['ce_flag']], [b('255'), b('true')]);
  });
});

describe('toKafkaRecord (structured)', () => {
  test('the value is the JSON event and content-type says so', () => {
    const event: CloudEvent = { attributes: { ...minimal, datacontenttype: 'application/json', partitionkey: 'k' }, data: b('{"a": 1}') };
    const record = toKafkaRecord(event, 'structured');
    assert.equal(record.headers?.['content-type']?.toString(), 'application/cloudevents+json; charset=UTF-8');
    assert.deepEqual(record.key, b('k'));
    assert.deepEqual(JSON.parse(record.value!.toString()), { ...event.attributes, data: { a: 1 } });
    const back = fromKafkaRecord(asIn(record));
    assert.ok(back.ok);
    assert.deepEqual(back.event, event);
  });
});

describe('fromKafkaRecord', () => {
  const samples: CloudEvent[] = [
    { attributes: minimal },
    { attributes: { ...minimal, datacontenttype: 'application/json', time: '2018-04-05T17:31:00Z', partitionkey: 'p' }, data: b('{"x": [1, 2]}') },
    { attributes: { ...minimal, specversion: '0.3', datacontenttype: 'application/octet-stream' }, data: Buffer.from([0, 255]) },
    { attributes: { ...minimal, subject: 'ünïcödé ✓' }, data: Buffer.alloc(0) },
  ];
  samples.forEach((event, i) => {
    test(`binary round trip ${i}`, () => {
      const back = fromKafkaRecord(asIn(toKafkaRecord(event)));
      assert.ok(back.ok, back.ok ? '' : back.error.message);
      assert.deepEqual(back.event, event);
    });
  });
  test('a key with no partitionkey header becomes partitionkey', () => {
    const headers = asIn(toKafkaRecord({ attributes: minimal })).headers;
    const back = fromKafkaRecord({ key: b('the-key'), value: null, headers });
    assert.ok(back.ok);
    assert.equal(back.event.attributes['partitionkey'], 'the-key');
  });
  test('a record without ce_specversion is not a CloudEvent', () => {
    const back = fromKafkaRecord({ key: null, value: b('{}'), headers: { 'content-type': b('application/json') } });
    assert.equal(back.ok, false);
    assert.equal(!back.ok && back.error.code, 'NOT_A_CLOUDEVENT');
  });
  test('a header that is not UTF-8 is rejected with the attribute named', () => {
    const headers = { ...asIn(toKafkaRecord({ attributes: minimal })).headers, ce_subject: Buffer.from([0xff]) };
    const back = fromKafkaRecord({ key: null, value: null, headers });
    assert.equal(back.ok, false);
    if (back.ok) return;
    assert.equal(back.error.code, 'EVENT_INVALID');
    assert.deepEqual((back.error.details?.['issues'] as { attribute: string; rule: string }[]).map((i) => [i.attribute, i.rule]), [['subject', 'utf-8']]);
  });
  test('an invalid event is rejected', () => {
    const headers = { ce_specversion: b('1.0'), ce_id: b('1'), ce_type: b('t') };
    const back = fromKafkaRecord({ key: null, value: null, headers });
    assert.equal(back.ok, false);
    assert.equal(!back.ok && back.error.code, 'EVENT_INVALID');
  });
  test('a structured record in another format is unsupported', () => {
    const back = fromKafkaRecord({ key: null, value: b('x'), headers: { 'content-type': b('application/cloudevents+avro') } });
    assert.equal(!back.ok && back.error.code, 'UNSUPPORTED_MEDIA_TYPE');
  });
});
