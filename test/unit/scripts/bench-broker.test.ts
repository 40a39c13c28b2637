import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { parseManifestFile } from '../../../controller/sources/manifests.js';
// @ts-expect-error plain JavaScript without types: the perf scripts run without a build
import { brokerAndTrigger, freePort } from '../../../scripts/perf/bench-broker.mjs';

const manifests = brokerAndTrigger as (options: { namespace: string; trigger: string; subscriberPort: number }) => string;

test('the perf scripts\' manifests load as a Kafka Broker and a Trigger on it to the local subscriber', () => {
  const { objects, problems } = parseManifestFile('bench.yaml', manifests({ namespace: 'perf1', trigger: 'bench', subscriberPort: 4567 }));
  assert.deepEqual(problems, []);
  const [broker, trigger] = objects.map((o) => o.object);
  assert.equal(objects.length, 2);
  assert.deepEqual([broker!.kind, broker!.metadata.namespace, broker!.metadata.name, broker!.metadata.annotations?.['eventing.knative.dev/broker.class']], ['Broker', 'perf1', 'default', 'Kafka']);
  assert.deepEqual([trigger!.kind, trigger!.metadata.namespace, trigger!.metadata.name], ['Trigger', 'perf1', 'bench']);
  assert.deepEqual(trigger!.spec, { broker: 'default', subscriber: { uri: 'http://127.0.0.1:4567/' } });
});

test('freePort gives a port that can be listened on', async () => {
  const port = await (freePort as () => Promise<number>)();
  assert.ok(Number.isInteger(port) && port > 0);
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  await new Promise((resolve) => server.close(resolve));
});
