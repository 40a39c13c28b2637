/**
 * OIDC and EventPolicy end to end in Kubernetes mode: the controller (authentication-oidc
 * enabled) gives a Broker its audience, reads EventPolicies from the API server and writes
 * `status.policies`; the ingress checks tokens the API server issued (TokenRequest) against them.
 * A policy created while everything runs changes who may send.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { startIngress } from '../../broker-ingress/main.js';
import { loadConfig } from '../../core/config.js';
import { HttpContractSource } from '../../core/contract/http-source.js';
import { brokerAudience } from '../../core/contract/paths.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { silentLogger } from '../../core/logger.js';
import { SERVICE_ACCOUNT_ISSUER } from '../../scripts/kube/kube.js';
import { startTestKube } from '../helpers/kube.js';
import { waitUntil } from '../helpers/wait.js';
import { ceHeaders, send } from '../unit/broker-ingress/fixtures.js';
import { BROKERS, broker, create, ensureNamespace, startController, SYSTEM_NAMESPACE, testConfig, waitForReady } from './k8s-harness.js';

const kube = await startTestKube();
const dir = await mkdtemp(join(tmpdir(), 'ingress-oidc-kube-'));
after(() => rm(dir, { recursive: true, force: true }));
const tokenFile = join(dir, 'token');
await writeFile(tokenFile, kube.server.token);

const NS = 'shop';
const OTHER = 'billing';

async function serviceAccount(namespace: string, name: string): Promise<void> {
  await ensureNamespace(kube, namespace);
  await create(kube, `/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name } });
}

async function tokenFor(namespace: string, name: string, audience: string): Promise<string> {
  const response = await kube.create(`/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, { spec: { audiences: [audience], expirationSeconds: 3600 } });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return (response.body as { status: { token: string } }).status.token;
}

test('audience and EventPolicies from the API server, enforced by the ingress', async (t) => {
  const log = new MemoryEventLog();
  t.after(() => log.close());
  const relay = new InProcessContractSource();
  const ingress = await startIngress({
    config: loadConfig(ingressConfigSchema, {
      host: '127.0.0.1',
      port: 0,
      oidc: { issuer: SERVICE_ACCOUNT_ISSUER, discoveryUrl: `${kube.server.url}/.well-known/openid-configuration`, caFile: kube.server.caFile, tokenFile },
    }),
    log,
    contracts: relay,
    logger: silentLogger(),
  });
  t.after(() => ingress.close());
  await ensureNamespace(kube, SYSTEM_NAMESPACE);
  const running = await startController(t, { kube, log, config: testConfig({ ingressUrl: ingress.url, authenticationOidc: 'enabled' }) });
  const contracts = new HttpContractSource({ url: `${running.adminUrl}/contract`, logger: silentLogger(), timeoutSeconds: 5, retryMinMs: 50, retryMaxMs: 500, token: () => kube.server.token }).start();
  t.after(() => contracts.close());
  contracts.subscribe((contract) => relay.publish(contract));

  await serviceAccount(NS, 'checkout');
  await serviceAccount(OTHER, 'invoicer');
  await create(kube, BROKERS(NS), broker(NS, 'orders'));
  await waitForReady(kube, BROKERS(NS, 'orders'));
  const audience = brokerAudience(NS, 'orders');
  const status = (await kube.get(BROKERS(NS, 'orders'))).body.status;
  assert.equal(status.address.audience, audience);
  assert.equal(status.address.url, `${ingress.url}/${NS}/orders`);
  const path = `/${NS}/orders`;
  const post = async (token: string | undefined): Promise<number> =>
    (await send(ingress.url, 'POST', path, ceHeaders(token === undefined ? {} : { authorization: `Bearer ${token}` }), '{}')).status;

  const sameNamespace = await tokenFor(NS, 'checkout', audience);
  const otherNamespace = await tokenFor(OTHER, 'invoicer', audience);
  // No policy: Knative's default mode, allow-same-namespace.
  await waitUntil(async () => (await post(sameNamespace)) === 202 || undefined, { message: 'the same namespace allowed' });
  assert.equal(await post(otherNamespace), 403);
  assert.equal(await post(undefined), 401);

  // A policy created while running: only the billing namespace's service accounts.
  await create(kube, `/apis/eventing.knative.dev/v1alpha1/namespaces/${NS}/eventpolicies`, {
    apiVersion: 'eventing.knative.dev/v1alpha1',
    kind: 'EventPolicy',
    metadata: { name: 'from-billing', namespace: NS },
    spec: { to: [{ ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'orders' } }], from: [{ sub: `system:serviceaccount:${OTHER}:*` }] },
  });
  await waitUntil(async () => (await post(otherNamespace)) === 202 || undefined, { timeoutMs: 20_000, message: 'the policy to let billing in' });
  assert.equal(await post(sameNamespace), 403, 'a policy replaces the default mode');
  const policies = await waitUntil(async () => (await kube.get(BROKERS(NS, 'orders'))).body.status.policies as unknown, { message: 'status.policies' });
  assert.deepEqual(policies, [{ apiVersion: 'eventing.knative.dev/v1alpha1', name: 'from-billing' }]);
  const policy = await waitUntil(async () => {
    const body = (await kube.get(`/apis/eventing.knative.dev/v1alpha1/namespaces/${NS}/eventpolicies/from-billing`)).body;
    return body.status?.from as unknown;
  }, { message: 'the policy\'s status.from' });
  assert.deepEqual(policy, [`system:serviceaccount:${OTHER}:*`]);

  // A second policy with filters: checkout may send again, but only order events.
  await create(kube, `/apis/eventing.knative.dev/v1alpha1/namespaces/${NS}/eventpolicies`, {
    apiVersion: 'eventing.knative.dev/v1alpha1',
    kind: 'EventPolicy',
    metadata: { name: 'checkout-orders', namespace: NS },
    spec: { from: [{ sub: `system:serviceaccount:${NS}:checkout` }], filters: [{ prefix: { type: 'com.example.order.' } }] },
  });
  const postTyped = (token: string, type: string) => send(ingress.url, 'POST', path, ceHeaders({ authorization: `Bearer ${token}`, 'ce-type': type }), '{}');
  await waitUntil(async () => (await postTyped(sameNamespace, 'com.example.order.created')).status === 202 || undefined, { timeoutMs: 20_000, message: 'the filtered policy to let checkout in' });
  const refused = await postTyped(sameNamespace, 'com.example.refund');
  assert.equal(refused.status, 403, refused.body);
  assert.match(String(refused.json()['message']), /does not pass the filters of EventPolicy shop\/checkout-orders/);
  assert.equal((await postTyped(otherNamespace, 'com.example.refund')).status, 202, 'billing\'s policy has no filters');
});
