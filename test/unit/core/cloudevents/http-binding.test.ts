import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CloudEvent } from '../../../../core/cloudevents/event.js';
import {
  decodeHttp, encodeHttpBatch, encodeHttpBinary, encodeHttpStructured, isHttpCloudEvent, percentEncode, type HttpHeaders,
} from '../../../../core/cloudevents/http-binding.js';
import { BrokerError } from '../../../../core/errors.js';

const ceHeaders = { 'ce-specversion': '1.0', 'ce-id': 'A234', 'ce-source': '/mycontext', 'ce-type': 'com.example.someevent' };
const structured = { 'content-type': 'application/cloudevents+json' };
const batch = { 'content-type': 'application/cloudevents-batch+json' };
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const minimal = { specversion: '1.0', id: 'A234', source: '/mycontext', type: 'com.example.someevent' };

/** Header bytes as Node's http parser hands them over: one latin1 character per byte. */
const rawBytes = (bytes: number[]): string => Buffer.from(bytes).toString('latin1');

interface Accept {
  readonly name: string;
  readonly headers: HttpHeaders;
  readonly body: Buffer;
  readonly mode: 'binary' | 'structured' | 'batch';
  readonly check: (events: CloudEvent[]) => void;
}

interface Reject {
  readonly name: string;
  readonly headers: HttpHeaders;
  readonly body: Buffer;
  readonly code: BrokerError['code'];
  /** The attribute and rule of the first issue named in the error's details. */
  readonly issue?: { attribute: string; rule: string };
  readonly index?: number;
}

const attr = (events: CloudEvent[], name: string, i = 0): unknown => events[i]!.attributes[name];
const data = (events: CloudEvent[], i = 0): string | undefined => events[i]!.data?.toString('utf8');

