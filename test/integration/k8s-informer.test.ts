// One kind's informer (controller/kubernetes/informer.ts) against a real kube-apiserver: the list comes
// in pages, watch events follow, a watch resumed from a resourceVersion the API server no longer
// has (410 Gone) relists, and a kind whose CRD is not installed is reported once and picked up
// when the CRD appears.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { KindInfo } from '../../controller/api-kinds.js';
import type { ApiObject } from '../../controller/kubernetes/api.js';
import { KindInformer } from '../../controller/kubernetes/informer.js';
import { silentLogger } from '../../core/logger.js';
import { startTestKube } from '../helpers/kube.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { BROKERS, broker, create, ensureNamespace, kubeApiFor } from './k8s-harness.js';

const kube = await startTestKube();
const api = kubeApiFor(kube);
after(() => api.close());

interface Seen {
  readonly objects: Map<string, ApiObject>;
  readonly events: string[];
}

function start(info: KindInfo, options: { pageSize?: number; notInstalledRetryMs?: number } = {}): { informer: KindInformer; seen: Seen } {
  const seen: Seen = { objects: new Map(), events: [] };
  const informer = new KindInformer({
    api,
    info,
    logger: silentLogger(),
    retryMinMs: 50,
    retryMaxMs: 500,
    ...options,
    handlers: {
      upsert: (o) => {
        seen.objects.set(`${o.metadata?.namespace}/${o.metadata?.name}`, o);
        seen.events.push(`upsert ${o.metadata?.name}`);
      },
      remove: (o) => {
        seen.objects.delete(`${o.metadata?.namespace}/${o.metadata?.name}`);
        seen.events.push(`remove ${o.metadata?.name}`);
      },
    },
  });
  after(() => informer.stop());
  return { informer, seen };
}

const BROKER_KIND: KindInfo = { kind: 'Broker', plural: 'brokers', singular: 'broker', group: 'eventing.knative.dev', version: 'v1' };

test('lists in pages, then follows the watch: adds, changes and deletes', async () => {
  const ns = uniqueName('inf').toLowerCase();
  await ensureNamespace(kube, ns);
  for (let i = 0; i < 5; i++) await create(kube, BROKERS(ns), broker(ns, `b${i}`));
  const { informer, seen } = start(BROKER_KIND, { pageSize: 2 });
  await informer.start();
  assert.equal(informer.state.state, 'synced');
  assert.deepEqual([...seen.objects.keys()].filter((k) => k.startsWith(ns)).sort(), [0, 1, 2, 3, 4].map((i) => `${ns}/b${i}`));
  assert.ok(informer.stats().pages >= 3, `${informer.stats().pages} pages of 2`);

  await create(kube, BROKERS(ns), broker(ns, 'b5'));
  await kube.patch(BROKERS(ns, 'b0'), { metadata: { labels: { changed: 'yes' } } });
  await kube.delete(BROKERS(ns, 'b1'));
  await waitUntil(() => seen.objects.has(`${ns}/b5`) && seen.objects.get(`${ns}/b0`)?.metadata?.labels?.['changed'] === 'yes' && !seen.objects.has(`${ns}/b1`));
  assert.equal(informer.stats().lists, 1, 'no relist needed');
});

test('after its CRD is reinstalled, the informer resumes from a resourceVersion the API server no longer has: 410 Gone, and it relists', async () => {
  const { info, install, uninstall, objects } = await testKind('gadgets');
  await install();
  await create(kube, objects, { apiVersion: `${info.group}/v1`, kind: info.kind, metadata: { name: 'old' } });
  const { informer, seen } = start(info, { notInstalledRetryMs: 200 });
  await informer.start();
  assert.ok(seen.objects.has('default/old'));

  // The CRD goes (and its objects with it): the watch ends, resuming it finds nothing (404).
  await uninstall();
  await waitUntil(() => informer.state.state === 'not-installed', { timeoutMs: 30_000, message: 'reported not installed' });
  // Back, with a new object: the informer resumes its watch from the resourceVersion it had,
  // which the new CRD's watch cache never had (410 Gone), so it lists again.
  await install();
  await waitUntil(async () => (await kube.create(objects, { apiVersion: `${info.group}/v1`, kind: info.kind, metadata: { name: 'new' } })).status === 201, { timeoutMs: 30_000 });
  await waitUntil(() => seen.objects.has('default/new') && !seen.objects.has('default/old'), { timeoutMs: 30_000, message: 'the relisted state' });
  assert.ok(informer.stats().lists >= 2, `${informer.stats().lists} lists`);
  assert.ok(seen.events.includes('remove old'), 'the relist removed what is gone');
  assert.equal(informer.state.state, 'synced');
});

test('a kind whose CRD is not installed counts as empty, is reported once, and is watched once the CRD appears', async () => {
  const { info, install, objects } = await testKind('widgets');
  const { informer, seen } = start(info, { notInstalledRetryMs: 300 });
  await informer.start();
  assert.equal(informer.state.state, 'not-installed');
  assert.match(informer.state.state === 'not-installed' ? informer.state.message : '', /widgets\..* is not installed/);
  await install();
  await waitUntil(async () => (await kube.create(objects, { apiVersion: `${info.group}/v1`, kind: info.kind, metadata: { name: 'w' } })).status === 201, { timeoutMs: 30_000 });
  await waitUntil(() => seen.objects.has('default/w'), { timeoutMs: 30_000, message: 'the widget, once its CRD is installed' });
  assert.equal(informer.state.state, 'synced');
});

/** A namespaced kind of a group of its own, whose CRD the test installs and removes. */
async function testKind(plural: string): Promise<{ info: KindInfo; objects: string; install(): Promise<void>; uninstall(): Promise<void> }> {
  const group = `${uniqueName(plural).toLowerCase().replaceAll('-', '')}.example.dev`;
  const kind = plural[0]!.toUpperCase() + plural.slice(1, -1);
  const info: KindInfo = { kind, plural, singular: plural.slice(0, -1), group, version: 'v1' };
  const name = `${plural}.${group}`;
  const objects = `/apis/${group}/v1/namespaces/default/${plural}`;
  return {
    info,
    objects,
    install: async () => {
      const crd = await kube.create('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name },
        spec: {
          group,
          scope: 'Namespaced',
          names: { kind, plural, singular: info.singular, listKind: `${kind}List` },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
        },
      });
      assert.equal(crd.status, 201, JSON.stringify(crd.body));
      await waitUntil(async () => (await kube.get(objects)).status === 200, { timeoutMs: 30_000, message: `${name} served` });
    },
    uninstall: async () => {
      assert.equal((await kube.delete(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`)).status, 200);
      await waitUntil(async () => (await kube.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`)).status === 404, { timeoutMs: 60_000, message: `${name} removed` });
    },
  };
}
