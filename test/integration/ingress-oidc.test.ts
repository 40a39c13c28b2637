/**
 * OIDC sender authentication at the ingress with tokens from a real kube-apiserver: a
 * TokenRequest for a service account, verified against the API server's own discovery document
 * and JWKS. Allowed, missing, wrong audience, expired (the ingress's clock moved past `exp`),
 * forged signature, no EventPolicy match (403), and a policy added while the ingress runs.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { decodeProtectedHeader, importPKCS8, SignJWT } from 'jose';
import { brokerAudience } from '../../core/contract/paths.js';
import type { Resource, SenderRule } from '../../core/contract/types.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { SERVICE_ACCOUNT_ISSUER } from '../../scripts/kube/kube.js';
import { startTestKube, type KubeTestClient } from '../helpers/kube.js';
import { ceHeaders, readAll, startTestIngress, uniqueBroker } from '../unit/broker-ingress/fixtures.js';

const NAMESPACE = 'default';
const SENDER = 'sender';
const SUBJECT = `system:serviceaccount:${NAMESPACE}:${SENDER}`;

const kube: KubeTestClient = await startTestKube({ crdsDir: null });
const dir = await mkdtemp(join(tmpdir(), 'ingress-oidc-'));
after(() => rm(dir, { recursive: true, force: true }));
// The ingress reads discovery and JWKS as a pod would, with a bearer token (anonymous access is off).
const tokenFile = join(dir, 'token');
await writeFile(tokenFile, kube.server.token);
const oidc = { issuer: SERVICE_ACCOUNT_ISSUER, discoveryUrl: `${kube.server.url}/.well-known/openid-configuration`, caFile: kube.server.caFile, tokenFile };
const created = await kube.create(`/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, { metadata: { name: SENDER } });
assert.equal(created.status, 201, JSON.stringify(created.body));

/** A token the API server issues for the service account (TokenRequest), for these audiences. */
async function tokenFor(audiences: string[], expirationSeconds = 3600): Promise<string> {
  const response = await kube.create(`/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${SENDER}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { audiences, expirationSeconds },
  });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return (response.body as { status: { token: string } }).status.token;
}

/** A broker whose ingress asks for tokens for its audience, with these EventPolicies (none: any sender). */
async function securedBroker(log: MemoryEventLog, senders?: SenderRule[]): Promise<Resource> {
  const broker = await uniqueBroker(log);
  const { namespace, name } = broker.reference;
  return { ...broker, ingress: { ...broker.ingress!, audience: brokerAudience(namespace, name), ...(senders === undefined ? {} : { senders }) } };
}

const bearer = (token: string): Record<string, string> => ceHeaders({ authorization: `Bearer ${token}` });

describe('OIDC sender authentication at the ingress', () => {
  test('a token for the broker\'s audience is accepted; none, another audience, or garbage get 401', async (t) => {
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const broker = await securedBroker(log);
    const { path, topic, post } = await startTestIngress(t, log, { resources: [broker], config: { oidc } });
    const audience = broker.ingress!.audience!;

    const accepted = await post(path, bearer(await tokenFor([audience])), '{}');
    assert.equal(accepted.status, 202, accepted.body);

    const refusals: [string, Record<string, string>, string][] = [
      ['no token', ceHeaders(), 'missing'],
      ['not a bearer token', ceHeaders({ authorization: 'Basic dXNlcjpwdw==' }), 'malformed'],
      ['not a JWT', bearer('abc.def.ghi'), 'malformed'],
      ['another broker\'s audience', bearer(await tokenFor([brokerAudience(NAMESPACE, 'another')])), 'audience'],
    ];
    for (const [name, headers, reason] of refusals) {
      const reply = await post(path, headers, '{}');
      assert.equal(reply.status, 401, `${name}: ${reply.body}`);
      assert.equal(reply.json()['code'], 'TOKEN_INVALID', name);
      assert.deepEqual(reply.json()['details'], { reason }, name);
    }
    assert.equal((await readAll(log, topic)).length, 1, 'only the authenticated event was appended');
  });

  test('an expired token gets 401 (the ingress\'s clock past the token\'s exp)', async (t) => {
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const broker = await securedBroker(log);
    let skewMs = 0;
    const { path, post } = await startTestIngress(t, log, { resources: [broker], config: { oidc }, now: () => new Date(Date.now() + skewMs) });
    const token = await tokenFor([broker.ingress!.audience!], 600); // the API server's shortest lifetime
    assert.equal((await post(path, bearer(token), '{}')).status, 202);
    skewMs = 11 * 60_000;
    const expired = await post(path, bearer(token), '{}');
    assert.equal(expired.status, 401, expired.body);
    assert.deepEqual(expired.json()['details'], { reason: 'expired' });
    assert.match(String(expired.json()['message']), /expired/);
  });

  test('a forged token gets 401: claims edited under the real signature, or signed by another key', async (t) => {
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const broker = await securedBroker(log, [{ policy: `${NAMESPACE}/admins-only`, subjects: ['system:serviceaccount:kube-system:admin'] }]);
    const { path, post } = await startTestIngress(t, log, { resources: [broker], config: { oidc } });
    const real = await tokenFor([broker.ingress!.audience!]);
    const [header, payload, signature] = real.split('.') as [string, string, string];

    // The same signature over claims that would pass the policy.
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const edited = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'system:serviceaccount:kube-system:admin' })).toString('base64url')}.${signature}`;
    // Well-formed claims and the API server's key id, signed with a key of our own.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ownKey = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'RS256');
    const signedByUs = await new SignJWT({ ...claims, sub: 'system:serviceaccount:kube-system:admin' })
      .setProtectedHeader({ alg: 'RS256', kid: decodeProtectedHeader(real).kid! })
      .sign(ownKey);

    for (const [name, token] of [['edited claims', edited], ['signed by another key', signedByUs]] as const) {
      const reply = await post(path, bearer(token), '{}');
      assert.equal(reply.status, 401, `${name}: ${reply.body}`);
      assert.deepEqual(reply.json()['details'], { reason: 'signature' }, name);
    }
  });

  test('EventPolicies: 403 when none allows the subject; a policy added while running lets it in', async (t) => {
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const others: SenderRule = { policy: `${NAMESPACE}/from-team-b`, subjects: ['system:serviceaccount:team-b:*'] };
    const broker = await securedBroker(log, [others]);
    const { path, topic, post, publish, ingress } = await startTestIngress(t, log, { resources: [broker], config: { oidc } });
    const token = await tokenFor([broker.ingress!.audience!]);

    const refused = await post(path, bearer(token), '{}');
    assert.equal(refused.status, 403, refused.body);
    assert.equal(refused.json()['code'], 'SENDER_NOT_ALLOWED');
    assert.deepEqual(refused.json()['details'], { subject: SUBJECT, policies: [others.policy] });

    // An EventPolicy that selects no broker leaves the list empty: nobody may send.
    publish([{ ...broker, ingress: { ...broker.ingress!, senders: [] } }]);
    await waitForStatus(() => post(path, bearer(token), '{}'), 403);

    const ours: SenderRule = { policy: `${NAMESPACE}/from-default`, subjects: [`system:serviceaccount:${NAMESPACE}:*`] };
    publish([{ ...broker, ingress: { ...broker.ingress!, senders: [others, ours] } }]);
    await waitForStatus(() => post(path, bearer(token), '{}'), 202);
    // Exact subjects too.
    publish([{ ...broker, ingress: { ...broker.ingress!, senders: [{ policy: `${NAMESPACE}/exact`, subjects: [SUBJECT] }] } }]);
    await waitForStatus(() => post(path, bearer(token), '{}'), 202);
    assert.ok((await readAll(log, topic)).length >= 2);
    assert.ok(ingress.url.startsWith('http://'));
  });

  test('a broker that asks for tokens on an ingress without OIDC is refused (503), not served openly', async (t) => {
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const broker = await securedBroker(log);
    const { path, topic, post } = await startTestIngress(t, log, { resources: [broker] });
    const reply = await post(path, bearer(await tokenFor([broker.ingress!.audience!])), '{}');
    assert.equal(reply.status, 503, reply.body);
    assert.equal(reply.json()['code'], 'AUTH_UNAVAILABLE');
    assert.equal((await readAll(log, topic)).length, 0);
  });
});

async function waitForStatus(send: () => Promise<{ status: number; body: string }>, status: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const reply = await send();
    if (reply.status === status) return;
    if (Date.now() > deadline) assert.fail(`expected ${status}, still ${reply.status}: ${reply.body}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