const accepted: Accept[] = [
  {
    name: 'binary: minimal event with no body has no data', headers: ceHeaders, body: Buffer.alloc(0), mode: 'binary',
    check: (e) => {
      assert.deepEqual(e[0]!.attributes, minimal);
      assert.equal(e[0]!.data, undefined);
    },
  },
  {
    name: 'binary: Content-Type becomes datacontenttype, body becomes data', headers: { ...ceHeaders, 'content-type': 'text/plain; charset=utf-8' }, body: Buffer.from('hello'), mode: 'binary',
    check: (e) => {
      assert.equal(attr(e, 'datacontenttype'), 'text/plain; charset=utf-8');
      assert.equal(data(e), 'hello');
    },
  },
  { name: 'binary: extensions are kept as strings', headers: { ...ceHeaders, 'ce-myext': '42', 'ce-flag': 'true' }, body: Buffer.alloc(0), mode: 'binary', check: (e) => assert.deepEqual([attr(e, 'myext'), attr(e, 'flag')], ['42', 'true']) },
  { name: 'binary: percent-encoded header is decoded', headers: { ...ceHeaders, 'ce-subject': 'caf%C3%A9%20%22x%22%25' }, body: Buffer.alloc(0), mode: 'binary', check: (e) => assert.equal(attr(e, 'subject'), 'café "x"%') },
  { name: 'binary: lower-case percent escapes are decoded', headers: { ...ceHeaders, 'ce-subject': '%e2%82%ac' }, body: Buffer.alloc(0), mode: 'binary', check: (e) => assert.equal(attr(e, 'subject'), '€') },
  { name: 'binary: raw UTF-8 bytes in a header are read as UTF-8', headers: { ...ceHeaders, 'ce-subject': rawBytes([0x63, 0x61, 0x66, 0xc3, 0xa9]) }, body: Buffer.alloc(0), mode: 'binary', check: (e) => assert.equal(attr(e, 'subject'), 'café') },
  { name: 'binary: a quoted-string header is unquoted', headers: { ...ceHeaders, 'ce-subject': '"a \\"b\\" c"' }, body: Buffer.alloc(0), mode: 'binary', check: (e) => assert.equal(attr(e, 'subject'), 'a "b" c') },
  { name: 'binary: 0.3 event', headers: { ...ceHeaders, 'ce-specversion': '0.3', 'ce-schemaurl': '/schema' }, body: Buffer.from('x'), mode: 'binary', check: (e) => assert.equal(attr(e, 'specversion'), '0.3') },
  { name: 'binary: body bytes are kept exactly (not UTF-8)', headers: { ...ceHeaders, 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 0xff, 0xfe, 0x80]), mode: 'binary', check: (e) => assert.deepEqual(e[0]!.data, Buffer.from([0, 0xff, 0xfe, 0x80])) },
  {
    name: 'binary: a long extension name is accepted (warning only)', headers: { ...ceHeaders, 'ce-abcdefghijklmnopqrstuvwxyz': 'x' }, body: Buffer.alloc(0), mode: 'binary',
    check: (e) => assert.equal(attr(e, 'abcdefghijklmnopqrstuvwxyz'), 'x'),
  },
  {
    name: 'structured: JSON data keeps its exact bytes', headers: structured, body: Buffer.from('{"specversion":"1.0","id":"A234","source":"/mycontext","type":"t","datacontenttype":"application/json","data" : { "b":1 ,"a" : [ 1.50, "x\\"}]" ] } }'), mode: 'structured',
    check: (e) => assert.equal(data(e), '{ "b":1 ,"a" : [ 1.50, "x\\"}]" ] }'),
  },
  {
    name: 'structured: data with no datacontenttype is JSON and the type is made explicit', headers: structured, body: json({ ...minimal, data: 'I am a string' }), mode: 'structured',
    check: (e) => {
      assert.equal(attr(e, 'datacontenttype'), 'application/json');
      assert.equal(data(e), '"I am a string"');
    },
  },
  { name: 'structured: +json content types are JSON', headers: structured, body: json({ ...minimal, datacontenttype: 'application/vnd.x+json', data: [1, 2] }), mode: 'structured', check: (e) => assert.equal(data(e), '[1,2]') },
  { name: 'structured: explicit null data is the JSON text null', headers: structured, body: json({ ...minimal, data: null }), mode: 'structured', check: (e) => assert.equal(data(e), 'null') },
  { name: 'structured: text data is the string itself', headers: structured, body: json({ ...minimal, datacontenttype: 'application/xml', data: '<much wow="xml"/>' }), mode: 'structured', check: (e) => assert.equal(data(e), '<much wow="xml"/>') },
  { name: 'structured: data_base64 is decoded', headers: structured, body: json({ ...minimal, datacontenttype: 'application/octet-stream', data_base64: Buffer.from([1, 2, 255]).toString('base64') }), mode: 'structured', check: (e) => assert.deepEqual(e[0]!.data, Buffer.from([1, 2, 255])) },
  {
    name: 'structured: null attributes are absent, JSON types are kept', headers: structured, body: json({ ...minimal, subject: null, count: 5, flag: false }), mode: 'structured',
    check: (e) => assert.deepEqual(e[0]!.attributes, { ...minimal, count: 5, flag: false }),
  },
  { name: 'structured: no data means no data', headers: structured, body: json(minimal), mode: 'structured', check: (e) => assert.equal(e[0]!.data, undefined) },
  {
    name: 'structured: 0.3 base64 data is decoded and datacontentencoding dropped', headers: structured, body: json({ ...minimal, specversion: '0.3', datacontenttype: 'application/octet-stream', datacontentencoding: 'base64', data: 'AQL/' }), mode: 'structured',
    check: (e) => {
      assert.deepEqual(e[0]!.data, Buffer.from([1, 2, 255]));
      assert.equal(attr(e, 'datacontentencoding'), undefined);
    },
  },
  { name: 'structured: content type parameters and case are ignored', headers: { 'content-type': 'Application/CloudEvents+JSON; charset=UTF-8' }, body: json(minimal), mode: 'structured', check: (e) => assert.equal(attr(e, 'id'), 'A234') },
  { name: 'structured: ce- headers are ignored', headers: { ...structured, 'ce-id': 'other' }, body: json(minimal), mode: 'structured', check: (e) => assert.equal(attr(e, 'id'), 'A234') },
  { name: 'structured: an escaped "data" key is still data', headers: structured, body: Buffer.from('{"specversion":"1.0","id":"1","source":"/s","type":"t","d\\u0061ta":{"x":1}}'), mode: 'structured', check: (e) => assert.equal(data(e), '{"x":1}') },
  { name: 'structured: the last of duplicate data members wins, as in JSON.parse', headers: structured, body: Buffer.from('{"data":1,"specversion":"1.0","id":"1","source":"/s","type":"t","data":[2]}'), mode: 'structured', check: (e) => assert.equal(data(e), '[2]') },
  {
    name: 'batch: two events, each with its own data', headers: batch, body: Buffer.from(`[ ${JSON.stringify({ ...minimal, id: '1', data: { a: 1 } })} ,\n${JSON.stringify({ ...minimal, id: '2', datacontenttype: 'text/plain', data: 'two' })} ]`), mode: 'batch',
    check: (e) => {
      assert.equal(e.length, 2);
      assert.deepEqual([attr(e, 'id', 0), data(e, 0), attr(e, 'id', 1), data(e, 1)], ['1', '{"a":1}', '2', 'two']);
    },
  },
  { name: 'batch: empty batch', headers: batch, body: Buffer.from('[]'), mode: 'batch', check: (e) => assert.equal(e.length, 0) },
];

