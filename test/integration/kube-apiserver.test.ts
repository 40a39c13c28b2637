// The ground the Kubernetes mode stands on: a real kube-apiserver (with etcd) accepts our
// Broker and Trigger CRDs and treats the objects the way it treats Knative's own: stores and
// returns them field for field, keeps status behind its subresource, prints Knative's columns,
// and rejects a schema violation with 422.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { eventingPath, startTestKube, TABLE } from '../helpers/kube.js';

const CONTROLLER = 'system:serviceaccount:knative-eventing:kafka-broker-controller';
const kube = await startTestKube({ users: [{ name: CONTROLLER }] });

const broker = (name: string): Record<string, any> => ({
  apiVersion: 'eventing.knative.dev/v1',
  kind: 'Broker',
  metadata: { name, namespace: 'default', annotations: { 'eventing.knative.dev/broker.class': 'Kafka' } },
  spec: {
    config: { apiVersion: 'v1', kind: 'ConfigMap', name: 'kafka-broker-config', namespace: 'knative-eventing' },
    delivery: {
      retry: 3,
      backoffPolicy: 'exponential',
      backoffDelay: 'PT0.2S',
      deadLetterSink: { uri: 'http://dls.default.svc.cluster.local/' },
      // Not in the schema: Knative's optional delivery-timeout feature, kept as written.
      timeout: 'PT5S',
    },
  },
});

const trigger = (name: string, brokerName: string): Record<string, any> => ({
  apiVersion: 'eventing.knative.dev/v1',
  kind: 'Trigger',
  metadata: { name, namespace: 'default', annotations: { 'kafka.eventing.knative.dev/delivery.order': 'ordered' } },
  spec: {
    broker: brokerName,
    filter: { attributes: { type: 'dev.example.order.created' } },
    filters: [{ exact: { type: 'dev.example.order.created' } }, { any: [{ prefix: { source: '/shop' } }, { cesql: "subject LIKE 'eu-%'" }] }, { not: { suffix: { subject: '-test' } } }],
    subscriber: { ref: { apiVersion: 'v1', kind: 'Service', name: 'orders' }, uri: '/events' },
    delivery: { retry: 5, format: 'binary' },
  },
});

describe('CRDs', () => {
  for (const file of ['brokers.yaml', 'triggers.yaml']) {
    test(`crds/${file} is Established with Knative's names`, async () => {
      const name = file === 'brokers.yaml' ? 'brokers.eventing.knative.dev' : 'triggers.eventing.knative.dev';
      assert.match(await readFile(new URL(`../../crds/${file}`, import.meta.url), 'utf8'), new RegExp(`name: ${name.replaceAll('.', '\\.')}`));
      const { status, body } = await kube.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      assert.equal(status, 200);
      const conditions = Object.fromEntries(body.status.conditions.map((c: any) => [c.type, c.status]));
      assert.equal(conditions.Established, 'True');
      assert.equal(conditions.NamesAccepted, 'True');
      assert.equal(body.spec.group, 'eventing.knative.dev');
      assert.equal(body.spec.scope, 'Namespaced');
      assert.deepEqual(body.spec.names.categories, ['all', 'knative', 'eventing']);
      assert.deepEqual(body.status.acceptedNames.kind, file === 'brokers.yaml' ? 'Broker' : 'Trigger');
    });
  }

  test('discovery lists brokers and triggers with their status subresources and categories', async () => {
    const { status, body } = await kube.get('/apis/eventing.knative.dev/v1');
    assert.equal(status, 200);
    const byName = new Map(body.resources.map((r: any) => [r.name, r]));
    for (const plural of ['brokers', 'triggers']) {
      const resource: any = byName.get(plural);
      assert.ok(resource, `${plural} served`);
      assert.equal(resource.namespaced, true);
      assert.deepEqual(resource.categories, ['all', 'knative', 'eventing']);
      assert.ok(byName.has(`${plural}/status`), `${plural}/status served`);
    }
  });
});

