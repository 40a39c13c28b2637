// Channels and Subscriptions in Kubernetes mode, ground floor: a real kube-apiserver (with etcd)
// accepts our Channel, Subscription, KafkaChannel and InMemoryChannel CRDs the way it accepts
// Knative's: Established under Knative's names, objects stored as written, KafkaChannel's
// defaults filled in, status kept behind its subresource with every field our controller writes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestKube, TABLE } from '../helpers/kube.js';

const kube = await startTestKube();

const messaging = (version: 'v1' | 'v1beta1', plural: string, name?: string, subresource?: 'status'): string =>
  [`/apis/messaging.knative.dev/${version}/namespaces/default/${plural}`, name, subresource].filter((p) => p !== undefined).join('/');

const CRDS = [
  { file: 'channels.yaml', name: 'channels.messaging.knative.dev', kind: 'Channel', short: 'ch', categories: ['all', 'knative', 'messaging', 'channel'] },
  { file: 'subscriptions.yaml', name: 'subscriptions.messaging.knative.dev', kind: 'Subscription', short: 'sub', categories: ['all', 'knative', 'messaging'] },
  { file: 'kafkachannels.yaml', name: 'kafkachannels.messaging.knative.dev', kind: 'KafkaChannel', short: 'kc', categories: ['all', 'knative', 'messaging', 'channel'] },
  { file: 'inmemorychannels.yaml', name: 'inmemorychannels.messaging.knative.dev', kind: 'InMemoryChannel', short: 'imc', categories: ['all', 'knative', 'messaging', 'channel'] },
] as const;