const rejected: Reject[] = [
  { name: 'no ce-specversion and a JSON content type is not a CloudEvent', headers: { 'content-type': 'application/json' }, body: Buffer.from('{}'), code: 'NOT_A_CLOUDEVENT' },
  { name: 'no headers at all is not a CloudEvent', headers: {}, body: Buffer.from('x'), code: 'NOT_A_CLOUDEVENT' },
  { name: 'ce- headers without ce-specversion is not a CloudEvent', headers: { 'ce-id': '1', 'ce-type': 't', 'ce-source': '/' }, body: Buffer.alloc(0), code: 'NOT_A_CLOUDEVENT' },
  { name: 'binary: missing ce-id', headers: { ...ceHeaders, 'ce-id': undefined }, body: Buffer.alloc(0), code: 'EVENT_INVALID', issue: { attribute: 'id', rule: 'required' } },
  { name: 'binary: unknown spec version', headers: { ...ceHeaders, 'ce-specversion': '0.2' }, body: Buffer.alloc(0), code: 'EVENT_INVALID', issue: { attribute: 'specversion', rule: 'specversion' } },
  { name: 'binary: percent-encoded invalid UTF-8', headers: { ...ceHeaders, 'ce-subject': 'a%FFb' }, body: Buffer.alloc(0), code: 'EVENT_INVALID', issue: { attribute: 'subject', rule: 'utf-8' } },
  { name: 'binary: overlong UTF-8 encoding', headers: { ...ceHeaders, 'ce-subject': '%C0%AF' }, body: Buffer.alloc(0), code: 'EVENT_INVALID', issue: { attribute: 'subject', rule: 'utf-8' } },
  { name: 'binary: raw invalid UTF-8 byte', headers: { ...ceHeaders, 'ce-subject': rawBytes([0x61, 0xff]) }, body: Buffer.alloc(0), code: 'EVENT_INVALID', issue: { attribute: 'subject', rule: 'utf-8' } },
  { name: 'binary: truncated UTF-8 sequence', headers: { ...ceHeaders, 'ce-subject': '%E2%82' }, body: Buffer.alloc(0), code: 'EVENT_INVALID', issue: { attribute: 'subject', rule: 'utf-8' } },
  { name: 'binary: invalid percent escape', headers: { ...ceHeaders, 'ce-subject': '100%' }, body: Buffer.alloc(0), code: 'EVENT_INVALID', issue: { attribute: 'subject', rule: 'percent-encoding' } },
  { name: 'binary: source that is not a URI-reference', headers: { ...ceHeaders, 'ce-source': 'my%20source' }, body: Buffer.alloc(0), code: 'EVENT_INVALID', issue: { attribute: 'source', rule: 'uri-reference' } },
  { name: 'binary: time that is not RFC 3339', headers: { ...ceHeaders, 'ce-time': 'Thu, 05 Apr 2018 17:31:00 GMT' }, body: Buffer.alloc(0), code: 'EVENT_INVALID', issue: { attribute: 'time', rule: 'rfc3339' } },
  { name: 'binary: a ce-__proto__ header is an invalid name, not a lost one', headers: { ...ceHeaders, 'ce-__proto__': 'x' }, body: Buffer.alloc(0), code: 'EVENT_INVALID', issue: { attribute: '__proto__', rule: 'name' } },
  { name: 'structured: a __proto__ member is an invalid name, not a lost one', headers: structured, body: Buffer.from('{"specversion":"1.0","id":"1","source":"/s","type":"t","__proto__":"x"}'), code: 'EVENT_INVALID', issue: { attribute: '__proto__', rule: 'name' } },
  { name: 'binary: extension name with an underscore', headers: { ...ceHeaders, 'ce-my_ext': 'x' }, body: Buffer.alloc(0), code: 'EVENT_INVALID', issue: { attribute: 'my_ext', rule: 'name' } },
  { name: 'binary: 0.3 schemaurl that is not a URI-reference', headers: { ...ceHeaders, 'ce-specversion': '0.3', 'ce-schemaurl': 'a%20b' }, body: Buffer.alloc(0), code: 'EVENT_INVALID', issue: { attribute: 'schemaurl', rule: 'uri-reference' } },
  { name: 'structured: body is not JSON', headers: structured, body: Buffer.from('{"id":'), code: 'EVENT_INVALID', issue: { attribute: '(body)', rule: 'json' } },
  { name: 'structured: body is not UTF-8', headers: structured, body: Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xff]), Buffer.from('"}')]), code: 'EVENT_INVALID', issue: { attribute: '(body)', rule: 'utf-8' } },
  { name: 'structured: body is an array', headers: structured, body: json([minimal]), code: 'EVENT_INVALID', issue: { attribute: '(body)', rule: 'json-object' } },
  { name: 'structured: attribute is an object', headers: structured, body: json({ ...minimal, ext: { a: 1 } }), code: 'EVENT_INVALID', issue: { attribute: 'ext', rule: 'value-type' } },
  { name: 'structured: data and data_base64 together', headers: structured, body: json({ ...minimal, data: 1, data_base64: 'AQ==' }), code: 'EVENT_INVALID', issue: { attribute: 'data_base64', rule: 'data-exclusive' } },
  { name: 'structured: data_base64 that is not Base64', headers: structured, body: json({ ...minimal, data_base64: 'not base64!' }), code: 'EVENT_INVALID', issue: { attribute: 'data_base64', rule: 'base64' } },
  { name: 'structured: numeric id', headers: structured, body: json({ ...minimal, id: 7 }), code: 'EVENT_INVALID', issue: { attribute: 'id', rule: 'string' } },
  { name: 'structured: missing type', headers: structured, body: json({ ...minimal, type: undefined }), code: 'EVENT_INVALID', issue: { attribute: 'type', rule: 'required' } },
  { name: 'structured: other event formats are unsupported', headers: { 'content-type': 'application/cloudevents+xml' }, body: Buffer.from('<e/>'), code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'batch: not an array', headers: batch, body: json(minimal), code: 'EVENT_INVALID', issue: { attribute: '(body)', rule: 'json-array' } },
  { name: 'batch: an element that is not an object', headers: batch, body: json([minimal, 'x']), code: 'EVENT_INVALID', issue: { attribute: '(body)', rule: 'json-object' }, index: 1 },
  { name: 'batch: one bad event rejects the whole batch', headers: batch, body: json([minimal, { ...minimal, source: 'a b' }, minimal]), code: 'EVENT_INVALID', issue: { attribute: 'source', rule: 'uri-reference' }, index: 1 },
];

