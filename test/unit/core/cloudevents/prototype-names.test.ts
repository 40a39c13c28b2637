import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { entryFor } from '../../../../broker-ingress/ingress-table.js';
import { receive } from '../../../../broker-ingress/receive.js';
import type { AttributeValue, CloudEvent } from '../../../../core/cloudevents/event.js';
import { decodeHttp, encodeHttpBinary, encodeHttpStructured } from '../../../../core/cloudevents/http-binding.js';
import { decodeStructuredJson, encodeStructuredJson } from '../../../../core/cloudevents/json-format.js';
import { fromKafkaRecord, toKafkaRecord } from '../../../../core/cloudevents/kafka-binding.js';
import { validateEvent } from '../../../../core/cloudevents/validate.js';
import { compileCesql } from '../../../../core/cesql/index.js';
import { compileFilter } from '../../../../core/filters/compile.js';
import { deadLetterEvent } from '../../../../dispatcher/error-extensions.js';
import { replyOf, stampReply } from '../../../../dispatcher/reply.js';
import { makeBroker, makeEgress } from '../../../helpers/builders.js';

/**
 * Attribute names that are also names on Object.prototype are extensions like
 * any other — accepted, round-tripped, filtered on — everywhere attributes are kept. `__proto__`
 * is not a valid CloudEvents name (underscores), so it is refused with a clear 400-style error:
 * but it must not vanish on the way (which would let the event through without it).
 */

// Valid CloudEvents names (a-z0-9) that a plain object finds on its prototype, or that are
// lower-case spellings of Object.prototype's methods.
const PROTOTYPE_NAMES = ['constructor', 'hasownproperty', 'tostring', 'valueof', 'isprototypeof', 'propertyisenumerable', 'tolocalestring'];
const minimal = { specversion: '1.0', id: 'p-1', source: '/proto', type: 'proto.test' };

const eventWith = (name: string, value: AttributeValue = 'v'): CloudEvent => ({ attributes: { ...minimal, [name]: value }, data: Buffer.from('{"a":1}') });

describe('prototype-named extensions in the codec', () => {
  for (const name of PROTOTYPE_NAMES) {
    test(`${name}: valid, and round-trips through HTTP binary, structured, and Kafka binary/structured`, () => {
      const event = eventWith(name);
      assert.deepEqual(validateEvent(event), []);

      const binary = encodeHttpBinary(event);
      const fromBinary = decodeHttp({ ...binary.headers }, binary.body ?? Buffer.alloc(0));
      assert.ok(fromBinary.ok, fromBinary.ok ? '' : fromBinary.error.message);
      assert.equal(fromBinary.events[0]!.attributes[name], 'v');

      const structured = encodeHttpStructured(event);
      const fromStructured = decodeHttp(structured.headers, structured.body);
      assert.ok(fromStructured.ok, fromStructured.ok ? '' : fromStructured.error.message);
      assert.equal(fromStructured.events[0]!.attributes[name], 'v');

      for (const mode of ['binary', 'structured'] as const) {
        const record = toKafkaRecord(event, mode);
        const back = fromKafkaRecord({ key: record.key ?? null, value: record.value, headers: record.headers ?? {} });
        assert.ok(back.ok, back.ok ? '' : back.error.message);
        assert.equal(back.event.attributes[name], 'v');
      }
    });
  }

  test('constructor in a ce- header: decoded, not an internal error', () => {
    const result = decodeHttp({ 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', 'ce-constructor': 'x' }, Buffer.alloc(0));
    assert.ok(result.ok);
    assert.equal(result.events[0]!.attributes['constructor'], 'x');
  });

  test('__proto__ as a JSON key survives decoding as an attribute, and is refused by name', () => {
    const body = Buffer.from('{"specversion":"1.0","id":"1","source":"/s","type":"t","__proto__":"x"}');
    const result = decodeStructuredJson(body);
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.error.message : '', /attribute name '__proto__'/);
    assert.equal(!result.ok && result.error.status, 400);
  });

  test('__proto__ (an object) as a JSON key does not become the prototype of the attributes', () => {
    const body = Buffer.from('{"specversion":"1.0","id":"1","source":"/s","type":"t","__proto__":{"polluted":"yes"}}');
    const result = decodeStructuredJson(body);
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.error.message : '', /'__proto__'/);
  });

  test('__proto__ in a ce_ Kafka header is refused by name, not dropped', () => {
    const record = toKafkaRecord({ attributes: minimal });
    const result = fromKafkaRecord({ key: null, value: null, headers: { ...record.headers, ce___proto__: Buffer.from('x') } });
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.error.message : '', /'__proto__'/);
  });

  test('__proto__ survives the JSON encode/decode round trip as an own attribute', () => {
    const attributes = JSON.parse('{"specversion":"1.0","id":"1","source":"/s","type":"t","__proto__":"x"}') as Record<string, AttributeValue>;
    const encoded = encodeStructuredJson({ attributes });
    assert.match(encoded.toString(), /"__proto__":"x"/);
    const record = toKafkaRecord({ attributes });
    assert.deepEqual(record.headers?.['ce___proto__'], Buffer.from('x'));
  });
});

