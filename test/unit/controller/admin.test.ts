import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createAdminServer, registerResourceRoutes } from '../../../controller/admin.js';
import type { ObjectView } from '../../../controller/reconciler.js';
import { silentLogger } from '../../../core/logger.js';
import { broker, configMap, trigger } from './fixtures.js';

const objects: ObjectView[] = [
  { ...broker('b'), status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True' }], address: { url: 'http://127.0.0.1:8080/default/b' } } },
  { ...broker('c', {}, { namespace: 'other' }) },
  { ...trigger('t', { broker: 'b' }) },
  { ...configMap('cm', { a: 'b' }) },
];

async function admin(t: TestContext) {
  const app = createAdminServer({ logger: silentLogger() });
  registerResourceRoutes(app, {
    objects: () => objects,
    problems: () => [{ source: 'bad.yaml', document: 2, line: 3, message: 'invalid YAML: oops' }],
    contract: () => ({ version: 'kafka-broker.contract/v1', generation: 4, resources: [] }),
  });
  await app.ready();
  t.after(() => app.close());
  return app;
}

test('lists a kind across namespaces or in one, as a Kubernetes List', async (t) => {
  const app = await admin(t);
  const all = (await app.inject('/apis/eventing.knative.dev/v1/brokers')).json();
  assert.equal(all.kind, 'BrokerList');
  assert.equal(all.apiVersion, 'eventing.knative.dev/v1');
  assert.deepEqual(all.items.map((o: ObjectView) => o.metadata.name), ['b', 'c']);
  const one = (await app.inject('/apis/eventing.knative.dev/v1/namespaces/other/brokers')).json();
  assert.deepEqual(one.items.map((o: ObjectView) => o.metadata.name), ['c']);
  const triggers = (await app.inject('/apis/eventing.knative.dev/v1/namespaces/default/triggers')).json();
  assert.deepEqual(triggers.items.map((o: ObjectView) => o.kind), ['Trigger']);
  const cms = (await app.inject('/api/v1/configmaps')).json();
  assert.deepEqual(cms.items.map((o: ObjectView) => o.metadata.name), ['cm']);
});

test('gets one object with its status, or a 404 in the project error shape', async (t) => {
  const app = await admin(t);
  const found = await app.inject('/apis/eventing.knative.dev/v1/namespaces/default/brokers/b');
  assert.equal(found.statusCode, 200);
  assert.equal(found.json().status.address.url, 'http://127.0.0.1:8080/default/b');
  const missing = await app.inject('/apis/eventing.knative.dev/v1/namespaces/default/brokers/nope');
  assert.equal(missing.statusCode, 404);
  assert.deepEqual(missing.json(), { statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: 'broker "nope" not found in namespace "default"' });
});

test('serves the manifest problems, the contract, health and an index; other components can add routes', async (t) => {
  const app = createAdminServer({ logger: silentLogger(), notReadyReason: async () => 'first pass not done' });
  registerResourceRoutes(app, { objects: () => [], problems: () => [], contract: () => undefined });
  app.get('/deadletters', async () => ({ items: [] }));
  await app.ready();
  t.after(() => app.close());
  assert.equal((await app.inject('/healthz')).statusCode, 200);
  assert.equal((await app.inject('/readyz')).statusCode, 503);
  assert.deepEqual((await app.inject('/deadletters')).json(), { items: [] });
  const index = (await app.inject('/')).json();
  assert.ok(index.kinds.some((k: { path: string }) => k.path === '/apis/eventing.knative.dev/v1/brokers'));
  assert.ok(index.routes.includes('GET /deadletters'), JSON.stringify(index.routes));
  assert.ok(index.routes.includes('GET /apis/eventing.knative.dev/v1/namespaces/:namespace/triggers/:name'));
  assert.equal((await app.inject('/contract')).body, 'null');
});

test('problems and contract', async (t) => {
  const app = await admin(t);
  assert.deepEqual((await app.inject('/problems')).json(), { problems: [{ source: 'bad.yaml', document: 2, line: 3, message: 'invalid YAML: oops' }] });
  assert.equal((await app.inject('/contract')).json().generation, 4);
  assert.equal((await app.inject('/nope')).statusCode, 404);
});
