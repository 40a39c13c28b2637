/**
 * Examples from the CloudEvents specifications, run through the codec: the HTTP protocol binding
 * (1.0.2 §3.1.3.2, §3.1.4, §3.2.4, §3.3) and the JSON event format (1.0.2 §3.2 and §4.3), whose
 * examples each show one event in structured form and re-encoded in HTTP binary mode.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeHttp, encodeHttpBinary, encodeHttpStructured, percentEncode } from '../../core/cloudevents/http-binding.js';
import { fromKafkaRecord, toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';

const structured = { 'content-type': 'application/cloudevents+json' };
const common = {
  specversion: '1.0', type: 'com.example.someevent', source: '/mycontext', time: '2018-04-05T17:31:00Z',
  comexampleextension1: 'value', comexampleothervalue: 5,
};

describe('HTTP binding 1.0.2', () => {
  test('§3.1.3.2: "Euro € 😀" is percent-encoded as Euro%20%E2%82%AC%20%F0%9F%98%80, and back', () => {
    assert.equal(percentEncode('Euro € 😀'), 'Euro%20%E2%82%AC%20%F0%9F%98%80');
    const decoded = decodeHttp({ 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', 'ce-subject': 'Euro%20%E2%82%AC%20%F0%9F%98%80' }, Buffer.alloc(0));
    assert.ok(decoded.ok);
    assert.equal(decoded.events[0]!.attributes['subject'], 'Euro € 😀');
  });

  test('§3.1.4 binary content mode example', () => {
    const body = Buffer.from('{\n    "appinfoA" : "abc"\n}');
    const decoded = decodeHttp({
      host: 'webhook.example.com', 'ce-specversion': '1.0', 'ce-type': 'com.example.someevent', 'ce-time': '2018-04-05T03:56:24Z',
      'ce-id': '1234-1234-1234', 'ce-source': '/mycontext/subcontext', 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length),
    }, body);
    assert.ok(decoded.ok);
    assert.equal(decoded.mode, 'binary');
    assert.deepEqual(decoded.events[0]!.attributes, {
      specversion: '1.0', type: 'com.example.someevent', time: '2018-04-05T03:56:24Z', id: '1234-1234-1234', source: '/mycontext/subcontext',
      datacontenttype: 'application/json; charset=utf-8',
    });
    assert.ok(decoded.events[0]!.data!.equals(body));
  });

  test('§3.2.4 structured content mode example', () => {
    const decoded = decodeHttp({ 'content-type': 'application/cloudevents+json; charset=utf-8' }, Buffer.from(`{
    "specversion" : "1.0",
    "type" : "com.example.someevent",
    "time" : "2018-04-05T03:56:24Z",
    "id" : "1234-1234-1234",
    "source" : "/mycontext/subcontext",
    "data" : {
        "appinfoA" : "abc"
    }
}`));
    assert.ok(decoded.ok);
    assert.equal(decoded.mode, 'structured');
    assert.equal(decoded.events[0]!.data!.toString(), '{\n        "appinfoA" : "abc"\n    }');
  });
});

// JSON format 1.0.2 §3.2: each example and the binary-mode headers and body the spec shows for it.
const jsonExamples: { name: string; event: Record<string, unknown>; headers: Record<string, string>; body: Buffer | undefined }[] = [
  {
    name: 'Binary-valued data (data_base64)',
    event: { ...common, id: 'A234-1234-1234', datacontenttype: 'application/vnd.apache.thrift.binary', data_base64: Buffer.from([0x0b, 0x00, 0x01, 0xff]).toString('base64') },
    headers: { 'content-type': 'application/vnd.apache.thrift.binary' },
    body: Buffer.from([0x0b, 0x00, 0x01, 0xff]),
  },
  {
    name: 'XML string data, with an unset (null) extension',
    event: { ...common, id: 'B234-1234-1234', unsetextension: null, datacontenttype: 'application/xml', data: '<much wow="xml"/>' },
    headers: { 'content-type': 'application/xml' },
    body: Buffer.from('<much wow="xml"/>'),
  },
  {
    name: 'JSON object data, with a null subject',
    event: { ...common, id: 'C234-1234-1234', subject: null, datacontenttype: 'application/json', data: { appinfoA: 'abc', appinfoB: 123, appinfoC: true } },
    headers: { 'content-type': 'application/json' },
    body: Buffer.from('{"appinfoA":"abc","appinfoB":123,"appinfoC":true}'),
  },
  {
    name: 'a JSON string as data and no datacontenttype: application/json is made explicit',
    event: { ...common, id: 'D234-1234-1234', subject: null, data: "I'm just a string" },
    headers: { 'content-type': 'application/json' },
    body: Buffer.from('"I\'m just a string"'),
  },
];

describe('JSON format 1.0.2 §3.2 examples, re-encoded in HTTP binary mode', () => {
  for (const example of jsonExamples) {
    test(example.name, () => {
      const decoded = decodeHttp(structured, Buffer.from(JSON.stringify(example.event)));
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.error.message);
      const binary = encodeHttpBinary(decoded.events[0]!);
      assert.equal(binary.headers['ce-id'], example.event['id']);
      assert.equal(binary.headers['ce-comexampleothervalue'], '5');
      assert.equal(binary.headers['ce-subject'], undefined, 'a null attribute is unset');
      assert.equal(binary.headers['ce-unsetextension'], undefined);
      for (const [name, value] of Object.entries(example.headers)) assert.equal(binary.headers[name], value);
      assert.deepEqual(binary.body, example.body);
      // And through Kafka and back to structured JSON: the same event.
      const viaKafka = fromKafkaRecord({ key: null, ...toKafkaRecord(decoded.events[0]!) } as Parameters<typeof fromKafkaRecord>[0]);
      assert.ok(viaKafka.ok);
      const again = decodeHttp(structured, encodeHttpStructured(viaKafka.event).body);
      assert.ok(again.ok);
      assert.deepEqual(again.events[0]!.data, decoded.events[0]!.data);
    });
  }
});

describe('JSON batch format 1.0.2 §4.3', () => {
  test('the two-event example', () => {
    const body = JSON.stringify([
      { ...common, source: '/mycontext/4', id: 'B234-1234-1234', datacontenttype: 'application/vnd.apache.thrift.binary', data_base64: 'AAEC' },
      { ...common, type: 'com.example.someotherevent', source: '/mycontext/9', id: 'C234-1234-1234', time: '2018-04-05T17:31:05Z', datacontenttype: 'application/json', data: { appinfoA: 'abc', appinfoB: 123, appinfoC: true } },
    ]);
    const decoded = decodeHttp({ 'content-type': 'application/cloudevents-batch+json' }, Buffer.from(body));
    assert.ok(decoded.ok);
    assert.equal(decoded.mode, 'batch');
    assert.deepEqual(decoded.events.map((e) => e.attributes['id']), ['B234-1234-1234', 'C234-1234-1234']);
    assert.deepEqual(decoded.events[0]!.data, Buffer.from([0, 1, 2]));
    assert.equal(decoded.events[1]!.data!.toString(), '{"appinfoA":"abc","appinfoB":123,"appinfoC":true}');
  });
  test('the empty batch', () => {
    const decoded = decodeHttp({ 'content-type': 'application/cloudevents-batch+json' }, Buffer.from('[]'));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.events, []);
  });
});