describe('prototype-named extensions at the ingress (receive)', () => {
  const broker = entryFor(makeBroker('b'))!;
  test('binary and structured: accepted, the TTL stamped', () => {
    const binary = receive(broker, { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', 'ce-constructor': 'c', 'ce-hasownproperty': 'h' }, Buffer.alloc(0));
    assert.ok(binary.ok, binary.ok ? '' : binary.error.message);
    assert.equal(binary.events[0]!.attributes['constructor'], 'c');
    assert.equal(binary.events[0]!.attributes['hasownproperty'], 'h');
    assert.equal(binary.events[0]!.attributes['knativebrokerttl'], 255);
    const structured = receive(broker, { 'content-type': 'application/cloudevents+json' }, Buffer.from(JSON.stringify({ ...minimal, constructor: 'c', tostring: 't' })));
    assert.ok(structured.ok, structured.ok ? '' : structured.error.message);
    assert.equal(structured.events[0]!.attributes['constructor'], 'c');
    assert.equal(structured.events[0]!.attributes['tostring'], 't');
  });
  test('__proto__ in a structured body is a 400 naming it', () => {
    const result = receive(broker, { 'content-type': 'application/cloudevents+json' }, Buffer.from(`{"specversion":"1.0","id":"1","source":"/s","type":"t","__proto__":"x"}`));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.error.status, 400);
  });
});

describe('prototype-named extensions in filters', () => {
  const withConstructor = eventWith('constructor', 'order');
  const without: CloudEvent = { attributes: { ...minimal } };
  const cases: [string, Parameters<typeof compileFilter>[0], boolean, boolean][] = [
    ['exact', { kind: 'exact', attributes: { constructor: 'order' } }, true, false],
    ['prefix', { kind: 'prefix', attributes: { constructor: 'or' } }, true, false],
    ['suffix', { kind: 'suffix', attributes: { constructor: 'der' } }, true, false],
    ['legacy attributes, present only', { kind: 'attributes', attributes: { constructor: '' } }, true, false],
    ['prefix on an absent hasownproperty', { kind: 'prefix', attributes: { hasownproperty: 'f' } }, false, false],
    ['cesql equality', { kind: 'cesql', expression: "constructor = 'order'" }, true, false],
    ['cesql EXISTS', { kind: 'cesql', expression: 'EXISTS constructor' }, true, false],
    ['cesql NOT EXISTS tostring', { kind: 'cesql', expression: 'NOT EXISTS tostring' }, true, true],
    ['cesql LIKE', { kind: 'cesql', expression: "constructor LIKE 'ord%'" }, true, false],
  ];
  for (const [name, filter, matchesWith, matchesWithout] of cases) {
    test(name, () => {
      const predicate = compileFilter(filter);
      assert.equal(predicate(withConstructor), matchesWith);
      assert.equal(predicate(without), matchesWithout);
    });
  }
  test('cesql reads an absent constructor as missing (an error), not as Object', () => {
    const compiled = compileCesql('constructor');
    assert.ok(compiled.ok);
    const result = compiled.run(without);
    assert.ok(result.error !== undefined);
    assert.equal(compiled.run(withConstructor).value, 'order');
  });
});

describe('prototype-named extensions in replies and dead letters', () => {
  test('a reply carrying constructor is a reply, stamped with the TTL', () => {
    const reply = replyOf(200, { 'ce-specversion': '1.0', 'ce-id': 'r', 'ce-source': '/r', 'ce-type': 'r', 'ce-constructor': 'c' }, Buffer.alloc(0), false);
    assert.equal(reply.kind, 'reply');
    if (reply.kind !== 'reply') return;
    const stamped = stampReply(reply.event, eventWith('constructor'));
    assert.equal(stamped.kind, 'forward');
    assert.equal(stamped.kind === 'forward' && stamped.event.attributes['constructor'], 'c');
  });
  test('a dead letter keeps constructor and an own __proto__, and drops the TTL', () => {
    const attributes = JSON.parse('{"specversion":"1.0","id":"1","source":"/s","type":"t","constructor":"c","__proto__":"p","knativebrokerttl":"9"}') as Record<string, AttributeValue>;
    const egress = makeEgress('t');
    const dead = deadLetterEvent({ attributes }, { destination: 'http://x/', failure: { kind: 'status', status: 500 } }, makeBroker('b', [egress]), egress);
    assert.equal(dead.attributes['constructor'], 'c');
    assert.equal(Object.getOwnPropertyDescriptor(dead.attributes, '__proto__')?.value, 'p');
    assert.equal(Object.hasOwn(dead.attributes, 'knativebrokerttl'), false);
    assert.equal(dead.attributes['knativeerrorcode'], '500');
  });
});