describe('decodeHttp accepts', () => {
  for (const c of accepted) {
    test(c.name, () => {
      const result = decodeHttp(c.headers, c.body);
      assert.ok(result.ok, result.ok ? '' : result.error.message);
      assert.equal(result.mode, c.mode);
      c.check(result.events);
    });
  }
  test('a long extension name comes back as a warning', () => {
    const result = decodeHttp({ ...ceHeaders, 'ce-abcdefghijklmnopqrstuvwxyz': 'x' }, Buffer.alloc(0));
    assert.ok(result.ok);
    assert.deepEqual(result.warnings?.map((w) => w.rule), ['name-length']);
  });
});

describe('decodeHttp rejects', () => {
  for (const c of rejected) {
    test(c.name, () => {
      const result = decodeHttp(c.headers, c.body);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.ok(result.error instanceof BrokerError);
      assert.equal(result.error.code, c.code, result.error.message);
      assert.ok(result.error.message.length > 0);
      if (c.issue) {
        const issues = result.error.details?.['issues'] as { attribute: string; rule: string; message: string }[];
        assert.equal(issues[0]!.attribute, c.issue.attribute, result.error.message);
        assert.equal(issues[0]!.rule, c.issue.rule, result.error.message);
        assert.equal(result.error.message.includes(issues[0]!.message), true, 'the message carries the first issue');
      }
      if (c.index !== undefined) assert.equal(result.error.details?.['index'], c.index);
    });
  }
});

