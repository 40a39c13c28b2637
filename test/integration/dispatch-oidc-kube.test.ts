/**
 * OIDC on the way out, in Kubernetes mode: a Trigger whose subscriber has an audience gets an
 * OIDC identity (status.auth.serviceAccountName); the dispatcher presents a token of that identity
 * for that audience, issued by the real kube-apiserver (TokenRequest through the controller's
 * /oidc-tokens). The subscriber verifies each bearer JWT itself: audience, issuer (the API
 * server's) and signature (its JWKS). Tokens are reused until near expiry, counted at both ends.
 *
 *   producer ──token(broker)──▶ ingress ──▶ log ──▶ dispatcher ──token(subscriber)──▶ subscriber
 *                                                     │ GET /oidc-tokens                (verifies)
 *                                                     ▼
 *                                                 controller ──TokenRequest──▶ kube-apiserver
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { TokenVerifier } from '../../broker-ingress/sender-auth.js';
import { OidcTokenIssuer } from '../../controller/kubernetes/oidc-tokens.js';
import { brokerAudience } from '../../core/contract/paths.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { silentLogger } from '../../core/logger.js';
import { dispatcherConfigSchema } from '../../dispatcher/config.js';
import { startDispatcher } from '../../dispatcher/main.js';
import { ControllerTokenSource } from '../../dispatcher/oidc-tokens.js';
import { startTestKube } from '../helpers/kube.js';
import { waitUntil } from '../helpers/wait.js';
import { ceHeaders, send } from '../unit/broker-ingress/fixtures.js';
import {
  BROKERS, broker, create, createServiceAccount, ensureNamespace, kubeOidc, serviceAccountToken, startController, startOidcFrontDoor, SYSTEM_NAMESPACE, testConfig, TRIGGERS, trigger, waitForReady,
} from './k8s-harness.js';

const kube = await startTestKube();
const oidc = await kubeOidc(kube);

const NS = 'orders-oidc';
const SUBSCRIBER_AUDIENCE = 'https://subscriber.example/orders';
const IDENTITY = `system:serviceaccount:${NS}:oidc-trigger-to-subscriber`;

interface Received { readonly id: string; readonly subject?: string; readonly refused?: string }

/** A subscriber that accepts only requests with a valid token for its audience. */
async function startVerifyingSubscriber(t: { after(fn: () => Promise<void>): void }): Promise<{ url: string; received: Received[] }> {
  const verifier = await TokenVerifier.create(oidc);
  const received: Received[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    const id = String(request.headers['ce-id']);
    verifier.verify(request.headers.authorization, SUBSCRIBER_AUDIENCE).then(
      (sender) => {
        received.push({ id, subject: sender.subject });
        response.statusCode = 202;
        response.end();
      },
      (error: unknown) => {
        received.push({ id, refused: (error as Error).message });
        response.statusCode = 401;
        response.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await verifier.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`, received };
}

test('the dispatcher presents the trigger\'s token to a subscriber with an audience; tokens are reused until near expiry', async (t) => {
  const log = new MemoryEventLog();
  t.after(() => log.close());
  const subscriber = await startVerifyingSubscriber(t);

  // The data plane as in the cluster: ingress and dispatcher read the controller's contract feed.
  const { ingress, running, contracts } = await startOidcFrontDoor(t, kube, log, oidc);
  let skewMs = 0;
  const tokens = new ControllerTokenSource({ url: `${running.adminUrl}/oidc-tokens`, adminToken: () => kube.server.token, now: () => Date.now() + skewMs });
  const dispatcher = await startDispatcher({
    config: dispatcherConfigSchema.parse({ shutdownDeadlineMs: 2000, egressRestartBackoffMs: 300, commitIntervalMs: 200 }),
    log,
    contracts,
    logger: silentLogger(),
    tokens,
  });
  t.after(() => dispatcher.close());

  // A producer (allowed by the default mode, same namespace), a broker and a trigger.
  await createServiceAccount(kube, NS, 'producer');
  await create(kube, BROKERS(NS), broker(NS, 'orders'));
  await waitForReady(kube, BROKERS(NS, 'orders'));
  await create(kube, TRIGGERS(NS), trigger(NS, 'to-subscriber', 'orders', { uri: subscriber.url, audience: SUBSCRIBER_AUDIENCE }));
  await waitForReady(kube, TRIGGERS(NS, 'to-subscriber'));
  const status = (await kube.get(TRIGGERS(NS, 'to-subscriber'))).body.status;
  assert.deepEqual(status.auth, { serviceAccountName: 'oidc-trigger-to-subscriber' }, 'the trigger shows its OIDC identity');

  const producerToken = await serviceAccountToken(kube, NS, 'producer', brokerAudience(NS, 'orders'));
  const publish = async (id: string): Promise<void> => {
    await waitUntil(async () => {
      const reply = await send(ingress.url, 'POST', `/${NS}/orders`, ceHeaders({ 'ce-id': id, authorization: `Bearer ${producerToken}` }), '{}');
      return reply.status === 202 || undefined;
    }, { message: `event ${id} accepted` });
  };

  for (const id of ['e1', 'e2', 'e3']) await publish(id);
  await waitUntil(() => (subscriber.received.length >= 3 ? true : undefined), { timeoutMs: 20_000, message: 'three deliveries' });
  // Unordered delivery: compare as a set.
  assert.deepEqual(subscriber.received.map((r) => [r.id, r.subject ?? r.refused]).sort(), [['e1', IDENTITY], ['e2', IDENTITY], ['e3', IDENTITY]]);
  assert.equal(tokens.requests, 1, 'the dispatcher asked the controller once');
  assert.equal(running.tokens.requests, 1, 'the controller asked the API server once');

  // The identity is a ServiceAccount owned by the trigger (it goes when the trigger does).
  const account = await kube.get(`/api/v1/namespaces/${NS}/serviceaccounts/oidc-trigger-to-subscriber`);
  assert.equal(account.status, 200);
  assert.deepEqual(account.body.metadata.ownerReferences.map((o: { kind: string; name: string }) => `${o.kind}/${o.name}`), ['Trigger/to-subscriber']);

  // Past 80 % of the token's life (an hour) the dispatcher asks again; the deliveries still verify.
  skewMs = 40 * 60_000;
  await publish('e4');
  await waitUntil(() => (subscriber.received.length >= 4 ? true : undefined), { message: 'the fourth delivery' });
  assert.equal(tokens.requests, 1, 'at 40 of 60 minutes the token is reused');
  skewMs = 49 * 60_000;
  await publish('e5');
  await waitUntil(() => (subscriber.received.length >= 5 ? true : undefined), { message: 'the fifth delivery' });
  assert.equal(tokens.requests, 2, 'at 49 of 60 minutes a new token is asked for');
  assert.deepEqual(subscriber.received.slice(3).map((r) => r.subject ?? r.refused), [IDENTITY, IDENTITY]);
});

test('the controller reuses a TokenRequest until 80 % of its lifetime, and issues only what the contract names', async (t) => {
  const log = new MemoryEventLog();
  t.after(() => log.close());
  await ensureNamespace(kube, SYSTEM_NAMESPACE);
  const running = await startController(t, { kube, log, config: testConfig({ ingressUrl: 'http://127.0.0.1:1', authenticationOidc: 'enabled' }) });
  const ns = 'tokens-oidc';
  await ensureNamespace(kube, ns);
  await create(kube, BROKERS(ns), broker(ns, 'b'));
  await waitForReady(kube, BROKERS(ns, 'b'));
  const created = await create(kube, TRIGGERS(ns), trigger(ns, 't', 'b', { uri: 'http://127.0.0.1:1/x', audience: 'aud-x' }));
  await waitForReady(kube, TRIGGERS(ns, 't'));
  const uid = created.metadata.uid as string;

  let nowMs = Date.now();
  const issuer = new OidcTokenIssuer({ api: running.api, contract: () => running.controller.feed.current(), logger: silentLogger(), expirationSeconds: 3600, now: () => nowMs });
  const first = await issuer.token(uid, 'aud-x');
  assert.equal(issuer.requests, 1);
  assert.ok(first.expiresAt.getTime() - Date.now() > 50 * 60_000, 'an hour\'s token');
  nowMs += 45 * 60_000;
  assert.equal((await issuer.token(uid, 'aud-x')).token, first.token, 'reused at 45 minutes');
  assert.equal(issuer.requests, 1);
  nowMs += 4 * 60_000;
  const second = await issuer.token(uid, 'aud-x');
  assert.equal(issuer.requests, 2, 'asked again at 49 minutes');
  assert.notEqual(second.token, first.token);

  // Nothing the contract does not name: another audience, an unknown egress.
  await assert.rejects(issuer.token(uid, 'another-audience'), /no egress .* audience another-audience/);
  await assert.rejects(issuer.token('no-such-uid', 'aud-x'), /no egress no-such-uid/);
  const refused = await send(running.adminUrl, 'GET', `/oidc-tokens?egress=${uid}&audience=another-audience`, { authorization: `Bearer ${kube.server.token}` });
  assert.equal(refused.status, 404, refused.body);
  const served = await send(running.adminUrl, 'GET', `/oidc-tokens?egress=${uid}&audience=aud-x`, { authorization: `Bearer ${kube.server.token}` });
  assert.equal(served.status, 200, served.body);
  assert.equal(served.headers['cache-control'], 'no-store');
  const anonymous = await send(running.adminUrl, 'GET', `/oidc-tokens?egress=${uid}&audience=aud-x`);
  assert.equal(anonymous.status, 401, 'the admin API\'s authentication applies');

  // A ServiceAccount of that name that the trigger does not own is not its identity.
  await create(kube, `/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: 'oidc-trigger-squatted' } });
  const squatted = await create(kube, TRIGGERS(ns), trigger(ns, 'squatted', 'b', { uri: 'http://127.0.0.1:1/y', audience: 'aud-y' }));
  await waitForReady(kube, TRIGGERS(ns, 'squatted'));
  await assert.rejects(issuer.token(squatted.metadata.uid as string, 'aud-y'), /ServiceAccount tokens-oidc\/oidc-trigger-squatted exists and is not owned by Trigger tokens-oidc\/squatted/);
  assert.equal(issuer.requests, 2, 'no token was asked for');
});
