import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { registerAdminGuard, staticTokenAuth } from '../../core/admin-auth/index.js';
import { toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import { createHttpServer, listen } from '../../core/http-server.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { silentLogger } from '../../core/logger.js';
import { registerTailRoutes } from '../../dispatcher/tail/routes.js';
import { makeBroker, makeContract, makeEgress } from '../helpers/builders.js';
import { makeEvent } from '../helpers/servers.js';

/**
 * The live view on the admin server (GET /tail) and the stream it reads (GET /tail/<ns>/<broker>):
 * the page is behind the login like the others, its script puts event content on the page only as
 * text, and the stream answers a browser's login session the way the page's other requests are
 * answered (same Host and Origin only), and nobody without a token or session.
 */
const TOKEN = 'live-view-token-0123456789abcdef';
const HOSTILE = '<img src=x onerror=alert(1)></script><script>alert(2)</script>';

async function world(t: { after: (fn: () => Promise<void>) => void }): Promise<{ url: string; stream: string }> {
  const log = new MemoryEventLog({ logger: silentLogger() });
  const broker = makeBroker('live', [makeEgress('orders')]);
  await log.ensureTopic(broker.topics[0]!, { partitions: 1, replicationFactor: 1 });
  await log.append(broker.topics[0]!, [toKafkaRecord(makeEvent({ id: 'hostile-1', type: HOSTILE }, HOSTILE))]);
  const app = createHttpServer({ bodyLimitBytes: 64 * 1024, logger: silentLogger() });
  registerAdminGuard(app, { auth: staticTokenAuth(TOKEN) });
  registerTailRoutes(app, { log, contracts: new InProcessContractSource(makeContract([broker])), logger: silentLogger() });
  const { url } = await listen(app, '127.0.0.1', 0);
  // The server first: its streams end before the log closes.
  t.after(async () => {
    const closing = app.close();
    // fetch may hold a spare connection that never sent a request; Node would wait out its headers timeout.
    app.server.closeAllConnections();
    await closing;
    await log.close();
  });
  return { url, stream: `${url}/tail/default/live?n=5` };
}

async function login(url: string): Promise<string> {
  const response = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) });
  assert.equal(response.status, 200);
  return response.headers.get('set-cookie')!.split(';')[0]!;
}

test('the live view: behind the login, a panel streaming the chosen broker with EventSource, event content only as text', async (t) => {
  const { url } = await world(t);
  const anonymous = await fetch(`${url}/tail`, { headers: { accept: 'text/html' }, redirect: 'manual' });
  assert.equal(anonymous.status, 303);
  assert.equal(anonymous.headers.get('location'), '/login?next=%2Ftail');

  const cookie = await login(url);
  const page = await fetch(`${url}/tail`, { headers: { accept: 'text/html', cookie } });
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /<section id="live"/);
  assert.match(html, /<option value="default\/live">default\/live<\/option>/);
  assert.match(html, /<option value="orders" data-broker="default\/live">orders<\/option>/);
  assert.match(html, /new EventSource\('\/tail\/' \+ encodeURIComponent\(namespace\)/);
  assert.match(html, /textContent/);
  for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(']) assert.ok(!html.includes(sink), `the page uses no ${sink}`);
  // Only the page's own script and style run; it connects only to this server.
  const policy = page.headers.get('content-security-policy') ?? '';
  const nonce = /script-src 'nonce-([^']+)'/.exec(policy)?.[1];
  assert.ok(nonce !== undefined, policy);
  assert.match(policy, /default-src 'none'/);
  assert.match(policy, /connect-src 'self'/);
  assert.ok(html.includes(`<script nonce="${nonce}">`));
  assert.equal(page.headers.get('cache-control'), 'no-store');
});

test('the stream the live view reads: the session of the page, same origin only; nobody else', async (t) => {
  const { url, stream } = await world(t);
  const cookie = await login(url);
  const host = new URL(url).host;
  const refused: [Record<string, string>, number][] = [
    [{}, 401],
    [{ cookie: 'kafka-broker-admin-1=forged' }, 401],
    [{ cookie: cookie.replace(/=.*/, '=not-a-session') }, 401],
    [{ cookie, origin: 'http://evil.example' }, 403],
    [{ cookie, host: 'evil.example' }, 403],
    [{ authorization: 'Bearer wrong-token-wrong-token' }, 401],
  ];
  for (const [headers, status] of refused) {
    // undici's request sends the Host header it is given (fetch would not).
    const response = await request(stream, { headers, headersTimeout: 5000, bodyTimeout: 5000 });
    assert.equal(response.statusCode, status, JSON.stringify(headers));
    assert.doesNotMatch(await response.body.text(), /hostile-1/);
  }
  // The session cookie from the page (with its own Origin, as a browser's EventSource may send it).
  for (const headers of [{ cookie, accept: 'text/event-stream' } as Record<string, string>, { cookie, accept: 'text/event-stream', origin: `http://${host}` }, { authorization: `Bearer ${TOKEN}` }]) {
    const abort = new AbortController();
    const response = await fetch(stream, { headers, signal: abort.signal });
    assert.equal(response.status, 200, JSON.stringify(headers));
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('hostile-1')) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    // The hostile type arrives as JSON data for the script to set as text, one line per event.
    const data = /^data: (.*)$/m.exec(text)![1]!;
    assert.equal((JSON.parse(data) as { type: string }).type, HOSTILE);
  }
});
