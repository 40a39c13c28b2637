import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { startTestKube, TABLE } from '../helpers/kube.js';

/**
 * crds/kafkasinks.yaml in a real kube-apiserver: the dead-letter sink's kind is served under
 * Knative Kafka's names, with its schema's required fields, enum and default, its status
 * subresource and printer columns — so KafkaSink manifests written for Knative apply unchanged.
 */

const kube = await startTestKube();
const collection = '/apis/eventing.knative.dev/v1alpha1/namespaces/default/kafkasinks';
const sink = (name: string, spec: Record<string, unknown>): object => ({
  apiVersion: 'eventing.knative.dev/v1alpha1', kind: 'KafkaSink', metadata: { name, namespace: 'default' }, spec,
});

describe('the KafkaSink CRD', () => {
  test("is Established under Knative Kafka's names", async () => {
    const file = parse(await readFile(new URL('../../crds/kafkasinks.yaml', import.meta.url), 'utf8')) as { metadata: { name: string } };
    assert.equal(file.metadata.name, 'kafkasinks.eventing.knative.dev');
    const { status, body } = await kube.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/kafkasinks.eventing.knative.dev');
    assert.equal(status, 200);
    const conditions = Object.fromEntries(body.status.conditions.map((c: { type: string; status: string }) => [c.type, c.status]));
    assert.equal(conditions.Established, 'True');
    assert.deepEqual(body.status.acceptedNames.kind, 'KafkaSink');
    assert.deepEqual(body.spec.names.categories, ['all', 'knative', 'eventing']);
    assert.equal(body.metadata.labels['duck.knative.dev/addressable'], 'true');
  });

  test('a sink from the Knative docs is stored with contentMode defaulted to binary', async () => {
    const created = await kube.create(collection, sink('my-kafka-sink', { topic: 'mytopic', bootstrapServers: ['my-cluster-kafka-bootstrap.kafka:9092'] }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.spec.contentMode, 'binary');
    assert.equal(created.body.metadata.generation, 1);
  });

  test('topic and bootstrapServers are required, contentMode is binary or structured', async () => {
    const missing = await kube.create(collection, sink('missing', { numPartitions: 1 }));
    assert.equal(missing.status, 422);
    const fields = missing.body.details.causes.map((c: { field: string }) => c.field).sort();
    assert.deepEqual(fields, ['spec.bootstrapServers', 'spec.topic']);
    const mode = await kube.create(collection, sink('bad-mode', { topic: 't', bootstrapServers: ['k:9092'], contentMode: 'json' }));
    assert.equal(mode.status, 422);
    assert.ok(mode.body.details.causes.some((c: { field: string }) => c.field === 'spec.contentMode'));
  });

  test("status goes through /status, and prints Knative's columns (URL, Age, Ready, Reason)", async () => {
    await kube.create(collection, sink('printed', { topic: 'printed', bootstrapServers: ['k:9092'], numPartitions: 3, replicationFactor: 1 }));
    const status = {
      observedGeneration: 1,
      address: { url: 'http://127.0.0.1:8080/sinks/default/printed' },
      conditions: [{ type: 'Ready', status: 'False', reason: 'BootstrapServersNotSupported' }, { type: 'TopicReady', status: 'False', reason: 'BootstrapServersNotSupported' }],
    };
    const patched = await kube.patch(`${collection}/printed/status`, { status });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const table = await kube.get(`${collection}/printed`, { accept: TABLE });
    const columns = (table.body.columnDefinitions as { name: string }[]).map((c) => c.name);
    assert.deepEqual(columns, ['Name', 'URL', 'Age', 'Ready', 'Reason']);
    const cells = table.body.rows[0].cells as string[];
    assert.equal(cells[1], status.address.url);
    assert.equal(cells[3], 'False');
    assert.equal(cells[4], 'BootstrapServersNotSupported');
  });
});