describe('isHttpCloudEvent', () => {
  const cases: [string, HttpHeaders, boolean][] = [
    ['binary', ceHeaders, true],
    ['structured', structured, true],
    ['batch', batch, true],
    ['plain JSON', { 'content-type': 'application/json' }, false],
    ['nothing', {}, false],
  ];
  for (const [name, headers, expected] of cases) test(name, () => assert.equal(isHttpCloudEvent(headers), expected));
});

const samples: CloudEvent[] = [
  { attributes: minimal },
  { attributes: { ...minimal, datacontenttype: 'application/json', subject: 'café "quoted" 100% ok', time: '2018-04-05T17:31:00Z' }, data: Buffer.from('{"a": 1}') },
  { attributes: { ...minimal, datacontenttype: 'application/octet-stream', partitionkey: 'k1' }, data: Buffer.from([0, 1, 254, 255]) },
  { attributes: { ...minimal, datacontenttype: 'text/plain' }, data: Buffer.from('plain text ✓') },
  { attributes: { ...minimal, specversion: '0.3', datacontenttype: 'application/octet-stream' }, data: Buffer.from([9, 8, 7]) },
];

describe('encode then decode', () => {
  samples.forEach((event, i) => {
    test(`binary round trip ${i}`, () => {
      const message = encodeHttpBinary(event);
      const decoded = decodeHttp(message.headers, message.body ?? Buffer.alloc(0));
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      assert.deepEqual(decoded.events[0], event);
    });
    test(`structured round trip ${i}`, () => {
      const message = encodeHttpStructured(event);
      const decoded = decodeHttp(message.headers, message.body);
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      const expected = event.data !== undefined && event.attributes['datacontenttype'] === undefined
        ? { ...event, attributes: { ...event.attributes, datacontenttype: 'application/json' } } : event;
      assert.deepEqual(decoded.events[0], expected);
    });
  });
  test('batch round trip', () => {
    const message = encodeHttpBatch(samples);
    const decoded = decodeHttp(message.headers, message.body);
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.events, samples);
  });
  test('structured JSON data is embedded, not quoted; binary data is base64', () => {
    assert.match(encodeHttpStructured(samples[1]!).body.toString(), /"data":\{"a": 1\}\}$/);
    assert.match(encodeHttpStructured(samples[2]!).body.toString(), /"data_base64":"AAH\+\/w=="\}$/);
    assert.match(encodeHttpStructured(samples[3]!).body.toString(), /"data":"plain text ✓"\}$/);
    assert.match(encodeHttpStructured(samples[4]!).body.toString(), /"datacontentencoding":"base64","data":"CQgH"\}$/);
  });
  test('binary headers are percent-encoded and datacontenttype is Content-Type', () => {
    const { headers } = encodeHttpBinary(samples[1]!);
    assert.equal(headers['ce-subject'], 'caf%C3%A9%20%22quoted%22%20100%25%20ok');
    assert.equal(headers['content-type'], 'application/json');
    assert.equal(headers['ce-datacontenttype'], undefined);
  });
  test('binary encoding can leave one attribute out (the broker TTL on the way to a subscriber), the event untouched', () => {
    const event: CloudEvent = { attributes: { ...minimal, knativebrokerttl: 254, subject: 's' } };
    const { headers } = encodeHttpBinary(event, 'knativebrokerttl');
    assert.deepEqual(Object.keys(headers).sort(), ['ce-id', 'ce-source', 'ce-specversion', 'ce-subject', 'ce-type']);
    assert.equal(encodeHttpBinary(event).headers['ce-knativebrokerttl'], '254');
    assert.equal(event.attributes['knativebrokerttl'], 254);
  });
  test('percentEncode leaves printable ASCII alone', () => {
    assert.equal(percentEncode('/a/b?c=d&e#f'), '/a/b?c=d&e#f');
  });
});
