/**
 * The event POSTs served from Node's request handler (broker-ingress/fast-post.ts) answer exactly
 * as fastify's route does: the same requests, hostile ones included, sent over raw sockets to an
 * ingress with the fast path and one without, give the same bytes back (the Date header aside),
 * close the connection alike, count the same metrics and append the same events.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { connect } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { InProcessContractSource } from '../../core/contract/source.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { silentLogger } from '../../core/logger.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import { ingressConfigSchema, type IngressConfig } from '../../broker-ingress/config.js';
import { startIngress, type RunningIngress } from '../../broker-ingress/main.js';
import { plainPath } from '../../broker-ingress/fast-post.js';
import { makeBroker, makeContract } from '../helpers/builders.js';
import { connectRaw } from '../helpers/raw-http.js';
import { readAll } from '../unit/broker-ingress/fixtures.js';

const PATH = '/ns/fast';
const TOPIC = makeBroker('fast', [], {}, 'ns').topics[0]!;

interface Side {
  readonly ingress: RunningIngress;
  readonly log: MemoryEventLog;
  readonly contracts: InProcessContractSource;
}

async function startSide(t: TestContext, fastPosts: boolean, config: Partial<IngressConfig> = {}, publish = true): Promise<Side> {
  const log = new MemoryEventLog();
  t.after(() => log.close());
  const broker = makeBroker('fast', [], {}, 'ns');
  await log.ensureTopic(broker.topics[0]!, { partitions: 1, replicationFactor: 1 });
  const contracts = new InProcessContractSource();
  // /ns/hop has no topic on the log; /ns/secured asks for OIDC tokens, which this ingress cannot check (503).
  const hop = makeBroker('hop', [], { ingress: { path: '/ns/hop', contentMode: 'binary' } }, 'ns');
  const secured = makeBroker('secured', [], { ingress: { path: '/ns/secured', contentMode: 'binary', audience: 'secured-audience' } }, 'ns');
  if (publish) contracts.publish(makeContract([broker, hop, secured]));
  const metrics = createMetricsRegistry({ processMetrics: false });
  const ingress = await startIngress({
    config: ingressConfigSchema.parse({ host: '127.0.0.1', port: 0, ...config }),
    log,
    contracts,
    logger: silentLogger(),
    metrics,
    fastPosts,
  });
  t.after(() => ingress.close());
  return { ingress, log, contracts };
}

interface Exchange {
  /** What came back, with the Date header's value blanked. */
  readonly response: string;
  /** Whether the server closed the connection after answering. */
  readonly closed: boolean;
}

/** Sends raw bytes on a new connection; waits for the answer (or the close) and a little more. */
function exchange(url: string, request: string | Buffer, settleMs = 150): Promise<Exchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let data = '';
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ response: data.replace(/^date: .*$/gim, 'date: -'), closed });
    };
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(finish, settleMs);
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('error', () => undefined);
    socket.once('connect', () => socket.write(request));
    socket.once('error', reject);
    timer = setTimeout(finish, 2000);
  });
}

const head = (lines: string[]): string => `${lines.join('\r\n')}\r\n\r\n`;