describe('channel CRDs', () => {
  for (const crd of CRDS) {
    test(`crds/${crd.file} is Established with Knative's names`, async () => {
      const { status, body } = await kube.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.name}`);
      assert.equal(status, 200);
      const conditions = Object.fromEntries(body.status.conditions.map((c: any) => [c.type, c.status]));
      assert.equal(conditions.Established, 'True');
      assert.equal(conditions.NamesAccepted, 'True');
      assert.equal(body.spec.group, 'messaging.knative.dev');
      assert.equal(body.spec.scope, 'Namespaced');
      assert.equal(body.status.acceptedNames.kind, crd.kind);
      assert.deepEqual(body.spec.names.shortNames, [crd.short]);
      assert.deepEqual(body.spec.names.categories, crd.categories);
    });
  }

  test('discovery serves every kind with its status subresource; KafkaChannel as v1beta1 and v1', async () => {
    const v1 = await kube.get('/apis/messaging.knative.dev/v1');
    const v1beta1 = await kube.get('/apis/messaging.knative.dev/v1beta1');
    const names = (body: any): string[] => body.resources.map((r: any) => r.name).sort();
    assert.deepEqual(names(v1.body), [
      'channels', 'channels/status', 'inmemorychannels', 'inmemorychannels/status', 'kafkachannels', 'kafkachannels/status', 'subscriptions', 'subscriptions/status',
    ]);
    assert.deepEqual(names(v1beta1.body), ['kafkachannels', 'kafkachannels/status']);
  });
});

describe('KafkaChannel', () => {
  test("gets Knative Kafka's defaults from the API server and reads the same as v1", async () => {
    const created = await kube.create(messaging('v1beta1', 'kafkachannels'), { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', metadata: { name: 'orders' }, spec: { retentionDuration: 'P1D' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.spec, { numPartitions: 1, replicationFactor: 1, retentionDuration: 'P1D' });
    const asV1 = await kube.get(messaging('v1', 'kafkachannels', 'orders'));
    assert.equal(asV1.status, 200);
    assert.equal(asV1.body.apiVersion, 'messaging.knative.dev/v1');
    assert.deepEqual(asV1.body.spec, created.body.spec);
  });

  test('a replication factor above the CRD maximum is rejected with 422', async () => {
    const created = await kube.create(messaging('v1beta1', 'kafkachannels'), { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', metadata: { name: 'too-many' }, spec: { replicationFactor: 40000 } });
    assert.equal(created.status, 422);
    assert.match(JSON.stringify(created.body), /replicationFactor/);
  });

  test('keeps every status field the controller writes, and prints Knative’s columns', async () => {
    const status = {
      observedGeneration: 1,
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }, { type: 'TopicReady', status: 'True', reason: 'TopicCreated', message: 'topic t (1 partitions)' }],
      address: { url: 'http://127.0.0.1:8080/channels/default/orders' },
      subscribers: [{ uid: 'u-1', observedGeneration: 2, ready: 'True' }, { uid: 'u-2', observedGeneration: 1, ready: 'Unknown', message: 'consumer group g: fixing its starting offsets' }],
      deadLetterSinkUri: 'http://dls.example/',
    };
    const patched = await kube.patch(messaging('v1beta1', 'kafkachannels', 'orders', 'status'), { status });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.deepEqual(patched.body.status, status);
    const table = await kube.get(messaging('v1beta1', 'kafkachannels'), { accept: TABLE });
    assert.deepEqual(table.body.columnDefinitions.map((c: any) => c.name), ['Name', 'Ready', 'Reason', 'URL', 'Age']);
  });
});

describe('Channel, InMemoryChannel and Subscription', () => {
  test('a Channel is stored as written; its status keeps the backing channel reference and subscribers', async () => {
    const channel = {
      apiVersion: 'messaging.knative.dev/v1',
      kind: 'Channel',
      metadata: { name: 'events' },
      spec: { channelTemplate: { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', spec: { numPartitions: 3 } }, delivery: { retry: 2, timeout: 'PT5S' } },
    };
    const created = await kube.create(messaging('v1', 'channels'), { ...channel, status: { address: { url: 'http://forged/' } } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.spec, channel.spec);
    assert.equal(created.body.status, undefined, 'status sent on create is dropped');
    const status = {
      observedGeneration: 1,
      conditions: [{ type: 'BackingChannelReady', status: 'True' }],
      channel: { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', name: 'events', namespace: 'default' },
      address: { url: 'http://127.0.0.1:8080/channels/default/events' },
      subscribers: [{ uid: 'u-1', observedGeneration: 1, ready: 'True' }],
    };
    const patched = await kube.patch(messaging('v1', 'channels', 'events', 'status'), { status });
    assert.deepEqual(patched.body.status, status);
  });

  test('an InMemoryChannel is stored as written', async () => {
    const created = await kube.create(messaging('v1', 'inmemorychannels'), { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', metadata: { name: 'dev' }, spec: { delivery: { retry: 1 } } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.spec, { delivery: { retry: 1 } });
  });

  test('a Subscription is stored as written; its status keeps physicalSubscription; an unknown status field is pruned', async () => {
    const spec = {
      channel: { apiVersion: 'messaging.knative.dev/v1', kind: 'Channel', name: 'events' },
      subscriber: { ref: { apiVersion: 'v1', kind: 'Service', name: 'handler' }, uri: '/events' },
      reply: { uri: 'http://replies.example/' },
      delivery: { retry: 3, backoffPolicy: 'linear', backoffDelay: 'PT0.5S', deadLetterSink: { uri: 'http://dls.example/' }, retryAfterMax: 'PT10S' },
    };
    const created = await kube.create(messaging('v1', 'subscriptions'), {
      apiVersion: 'messaging.knative.dev/v1', kind: 'Subscription', metadata: { name: 'handler', annotations: { 'kafka.eventing.knative.dev/delivery.order': 'ordered' } }, spec,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.spec, spec);
    const status = {
      observedGeneration: 1,
      conditions: [{ type: 'AddedToChannel', status: 'True', reason: 'ConsumerGroupReady' }, { type: 'Ready', status: 'True' }],
      physicalSubscription: { subscriberUri: 'http://handler.default.svc.cluster.local/events', replyUri: 'http://replies.example/', deadLetterSinkUri: 'http://dls.example/' },
    };
    const patched = await kube.patch(messaging('v1', 'subscriptions', 'handler', 'status'), { status: { ...status, invented: 'x' } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.deepEqual(patched.body.status, status);
    const table = await kube.get(messaging('v1', 'subscriptions'), { accept: TABLE });
    assert.deepEqual(table.body.columnDefinitions.map((c: any) => c.name), ['Name', 'Age', 'Ready', 'Reason']);
  });
});
