/**
 * JWKS key rotation at the ingress, against a local OIDC issuer (discovery + JWKS over HTTP, keys
 * from jose) that rotates while the ingress runs:
 *
 *   1. key A published             token(A) 202           JWKS read once
 *   2. key B added (A, B)          token(B) 202           unknown kid: JWKS read again
 *   3. key A removed (B only)      token(A) 401 once the cached JWKS is older than its max age
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type CryptoKey } from 'jose';
import { brokerAudience } from '../../core/contract/paths.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { ceHeaders, readAll, startTestIngress, uniqueBroker } from '../unit/broker-ingress/fixtures.js';

interface SigningKey { readonly kid: string; readonly privateKey: CryptoKey; readonly jwk: JWK }

/** An OIDC issuer on 127.0.0.1:0 that publishes whichever keys `published` holds, counting JWKS reads. */
class TestIssuer {
  published: SigningKey[] = [];
  jwksReads = 0;
  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<TestIssuer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const issuer = new TestIssuer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      response.setHeader('content-type', 'application/json');
      if (request.url === '/.well-known/openid-configuration') {
        response.end(JSON.stringify({ issuer: issuer.url, jwks_uri: `${issuer.url}/keys` }));
      } else if (request.url === '/keys') {
        issuer.jwksReads++;
        response.end(JSON.stringify({ keys: issuer.published.map((key) => key.jwk) }));
      } else {
        response.statusCode = 404;
        response.end('{}');
      }
    });
    return issuer;
  }

  static async key(kid: string): Promise<SigningKey> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
  }

  sign(key: SigningKey, audience: string): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .setIssuer(this.url)
      .setAudience(audience)
      .setSubject('system:serviceaccount:ns:sender')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(key.privateKey);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('OIDC key rotation at the ingress', () => {
  test('tokens signed by a new key verify after rotation; the removed key\'s get 401', async (t) => {
    const issuer = await TestIssuer.start();
    t.after(() => issuer.close());
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const plain = await uniqueBroker(log);
    const audience = brokerAudience(plain.reference.namespace, plain.reference.name);
    const broker = { ...plain, ingress: { ...plain.ingress!, audience } };
    const cacheMaxAgeMs = 1500;
    const { path, topic, post } = await startTestIngress(t, log, {
      resources: [broker],
      config: { oidc: { issuer: issuer.url, jwksCooldownMs: 0, jwksCacheMaxAgeMs: cacheMaxAgeMs } },
    });
    const send = async (token: string): Promise<{ status: number; body: string; json(): Record<string, unknown> }> =>
      post(path, ceHeaders({ authorization: `Bearer ${token}` }), '{}');

    const keyA = await TestIssuer.key('key-a');
    const keyB = await TestIssuer.key('key-b');
    issuer.published = [keyA];
    const tokenA = await issuer.sign(keyA, audience);
    assert.equal((await send(tokenA)).status, 202);
    assert.equal((await send(tokenA)).status, 202);
    assert.equal(issuer.jwksReads, 1, 'the JWKS is cached between requests');

    // A token naming a key the ingress has not seen yet: read before B is published, it is refused.
    const tokenB = await issuer.sign(keyB, audience);
    const early = await send(tokenB);
    assert.equal(early.status, 401, early.body);
    assert.deepEqual(early.json()['details'], { reason: 'signature' });
    assert.equal(issuer.jwksReads, 2, 'an unknown kid makes the ingress read the JWKS again');

    issuer.published = [keyA, keyB];
    const rotated = await send(tokenB);
    assert.equal(rotated.status, 202, rotated.body);
    assert.equal(issuer.jwksReads, 3);
    assert.equal((await send(tokenA)).status, 202, 'the old key still verifies while published');

    // Key A removed: once the cached JWKS is older than its max age, the ingress reads it afresh.
    issuer.published = [keyB];
    await new Promise((resolve) => setTimeout(resolve, cacheMaxAgeMs + 100));
    const old = await send(tokenA);
    assert.equal(old.status, 401, old.body);
    assert.equal(old.json()['code'], 'TOKEN_INVALID');
    assert.deepEqual(old.json()['details'], { reason: 'signature' });
    assert.equal((await send(tokenB)).status, 202, 'the new key keeps verifying');
    assert.equal((await readAll(log, topic)).length, 5);
  });
});