/** A binary-mode POST: the request line's target, extra or replacing headers, and a body. */
function binary(target: string, body = '{"a":1}', headers: Record<string, string | undefined> = {}): string {
  const all: Record<string, string | undefined> = {
    host: '127.0.0.1',
    'ce-specversion': '1.0',
    'ce-id': 'e-1',
    'ce-source': '/fast',
    'ce-type': 'test.fast',
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  };
  const lines = [`POST ${target} HTTP/1.1`, ...Object.entries(all).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v!}`)];
  return head(lines) + body;
}

function plain(method: string, target: string, headers: Record<string, string> = {}, body = ''): string {
  const all = { host: '127.0.0.1', ...(body.length > 0 ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers };
  return head([`${method} ${target} HTTP/1.1`, ...Object.entries(all).map(([k, v]) => `${k}: ${v}`)]) + body;
}

const structured = JSON.stringify({ specversion: '1.0', id: 's-1', source: '/fast', type: 'test.structured', data: { a: 1 } });
const batch = JSON.stringify([
  { specversion: '1.0', id: 'b-1', source: '/fast', type: 'test.batch' },
  { specversion: '1.0', id: 'b-2', source: '/fast', type: 'test.batch' },
]);
const chunked = (target: string, parts: string[]): string =>
  head([`POST ${target} HTTP/1.1`, 'host: 127.0.0.1', 'ce-specversion: 1.0', 'ce-id: c-1', 'ce-source: /fast', 'ce-type: test.chunked', 'content-type: text/plain', 'transfer-encoding: chunked']) +
  parts.map((part) => `${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`).join('') + '0\r\n\r\n';

/** Requests both sides must answer alike, by name. */
const corpus: Record<string, string> = {
  'binary event': binary(PATH),
  'binary, keep-alive then a second request on the connection': binary(PATH) + binary(PATH, '{"b":2}', { 'ce-id': 'e-2' }),
  'structured event, charset parameter': binary(PATH, structured, { 'ce-specversion': undefined, 'ce-id': undefined, 'ce-source': undefined, 'ce-type': undefined, 'content-type': 'application/cloudevents+json; charset=UTF-8' }),
  'batch': binary(PATH, batch, { 'ce-specversion': undefined, 'ce-id': undefined, 'ce-source': undefined, 'ce-type': undefined, 'content-type': 'application/cloudevents-batch+json' }),
  'chunked binary event': chunked(PATH, ['hello ', 'world']),
  'no ce-id: 400': binary(PATH, '{}', { 'ce-id': undefined }),
  'not a CloudEvent, no body, no content type: 400': plain('POST', PATH),
  'empty body with a content type: 400': plain('POST', PATH, { 'content-type': 'application/json', 'content-length': '0' }),
  'hop limit spent: 400': binary(PATH, '{}', { 'ce-knativebrokerttl': '1' }),
  'hop limit not a number: 400': binary(PATH, '{}', { 'ce-knativebrokerttl': 'many' }),
  'unknown path: 404': binary('/ns/nothing'),
  'root path': binary('/'),
  '/__proto__/x': binary('/__proto__/x'),
  '/constructor/prototype': binary('/constructor/prototype'),
  '/__proto__': binary('/__proto__'),
  '/hasOwnProperty/valueOf': binary('/hasOwnProperty/valueOf'),
  'trailing slash': binary(`${PATH}/`),
  'a path longer than the router’s parameter limit': binary(`/ns/${'a'.repeat(300)}`),
  'a path with bytes beyond ASCII': binary('/ns/f\u00e4st'),
  'a path with a space-like byte': binary('/ns/f\u0001st'),
  'double slash': binary(`/ns//fast`),
  'query string': binary(`${PATH}?x=1`),
  'repeated query parameter: 400': binary(`${PATH}?x=1&x=2`),
  'percent-encoded path': binary('/ns%2Ffast'),
  'percent-encoded letters': binary('/ns/f%61st'),
  'bad percent-encoding': binary('/ns/%zz'),
  'fragment': binary(`${PATH}#frag`),
  'semicolon': binary(`${PATH};x=1`),
  'absolute-form target': binary(`http://127.0.0.1${PATH}`),
  'asterisk target': binary('*'),
  'content type not a media type': binary(PATH, '{}', { 'content-type': 'json' }),
  'content type with spaces': binary(PATH, '{}', { 'content-type': ' application/json ' }),
  'content type with a bad character': binary(PATH, '{}', { 'content-type': 'application/js(on' }),
  'content type with two slashes': binary(PATH, '{}', { 'content-type': 'application/json/x' }),
  'content type empty': binary(PATH, '{}', { 'content-type': '' }),
  'content type uppercase with parameters': binary(PATH, '{}', { 'content-type': 'Application/JSON;charset="utf-8"' }),
  'accept-version header': binary(PATH, '{}', { 'accept-version': '1.x' }),
  'declared body over the limit: 413, connection closed': binary(PATH, 'x'.repeat(10), { 'content-length': String(70 * 1024) }),
  'chunked body over the limit: 413': chunked(PATH, ['x'.repeat(40 * 1024), 'y'.repeat(40 * 1024)]),
  'batch with more events than may be in flight: 413': binary(PATH, JSON.stringify(Array.from({ length: 5 }, (_, i) => ({ specversion: '1.0', id: `m-${i}`, source: '/fast', type: 't' }))), {
    'ce-specversion': undefined, 'ce-id': undefined, 'ce-source': undefined, 'ce-type': undefined, 'content-type': 'application/cloudevents-batch+json',
  }),
  'GET on the path: 405': plain('GET', PATH),
  'PUT on the path: 405': plain('PUT', PATH, { 'content-type': 'text/plain' }, 'x'),
  'OPTIONS handshake': plain('OPTIONS', PATH, { 'webhook-request-origin': 'example.com' }),
  'DELETE on an unknown path: 404': plain('DELETE', '/ns/nothing'),
  'HTTP/1.0 POST': binary(PATH).replace('HTTP/1.1', 'HTTP/1.0'),
  'Connection: close POST': binary(PATH, '{}', { connection: 'close' }),
  'expect 100-continue': binary(PATH, '{}', { expect: '100-continue' }),
  'malformed header line': `POST ${PATH} HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n`,
  'content-length not a number': binary(PATH, '{}', { 'content-length': 'ten' }),
  'a served path whose topic is missing: 503': binary('/ns/hop', '{}', { 'ce-id': 'h-1' }),
  'a path asking for sender tokens the ingress cannot check: 503 before the body': binary('/ns/secured', '{}', { authorization: 'Bearer x.y.z' }),
  'the same, chunked': chunked('/ns/secured', ['a', 'b']),
};

/** What some answers must be (all must be the same on both sides). */
const expected: Record<string, RegExp> = {
  'binary event': /^HTTP\/1\.1 202 Accepted\r\ncontent-length: 0\r\n/,
  'chunked binary event': /^HTTP\/1\.1 202 /,
  'no ce-id: 400': /^HTTP\/1\.1 400 [^]*"code":"EVENT_INVALID"/,
  '/__proto__/x': /^HTTP\/1\.1 404 [^]*no broker, channel or sink is served at \/__proto__\/x/,
  '/constructor/prototype': /^HTTP\/1\.1 404 /,
  'hop limit spent: 400': /"code":"TTL_EXHAUSTED"/,
  'declared body over the limit: 413, connection closed': /^HTTP\/1\.1 413 [^]*connection: close\r\n[^]*"code":"BODY_TOO_LARGE"/,
  'batch with more events than may be in flight: 413': /"code":"BATCH_TOO_LARGE"/,
  'a served path whose topic is missing: 503': /^HTTP\/1\.1 503 [^]*retry-after: 5\r\n[^]*"code":"TOPIC_NOT_FOUND"/,
  'a path asking for sender tokens the ingress cannot check: 503 before the body': /^HTTP\/1\.1 503 [^]*retry-after: 5\r\n[^]*"code":"AUTH_UNAVAILABLE"/,
};

const config: Partial<IngressConfig> = { bodyLimitBytes: 64 * 1024, maxBufferedBytes: 60 * 1024, maxInFlightEvents: 4 };

describe('ingress fast path answers as fastify does', () => {
  test('every request of the corpus: same bytes, same connection handling, same events and metrics', async (t) => {
    const fast = await startSide(t, true, config);
    const slow = await startSide(t, false, config);
    // fastify's route handlers each event POST reached, by server port: none on the fast side.
    const handled = new Map<number, number>();
    const onHandler = (message: unknown): void => {
      const request = (message as { request: { method: string; url: string; raw: { socket: { localPort: number } } } }).request;
      if (request.method !== 'POST' || request.url !== PATH) return;
      const port = request.raw.socket.localPort;
      handled.set(port, (handled.get(port) ?? 0) + 1);
    };
    subscribe('tracing:fastify.request.handler:start', onHandler);
    t.after(() => unsubscribe('tracing:fastify.request.handler:start', onHandler));
    assert.deepEqual(Object.keys(expected).filter((name) => !(name in corpus)), []);
    const differences: string[] = [];
    for (const [name, request] of Object.entries(corpus)) {
      const [a, b] = await Promise.all([exchange(fast.ingress.url, request), exchange(slow.ingress.url, request)]);
      if (a.response !== b.response || a.closed !== b.closed) differences.push(`${name}:\n  fast: ${JSON.stringify(a)}\n  fastify: ${JSON.stringify(b)}`);
      assert.notEqual(a.response, '', `${name}: an answer`);
      const shape = expected[name];
      if (shape !== undefined) assert.match(a.response, shape, name);
    }
    assert.deepEqual(differences, []);
    // Only what the fast path leaves (a Content-Type with spaces, Accept-Version, ...) reaches fastify's handler.
    const [byFastify, byFastifyToo] = [handled.get(Number(new URL(fast.ingress.url).port)) ?? 0, handled.get(Number(new URL(slow.ingress.url).port)) ?? 0];
    assert.ok(byFastifyToo - byFastify >= 10, `fastify's handler ran ${byFastify} times with the fast path, ${byFastifyToo} without`);
    const events = async (side: Side): Promise<string[]> => (await readAll(side.log, TOPIC)).map((r) => `${r.headers['ce_id']?.toString() ?? ''} ${r.value?.toString() ?? ''}`);
    const appended = await events(fast);
    assert.ok(appended.length >= 6, `events appended: ${appended.length}`);
    assert.deepEqual(appended, await events(slow));
    const counts = async (side: Side): Promise<string[]> => {
      const text = await (await fetch(`${side.ingress.url}/metrics`)).text();
      return text.split('\n').filter((line) => line.startsWith('kn_eventing_dispatch_latency_ms_count'));
    };
    const fastCounts = await counts(fast);
    assert.ok(fastCounts.some((line) => line.includes('http_response_status_code="413"')), fastCounts.join('\n'));
    assert.ok(fastCounts.some((line) => line.includes('http_response_status_code="400"')), fastCounts.join('\n'));
    assert.deepEqual(fastCounts, await counts(slow));
  });

  test('no contract yet: 503 with Retry-After, alike', async (t) => {
    const fast = await startSide(t, true, {}, false);
    const slow = await startSide(t, false, {}, false);
    const [a, b] = [await exchange(fast.ingress.url, binary(PATH)), await exchange(slow.ingress.url, binary(PATH))];
    assert.match(a.response, /^HTTP\/1\.1 503 .*\r\n[^]*retry-after: 5\r\n/i);
    assert.deepEqual(a, b);
  });

  test('a slow body: 408 after requestTimeoutMs, alike', async (t) => {
    const fast = await startSide(t, true, { requestTimeoutMs: 400, headersTimeoutMs: 300 });
    const slow = await startSide(t, false, { requestTimeoutMs: 400, headersTimeoutMs: 300 });
    const partial = binary(PATH, '{}', { 'content-length': '100' });
    const [a, b] = await Promise.all([exchange(fast.ingress.url, partial, 2500), exchange(slow.ingress.url, partial, 2500)]);
    assert.match(a.response, /^HTTP\/1\.1 408 /);
    assert.deepEqual(a, b);
  });

  for (const fastPosts of [true, false]) test(`closing (fast path ${fastPosts ? 'on' : 'off'}): a request in flight finishes with 202, the next one on its connection gets fastify’s 503`, async (t) => {
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const broker = makeBroker('fast', [], {}, 'ns');
    await log.ensureTopic(broker.topics[0]!, { partitions: 1, replicationFactor: 1 });
    // Appends wait until released: a request is in flight when the ingress starts closing.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowLog = Object.assign(Object.create(log) as MemoryEventLog, {
      append: async (...args: Parameters<MemoryEventLog['append']>) => {
        await held;
        return log.append(...args);
      },
    });
    const contracts = new InProcessContractSource();
    contracts.publish(makeContract([broker]));
    const ingress = await startIngress({ config: ingressConfigSchema.parse({ host: '127.0.0.1', port: 0 }), log: slowLog, contracts, logger: silentLogger(), fastPosts });
    // The second request arrives on the first's connection once closing has begun (the connection
    // is busy, so closing does not end it): fastify answers it 503.
    const connection = await connectRaw(ingress.url);
    t.after(() => connection.close());
    await connection.write(binary(PATH));
    await new Promise((resolve) => setTimeout(resolve, 150));
    const closed = ingress.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await connection.write(binary(PATH, '{}', { 'ce-id': 'e-2' }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    const { data } = await connection.closed;
    await closed;
    const response = data.replace(/^date: .*$/gim, 'date: -');
    assert.match(response, /^HTTP\/1\.1 202 Accepted\r\n[^]*\r\n\r\nHTTP\/1\.1 503 Service Unavailable\r\n[^]*Connection: close\r\n[^]*\{"error":"Service Unavailable","message":"Service Unavailable","statusCode":503\}$/);
    assert.equal((await readAll(log, TOPIC)).length, 1);
  });
});

describe('plainPath', () => {
  const cases: [string, boolean][] = [
    ['/ns/name', true],
    ['/', true],
    ['/__proto__/x', true],
    ['/ns/name?x=1', false],
    ['/ns%2Fname', false],
    ['/ns/name#f', false],
    ['/ns/name;x', false],
    ['http://h/ns/name', false],
    ['*', false],
    ['', false],
  ];
  for (const [url, expected] of cases) {
    test(`${JSON.stringify(url)} → ${expected}`, () => assert.equal(plainPath(url), expected));
  }
});
