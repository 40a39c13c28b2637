/**
 * OIDC and EventPolicy end to end in Kubernetes mode: the controller (authentication-oidc
 * enabled) gives a Broker its audience, reads EventPolicies from the API server and writes
 * `status.policies`; the ingress checks tokens the API server issued (TokenRequest) against them.
 * A policy created while everything runs changes who may send.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brokerAudience } from '../../core/contract/paths.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { startTestKube } from '../helpers/kube.js';
import { waitUntil } from '../helpers/wait.js';
import { ceHeaders, send } from '../unit/broker-ingress/fixtures.js';
import { BROKERS, broker, create, createServiceAccount, kubeOidc, serviceAccountToken, startOidcFrontDoor, waitForReady } from './k8s-harness.js';

const kube = await startTestKube();
const oidc = await kubeOidc(kube);

const NS = 'shop';
const OTHER = 'billing';

test('audience and EventPolicies from the API server, enforced by the ingress', async (t) => {
  const log = new MemoryEventLog();
  t.after(() => log.close());
  const { ingress } = await startOidcFrontDoor(t, kube, log, oidc);

  await createServiceAccount(kube, NS, 'checkout');
  await createServiceAccount(kube, OTHER, 'invoicer');
  await create(kube, BROKERS(NS), broker(NS, 'orders'));
  await waitForReady(kube, BROKERS(NS, 'orders'));
  const audience = brokerAudience(NS, 'orders');
  const status = (await kube.get(BROKERS(NS, 'orders'))).body.status;
  assert.equal(status.address.audience, audience);
  assert.equal(status.address.url, `${ingress.url}/${NS}/orders`);
  const path = `/${NS}/orders`;
  const post = async (token: string | undefined): Promise<number> =>
    (await send(ingress.url, 'POST', path, ceHeaders(token === undefined ? {} : { authorization: `Bearer ${token}` }), '{}')).status;

  const sameNamespace = await serviceAccountToken(kube, NS, 'checkout', audience);
  const otherNamespace = await serviceAccountToken(kube, OTHER, 'invoicer', audience);
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
