import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { AttributeValue, CloudEvent } from '../../core/cloudevents/event.js';
import { decodeHttp, encodeHttpBatch, encodeHttpBinary, encodeHttpStructured } from '../../core/cloudevents/http-binding.js';
import { decodeStructuredJson, encodeStructuredJson } from '../../core/cloudevents/json-format.js';
import { fromKafkaRecord, toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { PROTOTYPE_NAMES, settings } from './settings.js';

/**
 * decode(encode(e)) = e for every binding and mode, over generated valid events whose extensions
 * have arbitrary names — prototype names included — and arbitrary (valid) values and data.
 */

// Names the spec or a binding gives a meaning to; extensions are everything else.
const RESERVED = new Set(['specversion', 'id', 'source', 'type', 'datacontenttype', 'dataschema', 'subject', 'time', 'data', 'datacontentencoding', 'schemaurl']);
// CloudEvents Strings: no control characters, lone surrogates or noncharacters.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\ufdd0-\ufdef\ufffe\uffff]/;
const text = fc.string({ unit: fc.oneof(fc.constantFrom('a', ' ', '%', '"', '\\', 'é', '€', '😀', '/', ':'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 30 })
  .filter((s) => !FORBIDDEN.test(s));
const nonEmpty = text.filter((s) => s !== '');
const extensionName = fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES), fc.stringMatching(/^[a-z0-9]{1,20}$/)).filter((n) => !RESERVED.has(n));

function eventOf(values: fc.Arbitrary<AttributeValue>): fc.Arbitrary<CloudEvent> {
  return fc.record({
    id: nonEmpty,
    source: fc.constantFrom('/s', 'https://example.com/a?b=c', 'urn:x:y', 'relative/path'),
    type: nonEmpty,
    subject: fc.option(nonEmpty, { nil: undefined }),
    time: fc.option(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()), { nil: undefined }),
    extensions: fc.dictionary(extensionName, values, { maxKeys: 6 }),
    data: fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a)), { nil: undefined }),
  }).map(({ id, source, type, subject, time, extensions, data }) => {
    const attributes: Record<string, AttributeValue> = { specversion: '1.0', id, source, type };
    if (subject !== undefined) attributes['subject'] = subject;
    if (time !== undefined) attributes['time'] = time;
    for (const [name, value] of Object.entries(extensions)) attributes[name] = value;
    if (data === undefined) return { attributes };
    attributes['datacontenttype'] = 'application/octet-stream';
    return { attributes, data };
  });
}

const stringEvents = eventOf(text);
// The JSON format keeps Integer and Boolean extensions typed.
const typedEvents = eventOf(fc.oneof(text, fc.boolean(), fc.integer({ min: -2147483648, max: 2147483647 })));

function same(actual: CloudEvent, expected: CloudEvent): void {
  assert.deepStrictEqual({ ...actual.attributes }, { ...expected.attributes });
  assert.deepStrictEqual(actual.data === undefined ? undefined : Buffer.from(actual.data), expected.data);
}

describe('property: codec round trips', () => {
  test('HTTP binary', () => {
    fc.assert(fc.property(stringEvents, (event) => {
      const message = encodeHttpBinary(event);
      const decoded = decodeHttp(message.headers, message.body ?? Buffer.alloc(0));
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      assert.equal(decoded.events.length, 1);
      same(decoded.events[0]!, event);
    }), settings());
  });

  test('HTTP structured and the JSON format', () => {
    fc.assert(fc.property(typedEvents, (event) => {
      const message = encodeHttpStructured(event);
      const decoded = decodeHttp(message.headers, message.body);
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      same(decoded.events[0]!, event);
      const json = decodeStructuredJson(encodeStructuredJson(event));
      assert.ok(json.ok);
      same(json.event, event);
    }), settings());
  });

  test('HTTP batch', () => {
    fc.assert(fc.property(fc.array(typedEvents, { maxLength: 5 }), (events) => {
      const message = encodeHttpBatch(events);
      const decoded = decodeHttp(message.headers, message.body);
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      assert.equal(decoded.events.length, events.length);
      decoded.events.forEach((e, i) => same(e, events[i]!));
    }), settings());
  });

  test('Kafka binary and structured', () => {
    fc.assert(fc.property(stringEvents, fc.constantFrom('binary' as const, 'structured' as const), (event, mode) => {
      const record = toKafkaRecord(event, mode);
      const decoded = fromKafkaRecord({ key: record.key ?? null, value: record.value, headers: record.headers ?? {} });
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      same(decoded.event, event);
    }), settings());
  });

  test('decoding arbitrary input never throws: a result, ok or an error', () => {
    const headerName = fc.oneof(fc.constantFrom('ce-specversion', 'ce-id', 'ce-source', 'ce-type', 'content-type', 'ce-constructor', 'ce-__proto__', 'ce-tostring'), fc.string({ maxLength: 12 }).map((s) => `ce-${s.toLowerCase()}`));
    const headers = fc.dictionary(headerName, fc.string({ unit: 'binary', maxLength: 20 }), { maxKeys: 8 });
    const body = fc.oneof(fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)), fc.json().map((j) => Buffer.from(j)), fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')));
    fc.assert(fc.property(headers, body, (h, b) => {
      const result = decodeHttp(h, b);
      assert.equal(typeof result.ok, 'boolean');
      const structured = decodeHttp({ ...h, 'content-type': 'application/cloudevents+json' }, b);
      assert.equal(typeof structured.ok, 'boolean');
      const record = fromKafkaRecord({ key: null, value: b, headers: Object.fromEntries(Object.entries(h).map(([k, v]) => [k.replace(/^ce-/, 'ce_'), Buffer.from(v, 'latin1')])) });
      assert.equal(typeof record.ok, 'boolean');
    }), settings());
  });

  test('a JSON object with __proto__ and prototype-named keys: decoded or refused, the keys never lost', () => {
    const key = fc.oneof(fc.constantFrom('__proto__', ...PROTOTYPE_NAMES), fc.stringMatching(/^[a-z0-9]{1,8}$/));
    fc.assert(fc.property(fc.dictionary(key, fc.oneof(text, fc.jsonValue()), { maxKeys: 5 }), (extra) => {
      const object = { specversion: '1.0', id: '1', source: '/s', type: 't', ...extra };
      const result = decodeStructuredJson(Buffer.from(JSON.stringify(object)));
      // A null member is an absent attribute (JSON format §2.2), whatever its name.
      if (Object.hasOwn(extra, '__proto__') && extra['__proto__'] !== null) {
        assert.equal(result.ok, false, 'an invalid name is refused, not dropped');
      } else if (result.ok) {
        for (const name of Object.keys(extra)) if (extra[name] !== null) assert.ok(Object.hasOwn(result.event.attributes, name), name);
      }
    }), settings());
  });
});