describe('Broker', () => {
  test('is stored and read back as written; status sent on create is dropped (status subresource)', async () => {
    const sent = { ...broker('orders'), status: { address: { url: 'http://forged/' } } };
    const created = await kube.create(eventingPath('brokers', 'default'), sent);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const read = await kube.get(eventingPath('brokers', 'default', 'orders'));
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.spec, broker('orders').spec);
    assert.equal(read.body.metadata.annotations['eventing.knative.dev/broker.class'], 'Kafka');
    assert.equal(read.body.metadata.generation, 1);
    assert.ok(read.body.metadata.uid);
    assert.equal(read.body.status, undefined);
  });

  test('status is written through /status only, without bumping the generation', async () => {
    await kube.create(eventingPath('brokers', 'default'), broker('status-demo'));
    const status = {
      observedGeneration: 1,
      address: { name: 'http', url: 'http://kafka-broker-ingress.knative-eventing.svc.cluster.local/default/status-demo' },
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' },
        { type: 'TopicReady', status: 'True', reason: 'TopicCreated', message: 'topic knative-broker-default-status-demo' },
      ],
      annotations: { 'bootstrap.servers': '127.0.0.1:9092' },
    };
    const patched = await kube.patch(eventingPath('brokers', 'default', 'status-demo', 'status'), { status });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));

    const read = await kube.get(eventingPath('brokers', 'default', 'status-demo'));
    assert.deepEqual(read.body.status, status);
    assert.equal(read.body.metadata.generation, 1);

    // Through the main resource, status is ignored and the spec change bumps the generation.
    const specPatch = await kube.patch(eventingPath('brokers', 'default', 'status-demo'), { spec: { delivery: { retry: 7 } }, status: { address: { url: 'http://forged/' } } });
    assert.equal(specPatch.status, 200);
    assert.equal(specPatch.body.metadata.generation, 2);
    assert.equal(specPatch.body.spec.delivery.retry, 7);
    assert.equal(specPatch.body.status.address.url, status.address.url);
  });

  test("prints Knative's columns (URL, Age, Ready, Reason; Class on -o wide)", async () => {
    await kube.create(eventingPath('brokers', 'default'), broker('printed'));
    await kube.patch(eventingPath('brokers', 'default', 'printed', 'status'), {
      status: { address: { url: 'http://ingress/default/printed' }, conditions: [{ type: 'Ready', status: 'False', reason: 'TopicNotReady' }] },
    });
    const asTable = await getTable(eventingPath('brokers', 'default', 'printed'));
    assert.deepEqual(asTable.columns.filter((c) => c.priority === 0).map((c) => c.name), ['Name', 'URL', 'Age', 'Ready', 'Reason']);
    assert.deepEqual(asTable.columns.filter((c) => c.priority > 0).map((c) => c.name), ['Class']);
    const row = asTable.row;
    assert.equal(row.URL, 'http://ingress/default/printed');
    assert.equal(row.Ready, 'False');
    assert.equal(row.Reason, 'TopicNotReady');
    assert.equal(row.Class, 'Kafka');
  });

  test('a schema violation is rejected with 422 naming the field', async () => {
    const bad = broker('bad-retry');
    bad['spec'].delivery.retry = 'three';
    const response = await kube.create(eventingPath('brokers', 'default'), bad);
    assert.equal(response.status, 422);
    assert.equal(response.body.kind, 'Status');
    assert.equal(response.body.reason, 'Invalid');
    assert.ok(
      response.body.details.causes.some((c: any) => c.field === 'spec.delivery.retry'),
      JSON.stringify(response.body.details.causes),
    );
    assert.equal((await kube.get(eventingPath('brokers', 'default', 'bad-retry'))).status, 404);
  });

  test('a status condition without its required status is rejected with 422', async () => {
    await kube.create(eventingPath('brokers', 'default'), broker('bad-condition'));
    const response = await kube.patch(eventingPath('brokers', 'default', 'bad-condition', 'status'), { status: { conditions: [{ type: 'Ready' }] } });
    assert.equal(response.status, 422);
    assert.ok(response.body.details.causes.some((c: any) => c.field === 'status.conditions[0].status'), JSON.stringify(response.body.details.causes));
  });
});

