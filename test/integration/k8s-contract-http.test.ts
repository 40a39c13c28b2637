// How the contract reaches a data plane in other processes: the controller's admin API serves it
// (`GET /contract`: ETag, `?after=<generation>` long-poll, gzip) and `HttpContractSource` fetches
// it, keeping the last good contract through outages. Real HTTP servers on port 0.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import type { FastifyInstance } from 'fastify';
import { createAdminServer, registerResourceRoutes } from '../../controller/admin.js';
import { ContractFeed } from '../../controller/contract-feed.js';
import { HttpContractSource } from '../../core/contract/http-source.js';
import type { Contract } from '../../core/contract/types.js';
import { listen } from '../../core/http-server.js';
import { silentLogger } from '../../core/logger.js';
import { makeBroker, makeContract, makeEgress } from '../helpers/builders.js';
import { waitUntil } from '../helpers/wait.js';

interface Served {
  readonly feed: ContractFeed;
  readonly app: FastifyInstance;
  readonly url: string;
}

async function serve(t: { after(fn: () => Promise<void>): void }, port = 0): Promise<Served> {
  const feed = new ContractFeed();
  const app = createAdminServer({ logger: silentLogger() });
  registerResourceRoutes(app, { objects: () => [], problems: () => [], contract: () => feed.current(), contractChanges: (l) => feed.changes(l) });
  const { url } = await listen(app, '127.0.0.1', port);
  t.after(() => app.close());
  return { feed, app, url: `${url}/contract` };
}

const contract = (generation: number, triggers = 3): Contract =>
  makeContract([makeBroker('orders', Array.from({ length: triggers }, (_, i) => makeEgress(`trigger-${i}`)))], generation);

test('GET /contract: null before the first, then the contract with its generation as ETag; 304 for the same generation', async (t) => {
  const { feed, url } = await serve(t);
  const empty = await request(url);
  assert.equal(empty.statusCode, 200);
  assert.equal(await empty.body.text(), 'null');
  feed.publish(contract(7));
  const full = await request(url);
  assert.equal(full.statusCode, 200);
  assert.equal(full.headers['etag'], '"7"');
  assert.deepEqual(await full.body.json(), JSON.parse(JSON.stringify(contract(7))));
  const same = await request(url, { headers: { 'if-none-match': '"7"' } });
  assert.equal(same.statusCode, 304);
  await same.body.dump();
  const older = await request(url, { headers: { 'if-none-match': '"6"' } });
  assert.equal(older.statusCode, 200);
  await older.body.dump();
});

test('with Accept-Encoding: gzip the body is gzipped, and decompresses to the same contract', async (t) => {
  const { feed, url } = await serve(t);
  feed.publish(contract(1, 500));
  const plain = Buffer.from(await (await request(url)).body.arrayBuffer());
  const zipped = await request(url, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(zipped.headers['content-encoding'], 'gzip');
  const bytes = Buffer.from(await zipped.body.arrayBuffer());
  assert.deepEqual(gunzipSync(bytes), plain);
  t.diagnostic(`500 egresses: ${plain.length} bytes JSON, ${bytes.length} gzipped`);
  assert.ok(bytes.length * 5 < plain.length, 'at least 5x smaller');
});

test('?after=<generation> waits for a newer generation, and answers 304 when none comes in time', async (t) => {
  const { feed, url } = await serve(t);
  feed.publish(contract(1));
  let answered = false;
  const waiting = request(`${url}?after=1&timeoutSeconds=30`).then(async (r) => {
    answered = true;
    return { status: r.statusCode, body: (await r.body.json()) as Contract };
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(answered, false, 'held while the generation is 1');
  feed.publish(contract(2));
  const { status, body } = await waiting;
  assert.equal(status, 200);
  assert.equal(body.generation, 2);
  const started = Date.now();
  const timedOut = await request(`${url}?after=2&timeoutSeconds=1`);
  assert.equal(timedOut.statusCode, 304);
  await timedOut.body.dump();
  assert.ok(Date.now() - started >= 900, 'held for the timeout');
});

test('closing the server answers held long-polls instead of waiting for their timeout', async (t) => {
  const { feed, app, url } = await serve(t);
  feed.publish(contract(1));
  const held = request(`${url}?after=1&timeoutSeconds=300`).then((r) => r.statusCode).catch(() => 'closed');
  await new Promise((r) => setTimeout(r, 100));
  await app.close();
  assert.ok([304, 503, 'closed'].includes(await held));
});

test('HttpContractSource follows every generation, keeps the last good one through an outage, and resumes', async (t) => {
  const first = await serve(t);
  first.feed.publish(contract(1));
  const source = new HttpContractSource({ url: first.url, logger: silentLogger(), timeoutSeconds: 2, retryMinMs: 20, retryMaxMs: 200 }).start();
  t.after(() => source.close());
  const seen: number[] = [];
  source.subscribe((c) => seen.push(c.generation));
  assert.equal((await source.first()).generation, 1);
  first.feed.publish(contract(2, 4));
  await waitUntil(() => source.current()?.generation === 2);
  assert.equal(source.current()?.resources[0]?.egresses.length, 4);

  // The controller goes away: the data plane keeps generation 2 and keeps asking.
  const port = Number(new URL(first.url).port);
  await first.app.close();
  await waitUntil(() => source.stats().errors >= 2, { message: 'failed attempts' });
  assert.equal(source.current()?.generation, 2);

  // A new leader on the same address, whose generations start higher (a new term).
  const second = await serve(t, port);
  second.feed.publish(contract(1_000_000_001, 5));
  await waitUntil(() => source.current()?.generation === 1_000_000_001);
  assert.deepEqual(seen, [1, 2, 1_000_000_001]);
  const stats = source.stats();
  assert.ok(stats.bytesReceived > 0 && stats.bytesReceived < stats.bytesDecoded, 'gzipped on the wire');
  assert.equal(stats.contracts, 3);
});

test("a controller whose generations went back is followed, shifted above what is in force", async (t) => {
  const served = await serve(t);
  served.feed.publish(contract(5));
  const source = new HttpContractSource({ url: served.url, logger: silentLogger(), timeoutSeconds: 2, retryMinMs: 20 }).start();
  t.after(() => source.close());
  await waitUntil(() => source.current()?.generation === 5);
  served.feed.publish(contract(1, 7));
  await waitUntil(() => source.current()?.resources[0]?.egresses.length === 7, { message: 'the new content applied' });
  assert.equal(source.current()?.generation, 6);
  served.feed.publish(contract(2, 8));
  await waitUntil(() => source.current()?.generation === 7);
});

test('an invalid contract leaves the last good one in force', async (t) => {
  let body = JSON.stringify(contract(1));
  let etag = '"1"';
  const server: Server = createServer((req, res) => {
    const after = new URL(req.url ?? '/', 'http://x').searchParams.get('after');
    if (after !== null && `"${after}"` === etag) {
      setTimeout(() => res.writeHead(304).end(), 100);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const source = new HttpContractSource({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/contract`, logger: silentLogger(), timeoutSeconds: 1, retryMinMs: 20 }).start();
  // The client first: a server closing under a polling client waits for it.
  t.after(async () => {
    await source.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  await waitUntil(() => source.current()?.generation === 1);
  body = JSON.stringify({ ...contract(2), resources: [{ kind: 'Nonsense' }] });
  etag = '"2"';
  await waitUntil(() => source.stats().requests >= 4, { message: 'polled past the invalid one' });
  assert.equal(source.current()?.generation, 1);
  body = JSON.stringify(contract(3));
  etag = '"3"';
  await waitUntil(() => source.current()?.generation === 3);
});
