import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { ControllerTokenSource, oidcTokensUrlOf } from '../../../dispatcher/oidc-tokens.js';
import { makeEgress } from '../../helpers/builders.js';

/** The dispatcher's client of the controller's /oidc-tokens, against a real HTTP server standing in for the controller. */

const egress = makeEgress('t', { auth: { serviceAccount: { namespace: 'default', name: 'oidc-trigger-t' }, destinationAudience: 'aud' } });

async function tokenServer(t: { after(fn: () => Promise<void>): void }, answer: (url: URL, request: IncomingMessage, response: ServerResponse) => void): Promise<{ url: string; calls: URL[] }> {
  const calls: URL[] = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url!, 'http://x');
    calls.push(url);
    // Answer a little later, so that concurrent callers overlap.
    setTimeout(() => answer(url, request, response), 20);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oidc-tokens`, calls };
}

describe('ControllerTokenSource', () => {
  test('concurrent deliveries share one request; the token is reused until 80 % of its life', async (t) => {
    let issued = 0;
    const server = await tokenServer(t, (url, request, response) => {
      assert.equal(request.headers.authorization, 'Bearer admin-token');
      issued++;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ token: `token-${issued}-${url.searchParams.get('egress')}-${url.searchParams.get('audience')}`, expiresAt: new Date(now + 100_000).toISOString() }));
    });
    let now = Date.now();
    const source = new ControllerTokenSource({ url: server.url, adminToken: () => 'admin-token', now: () => now });
    const tokens = await Promise.all(Array.from({ length: 5 }, () => source.token(egress, 'aud')));
    assert.deepEqual(new Set(tokens), new Set([`token-1-${egress.uid}-aud`]));
    assert.equal(source.requests, 1);
    now += 79_000;
    assert.equal(await source.token(egress, 'aud'), `token-1-${egress.uid}-aud`);
    now += 2_000;
    assert.equal(await source.token(egress, 'aud'), `token-2-${egress.uid}-aud`, 'past 80 %: a new one');
    assert.equal(source.requests, 2);
  });

  test('a refusal is one line with the controller\'s message, and is not cached', async (t) => {
    let refuse = true;
    const server = await tokenServer(t, (_url, _request, response) => {
      response.setHeader('content-type', 'application/json');
      if (refuse) {
        response.statusCode = 404;
        response.end(JSON.stringify({ statusCode: 404, code: 'NOT_FOUND', message: 'no egress x with a destination of audience aud in the contract' }));
      } else {
        response.end(JSON.stringify({ token: 'late', expiresAt: new Date(Date.now() + 3_600_000).toISOString() }));
      }
    });
    const source = new ControllerTokenSource({ url: server.url });
    await assert.rejects(source.token(egress, 'aud'), /^Error: the controller gave no token for audience aud \(HTTP 404: no egress x with a destination of audience aud in the contract\)$/);
    refuse = false;
    assert.equal(await source.token(egress, 'aud'), 'late');
    assert.equal(server.calls.length, 2);
  });

  test('its URL sits beside the contract\'s', () => {
    assert.equal(oidcTokensUrlOf('http://controller:9090/contract'), 'http://controller:9090/oidc-tokens');
    assert.equal(oidcTokensUrlOf('https://controller.example/admin/contract?after=3'), 'https://controller.example/admin/oidc-tokens');
  });
});
