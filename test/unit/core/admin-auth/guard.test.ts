import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { csrfTokenOf, registerAdminGuard, staticTokenAuth, type AdminAuth } from '../../../../core/admin-auth/index.js';
import { safeNext } from '../../../../core/admin-auth/login-page.js';
import { createHttpServer, registerHealth } from '../../../../core/http-server.js';
import { silentLogger } from '../../../../core/logger.js';

const TOKEN = 'a-token-of-at-least-16-chars';
const HOST = '127.0.0.1:9090';

async function server(t: TestContext, auth: AdminAuth | undefined) {
  const app = createHttpServer({ bodyLimitBytes: 1024, logger: silentLogger() });
  registerAdminGuard(app, { auth, hostNames: ['admin.example'] });
  registerHealth(app, { notReadyReason: async () => undefined });
  const posted: unknown[] = [];
  app.get('/things', async (request) => ({ csrf: csrfTokenOf(request) ?? null }));
  app.post('/replay', async (request) => {
    posted.push(request.body);
    return { ok: true };
  });
  await app.ready();
  t.after(() => app.close());
  const call = (method: 'GET' | 'POST', url: string, headers: Record<string, string> = {}, payload?: string) =>
    app.inject({ method, url, headers: { host: HOST, ...headers }, ...(payload === undefined ? {} : { payload }) });
  return { app, posted, call };
}

const bearer = { authorization: `Bearer ${TOKEN}` };
const json = { 'content-type': 'application/json' };

test('health is open to anyone; everything else needs the token', async (t) => {
  const { call } = await server(t, staticTokenAuth(TOKEN));
  assert.equal((await call('GET', '/healthz', { host: 'evil.example' })).statusCode, 200);
  const none = await call('GET', '/things');
  assert.equal(none.statusCode, 401);
  assert.equal(none.json().code, 'UNAUTHENTICATED');
  assert.equal(none.headers['www-authenticate'], 'Bearer realm="kafka-broker admin"');
  assert.equal((await call('GET', '/things', { authorization: 'Bearer wrong-token-wrong-token' })).statusCode, 401);
  assert.equal((await call('GET', '/things', bearer)).statusCode, 200);
});

test('the CSRF reproduction: a text/plain form post from another site, under its Host, is refused and reaches nothing', async (t) => {
  const { call, posted } = await server(t, staticTokenAuth(TOKEN));
  const attack = { 'content-type': 'text/plain', origin: 'http://evil.example' };
  const rebound = await call('POST', '/replay', { ...attack, host: 'evil.example' }, '{"all":true,"to":"http://evil.example/"}');
  assert.equal(rebound.statusCode, 403);
  assert.match(rebound.json().message, /Host header "evil\.example"/);
  const crossSite = await call('POST', '/replay', { ...attack, ...bearer }, '{"all":true}');
  assert.equal(crossSite.statusCode, 403);
  assert.match(crossSite.json().message, /Origin "http:\/\/evil\.example"/);
  const textPlain = await call('POST', '/replay', { 'content-type': 'text/plain', ...bearer }, '{"all":true}');
  assert.equal(textPlain.statusCode, 415);
  const fetchSite = await call('POST', '/replay', { ...json, ...bearer, 'sec-fetch-site': 'cross-site' }, '{}');
  assert.equal(fetchSite.statusCode, 403);
  assert.deepEqual(posted, []);
  assert.equal((await call('POST', '/replay', { ...json, ...bearer, origin: `http://${HOST}` }, '{}')).statusCode, 200);
  assert.equal(posted.length, 1);
});

test('Host names: IP literals, localhost and the configured ones', async (t) => {
  const { call } = await server(t, staticTokenAuth(TOKEN));
  for (const host of ['localhost:9090', 'admin.example:9090', '10.0.0.7:9090']) assert.equal((await call('GET', '/things', { ...bearer, host })).statusCode, 200, host);
  assert.equal((await call('GET', '/things', { ...bearer, host: 'rebound.example:9090' })).statusCode, 403);
});

test('a browser logs in with the token: HttpOnly SameSite=Strict cookie, then its POSTs need the CSRF token', async (t) => {
  const { call, posted } = await server(t, staticTokenAuth(TOKEN));
  const page = await call('GET', '/things?x=1', { accept: 'text/html' });
  assert.equal(page.statusCode, 303);
  assert.equal(page.headers.location, '/login?next=%2Fthings%3Fx%3D1');
  const loginPage = await call('GET', '/login?next=%2Fthings');
  assert.equal(loginPage.statusCode, 200);
  assert.match(loginPage.body, /data-next="\/things"/);
  assert.equal((await call('POST', '/login', json, JSON.stringify({ token: 'wrong-token-wrong-token' }))).statusCode, 401);
  assert.equal((await call('POST', '/login', { 'content-type': 'text/plain' }, JSON.stringify({ token: TOKEN }))).statusCode, 415);
  const login = await call('POST', '/login', json, JSON.stringify({ token: TOKEN }));
  assert.equal(login.statusCode, 200);
  const setCookie = String(login.headers['set-cookie']);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  const cookie = { cookie: setCookie.split(';')[0]! };
  const { csrf } = (await call('GET', '/things', cookie)).json() as { csrf: string };
  assert.ok(csrf.length >= 40);
  assert.equal((await call('POST', '/replay', { ...cookie, ...json }, '{}')).statusCode, 403);
  assert.equal((await call('POST', '/replay', { ...cookie, ...json, 'x-csrf-token': `${csrf}x` }, '{}')).statusCode, 403);
  assert.deepEqual(posted, []);
  assert.equal((await call('POST', '/replay', { ...cookie, ...json, 'x-csrf-token': csrf }, '{}')).statusCode, 200);
  assert.equal((await call('POST', '/logout', { ...cookie, ...json, 'x-csrf-token': csrf }, '{}')).statusCode, 204);
  assert.equal((await call('GET', '/things', cookie)).statusCode, 401, 'the session ended');
});

test('authorization: an identity the scheme does not allow gets 403', async (t) => {
  const auth: AdminAuth = {
    description: 'test',
    authenticate: async (token) => (token === TOKEN ? { name: 'reader', groups: [] } : undefined),
    authorize: async (_identity, action) => action.method === 'GET',
  };
  const { call } = await server(t, auth);
  assert.equal((await call('GET', '/things', bearer)).statusCode, 200);
  const denied = await call('POST', '/replay', { ...bearer, ...json }, '{}');
  assert.equal(denied.statusCode, 403);
  assert.equal(denied.json().message, 'reader may not POST /replay');
});

test('without authentication (loopback only) the cross-site checks still hold', async (t) => {
  const { call } = await server(t, undefined);
  assert.equal((await call('GET', '/things')).statusCode, 200);
  assert.equal((await call('GET', '/things', { host: 'evil.example' })).statusCode, 403);
  assert.equal((await call('POST', '/replay', { 'content-type': 'text/plain' }, '{}')).statusCode, 415);
  assert.equal((await call('POST', '/replay', { ...json, origin: 'http://evil.example' }, '{}')).statusCode, 403);
  assert.equal((await call('GET', '/login')).statusCode, 404);
});

test('safeNext: only a path of this server', () => {
  assert.equal(safeNext('/dead-letters?sink=a'), '/dead-letters?sink=a');
  for (const bad of [undefined, '//evil.example/', 'http://evil.example/', '/\\evil.example', 'dead-letters']) assert.equal(safeNext(bad), '/dead-letters', String(bad));
});