describe('Trigger', () => {
  test('is stored and read back as written, unknown spec fields included', async () => {
    const sent = trigger('orders-created', 'orders');
    sent['spec'].futureField = { kept: true }; // Knative's schema keeps unknown spec fields
    const created = await kube.create(eventingPath('triggers', 'default'), sent);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const read = await kube.get(eventingPath('triggers', 'default', 'orders-created'));
    assert.equal(read.status, 200);
    assert.deepEqual(read.body.spec, sent['spec']);
    assert.equal(read.body.metadata.annotations['kafka.eventing.knative.dev/delivery.order'], 'ordered');
  });

  test('status is written through /status and printed in the Subscriber_URI and Ready columns', async () => {
    await kube.create(eventingPath('triggers', 'default'), trigger('printed', 'orders'));
    const status = {
      observedGeneration: 1,
      subscriberUri: 'http://orders.default.svc.cluster.local/events',
      deadLetterSinkUri: 'http://dls.default.svc.cluster.local/',
      conditions: [{ type: 'Ready', status: 'True' }, { type: 'SubscriberResolved', status: 'True' }],
    };
    const patched = await kube.patch(eventingPath('triggers', 'default', 'printed', 'status'), { status });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.deepEqual((await kube.get(eventingPath('triggers', 'default', 'printed'))).body.status, status);

    const asTable = await getTable(eventingPath('triggers', 'default', 'printed'));
    assert.deepEqual(asTable.columns.map((c) => c.name), ['Name', 'Broker', 'Subscriber_URI', 'Age', 'Ready', 'Reason']);
    assert.equal(asTable.row.Broker, 'orders');
    assert.equal(asTable.row.Subscriber_URI, status.subscriberUri);
    assert.equal(asTable.row.Ready, 'True');
  });

  test('a schema violation is rejected with 422 naming the field', async () => {
    const bad = trigger('bad-filters', 'orders');
    bad['spec'].filters = { exact: { type: 'x' } }; // an object where the schema wants an array
    bad['spec'].broker = 42;
    const response = await kube.create(eventingPath('triggers', 'default'), bad);
    assert.equal(response.status, 422);
    const fields = response.body.details.causes.map((c: any) => c.field);
    assert.ok(fields.includes('spec.filters'), JSON.stringify(fields));
    assert.ok(fields.includes('spec.broker'), JSON.stringify(fields));
  });
});

describe('identities', () => {
  test('the kubeconfig names the server, its CA and the admin token', async () => {
    const kubeconfig = await readFile(kube.server.kubeconfigPath, 'utf8');
    assert.ok(kubeconfig.includes(`server: ${kube.server.url}`));
    assert.ok(kubeconfig.includes(`token: ${kube.server.token}`));
    assert.ok(kubeconfig.includes(Buffer.from(kube.server.ca).toString('base64')));
  });

  test('requests without a valid token are refused (401), and RBAC applies to other users (403)', async () => {
    const unknownToken = await kube.get(eventingPath('brokers', 'default'), { token: 'not-a-token' });
    assert.equal(unknownToken.status, 401);
    const controllerToken = kube.server.tokens[CONTROLLER];
    assert.ok(controllerToken);
    const denied = await kube.get(eventingPath('brokers', 'default'), { token: controllerToken });
    assert.equal(denied.status, 403);
    assert.match(denied.body.message, /kafka-broker-controller/);
  });
});

/** GETs `path` as a server-side Table (what `kubectl get` prints) and returns its columns and first row by column name. */
async function getTable(path: string): Promise<{ columns: { name: string; priority: number }[]; row: Record<string, unknown> }> {
  const response = await kube.get(path, { accept: TABLE });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const table = response.body;
  assert.equal(table.kind, 'Table');
  const columns = table.columnDefinitions.map((c: any) => ({ name: c.name as string, priority: (c.priority as number | undefined) ?? 0 }));
  const cells: unknown[] = table.rows[0].cells;
  return { columns, row: Object.fromEntries(columns.map((c: { name: string }, i: number) => [c.name, cells[i]])) };
}
