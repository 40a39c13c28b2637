/**
 * The ingress's HTTP contract, one case per status code and rule, on both event logs: a real
 * server on port 0, real requests (undici), and the topic read back to see what was appended.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { fromKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { channelPath } from '../../core/contract/paths.js';
import { makeBroker } from '../helpers/builders.js';
import { uniqueName } from '../helpers/wait.js';
import { ceHeaders, logFactories, readAll, send, startTestIngress, uniqueBroker } from '../unit/broker-ingress/fixtures.js';

const minimal = { specversion: '1.0', id: 'x1', source: '/s', type: 't' };
const structured = { 'content-type': 'application/cloudevents+json' };
const batch = { 'content-type': 'application/cloudevents-batch+json' };

function withoutContentType(headers: Record<string, string>): Record<string, string> {
  const { 'content-type': _contentType, ...rest } = headers;
  return rest;
}

interface Case {
  readonly name: string;
  readonly method?: string;
  /** 'broker' (the served broker), or a literal path. */
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
  readonly status: number;
  readonly code?: string;
  /** Records the request should have appended. */
  readonly appended?: number;
  readonly responseHeaders?: Record<string, string>;
}

const cases: Case[] = [
  { name: 'binary event: 202', headers: ceHeaders(), body: '{"a":1}', status: 202, appended: 1 },
  { name: 'binary event without data or content type: 202', headers: withoutContentType(ceHeaders()), status: 202, appended: 1 },
  { name: 'structured event: 202', headers: structured, body: JSON.stringify({ ...minimal, data: { a: 1 } }), status: 202, appended: 1 },
  { name: '0.3 event: 202', headers: ceHeaders({ 'ce-specversion': '0.3' }), body: '{}', status: 202, appended: 1 },
  { name: 'batch of three: 202', headers: batch, body: JSON.stringify([minimal, { ...minimal, id: 'x2' }, { ...minimal, id: 'x3' }]), status: 202, appended: 3 },
  { name: 'percent-encoded header: 202', headers: ceHeaders({ 'ce-subject': 'caf%C3%A9%20au%20lait' }), status: 202, appended: 1 },
  { name: 'batch with one bad event: 400, nothing appended', headers: batch, body: JSON.stringify([minimal, { ...minimal, id: '' }]), status: 400, code: 'EVENT_INVALID', appended: 0 },
  { name: 'plain JSON POST (not a CloudEvent): 400', headers: { 'content-type': 'application/json' }, body: '{"hello":"world"}', status: 400, code: 'NOT_A_CLOUDEVENT', appended: 0 },
  { name: 'POST with no headers and no body: 400', headers: {}, status: 400, code: 'NOT_A_CLOUDEVENT', appended: 0 },
  { name: 'missing required attribute: 400', headers: ceHeaders({ 'ce-type': '' }), status: 400, code: 'EVENT_INVALID', appended: 0 },
  { name: 'invalid UTF-8 after percent-decoding: 400', headers: ceHeaders({ 'ce-subject': '%C3%28' }), status: 400, code: 'EVENT_INVALID', appended: 0 },
  { name: 'bad time: 400', headers: ceHeaders({ 'ce-time': '2024-13-01T00:00:00Z' }), status: 400, code: 'EVENT_INVALID', appended: 0 },
  { name: 'structured body that is not JSON: 400', headers: structured, body: '{', status: 400, code: 'EVENT_INVALID', appended: 0 },
  { name: 'invalid Content-Type media type: 400', headers: ceHeaders({ 'content-type': 'nonsense' }), body: 'x', status: 400, code: 'EVENT_INVALID', appended: 0 },
  { name: 'unsupported structured format: 415', headers: { 'content-type': 'application/cloudevents+avro' }, body: 'x', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', appended: 0 },
  { name: 'knativebrokerttl 1: 400 (hop limit spent)', headers: ceHeaders({ 'ce-knativebrokerttl': '1' }), status: 400, code: 'TTL_EXHAUSTED', appended: 0 },
  { name: 'knativebrokerttl 0: 400', headers: ceHeaders({ 'ce-knativebrokerttl': '0' }), status: 400, code: 'TTL_EXHAUSTED', appended: 0 },
  { name: 'knativebrokerttl not an integer: 400', headers: ceHeaders({ 'ce-knativebrokerttl': 'many' }), status: 400, code: 'EVENT_INVALID', appended: 0 },
  { name: 'unknown broker: 404', path: '/ns/no-such-broker', headers: ceHeaders(), status: 404, code: 'NOT_FOUND', appended: 0 },
  { name: 'unknown path shape: 404', path: '/a/b/c/d', headers: ceHeaders(), status: 404, code: 'NOT_FOUND', appended: 0 },
  { name: 'GET on a broker: 405 with Allow', method: 'GET', status: 405, code: 'METHOD_NOT_ALLOWED', responseHeaders: { allow: 'POST, OPTIONS' } },
  { name: 'PUT on a broker: 405 with Allow', method: 'PUT', headers: ceHeaders(), body: '{}', status: 405, code: 'METHOD_NOT_ALLOWED', appended: 0, responseHeaders: { allow: 'POST, OPTIONS' } },
  { name: 'DELETE on a broker: 405', method: 'DELETE', status: 405, code: 'METHOD_NOT_ALLOWED' },
  { name: 'GET on an unknown path: 404', method: 'GET', path: '/ns/nothing', status: 404, code: 'NOT_FOUND' },
  { name: 'body one byte over 1 MiB (the default limit): 413', headers: ceHeaders({ 'content-type': 'application/octet-stream' }), body: Buffer.alloc(1024 * 1024 + 1, 1), status: 413, code: 'BODY_TOO_LARGE', appended: 0 },
  {
    name: 'OPTIONS: webhook handshake', method: 'OPTIONS', headers: { 'webhook-request-origin': 'eventemitter.example.com', 'webhook-request-rate': '120' }, status: 200,
    responseHeaders: { allow: 'POST, OPTIONS', 'webhook-allowed-origin': 'eventemitter.example.com', 'webhook-allowed-rate': '*' },
  },
  { name: 'OPTIONS on an unknown path: 404', method: 'OPTIONS', path: '/ns/nothing', status: 404, code: 'NOT_FOUND' },
];

for (const kind of logFactories) {
  describe(`ingress over the ${kind.name} log`, () => {
    test('status codes, one case per rule', async (t) => {
      const log = kind.create(t);
      const { ingress, path, topic } = await startTestIngress(t, log);
      let expectedRecords = 0;
      for (const c of cases) {
        await t.test(c.name, async () => {
          const reply = await send(ingress.url, c.method ?? 'POST', c.path ?? path, c.headers, c.body);
          assert.equal(reply.status, c.status, reply.body);
          if (c.code !== undefined) {
            const body = reply.json();
            assert.equal(body['code'], c.code);
            assert.equal(body['statusCode'], c.status);
            assert.equal(typeof body['message'], 'string');
            assert.ok((body['message'] as string).length > 10, 'the body says what was wrong');
          }
          for (const [name, value] of Object.entries(c.responseHeaders ?? {})) assert.equal(reply.headers[name], value, name);
          expectedRecords += c.appended ?? 0;
          assert.equal((await readAll(log, topic)).length, expectedRecords, 'records on the topic');
        });
      }
    });

    test('a 400 names the attribute, value and rule', async (t) => {
      const log = kind.create(t);
      const { post, path } = await startTestIngress(t, log);
      const reply = await post(path, ceHeaders({ 'ce-source': 'not a uri%20' }));
      assert.equal(reply.status, 400);
      const issues = (reply.json()['details'] as { issues: { attribute: string; value: string; rule: string; message: string }[] }).issues;
      assert.deepEqual({ ...issues[0], message: undefined }, { attribute: 'source', value: 'not a uri ', rule: 'uri-reference', message: undefined });
      assert.match(issues[0]!.message, /URI-reference/);
    });

    test('a 202 event is on the topic with ce_ headers, the TTL set and the partition key as record key', async (t) => {
      const log = kind.create(t);
      const { post, path, topic } = await startTestIngress(t, log);
      const id = uniqueName('evt');
      const reply = await post(path, ceHeaders({ 'ce-id': id, 'ce-partitionkey': 'order-42', 'ce-subject': 'caf%C3%A9' }), '{"n":1}');
      assert.equal(reply.status, 202);
      assert.equal(reply.body, '');
      const [record] = await readAll(log, topic);
      assert.ok(record);
      assert.deepEqual(record.key, Buffer.from('order-42'));
      assert.equal(record.headers['ce_id']?.toString(), id);
      assert.equal(record.headers['ce_subject']?.toString(), 'café');
      assert.equal(record.headers['ce_knativebrokerttl']?.toString(), '255');
      assert.equal(record.headers['content-type']?.toString(), 'application/json');
      assert.equal(record.value?.toString(), '{"n":1}');
      const decoded = fromKafkaRecord(record);
      assert.ok(decoded.ok);
    });

    test('knativebrokerttl is decremented by one', async (t) => {
      const log = kind.create(t);
      const { post, path, topic } = await startTestIngress(t, log);
      assert.equal((await post(path, ceHeaders({ 'ce-knativebrokerttl': '5' }))).status, 202);
      assert.equal((await post(path, { 'content-type': 'application/cloudevents+json' }, JSON.stringify({ ...minimal, knativebrokerttl: 2 }))).status, 202);
      const ttls = (await readAll(log, topic)).map((r) => r.headers['ce_knativebrokerttl']?.toString()).sort();
      assert.deepEqual(ttls, ['1', '4']);
    });

    test('the TTL is a broker rule: a channel path takes an event whose TTL is spent, untouched', async (t) => {
      const log = kind.create(t);
      const name = uniqueName('ch').toLowerCase();
      const channel = makeBroker(name, [], { kind: 'KafkaChannel', uid: `ch-${name}`, ingress: { path: channelPath('ns', name), contentMode: 'binary' }, topics: [`channel-${name}`] });
      await log.ensureTopic(`channel-${name}`, { partitions: 1, replicationFactor: 1 });
      const { post } = await startTestIngress(t, log, { resources: [channel] });
      assert.equal((await post(channelPath('ns', name), ceHeaders({ 'ce-knativebrokerttl': '1' }))).status, 202);
      const [record] = await readAll(log, `channel-${name}`);
      assert.equal(record?.headers['ce_knativebrokerttl']?.toString(), '1');
    });

    test('structured content mode on the resource writes structured records', async (t) => {
      const log = kind.create(t);
      const broker = await uniqueBroker(log, {});
      const sink = { ...broker, kind: 'KafkaSink' as const, ingress: { path: broker.ingress!.path, contentMode: 'structured' as const } };
      const { post, path, topic } = await startTestIngress(t, log, { resources: [sink] });
      assert.equal((await post(path, ceHeaders({ 'ce-id': 'st-1' }), '{"a":1}')).status, 202);
      const [record] = await readAll(log, topic);
      assert.equal(record?.headers['content-type']?.toString(), 'application/cloudevents+json; charset=UTF-8');
      assert.deepEqual(JSON.parse(record!.value!.toString()), { specversion: '1.0', id: 'st-1', source: '/test/producer', type: 'test.ingress', datacontenttype: 'application/json', data: { a: 1 } });
    });

    test('raw invalid UTF-8 bytes in a ce- header: 400, nothing appended', async (t) => {
      const log = kind.create(t);
      const { ingress, path, topic } = await startTestIngress(t, log);
      const head = `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\nce-specversion: 1.0\r\nce-id: 1\r\nce-source: /s\r\nce-type: t\r\nce-subject: `;
      const raw = Buffer.concat([Buffer.from(head), Buffer.from([0x61, 0xff, 0x62]), Buffer.from('\r\n\r\n')]);
      const response = await new Promise<string>((resolve, reject) => {
        const socket = connect(ingress.port, '127.0.0.1', () => socket.end(raw));
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('end', () => resolve(Buffer.concat(chunks).toString()));
        socket.on('error', reject);
      });
      assert.match(response, /^HTTP\/1\.1 400/);
      assert.match(response, /"rule":"utf-8"/);
      assert.equal((await readAll(log, topic)).length, 0);
    });
  });
}
