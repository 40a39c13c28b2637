import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSubscriber } from '../helpers/servers.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { brokerManifest, manifestsFolder, startBroker, triggerManifest } from './start-cli.js';

/**
 * When `start` says Ready (issue 17): only once the dispatcher runs and the start-up warm-up is
 * done, so that what is accepted from then on is delivered at once. The warm-up's own events
 * are nowhere to be seen: not at the subscribers, not among the resources, not in the metrics.
 */
test('start is Ready only after the warm-up and the dispatcher, and the warm-up leaves no trace', async (t) => {
  const subscriber = await startSubscriber(t);
  const folder = await manifestsFolder(t);
  await folder.write('broker.yaml', [brokerManifest('ready', 'default'), triggerManifest('ready', 'all', { subscriber: { uri: subscriber.url } })]);
  const broker = await startBroker(t, { manifests: folder.dir, env: { KAFKA_BOOTSTRAP_SERVERS: '', LOG_LEVEL: 'debug', WARM_UP_EVENTS: '400' } });

  await waitUntil(async () => (await fetch(`${broker.ingressUrl}/readyz`)).ok, { timeoutMs: 60_000, intervalMs: 10, message: 'the ingress Ready' });
  const readyAt = Date.now();
  // The dispatcher runs: its egress is there to report lag.
  const lag = await broker.admin<{ items: unknown[] }>('/lag');
  assert.ok(lag.items.length > 0, `the dispatcher runs when Ready: ${JSON.stringify(lag)}`);
  // Logs are written asynchronously: wait for the line, then compare its time with Ready's.
  const warmUp = await waitUntil(() => /"time":(\d+)[^\n]*"events":(\d+)[^\n]*"msg":"warm-up done"/.exec(broker.stderr()), { message: 'the warm-up line' });
  assert.ok(Number(warmUp[1]) <= readyAt, 'the warm-up was done before Ready');
  assert.equal(Number(warmUp[2]), 400);

  const response = await fetch(`${broker.ingressUrl}/ready/default`, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': 'after-ready', 'ce-source': '/test', 'ce-type': 'test.ready', 'content-type': 'text/plain' },
    body: 'hello',
  });
  assert.equal(response.status, 202);
  await waitUntil(() => subscriber.ids().length > 0, { timeoutMs: 30_000, message: 'the delivery' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(subscriber.ids(), ['after-ready']);

  const brokers = await broker.get('brokers', '-A', '-o', 'json');
  assert.equal(brokers.code, 0, brokers.stderr);
  assert.doesNotMatch(brokers.stdout, /warm-up/);
  const metrics = await (await fetch(`${broker.ingressUrl}/metrics`)).text();
  assert.match(metrics, /kn_broker_name="default"/);
  assert.doesNotMatch(metrics, /warm-up/);
});

test('on Kafka with two ingress workers, each is warmed up before the broker is Ready: every event is taken at once', async (t) => {
  const kafka = process.env['KAFKA_BOOTSTRAP_SERVERS'];
  if (!kafka) throw new Error('KAFKA_BOOTSTRAP_SERVERS is not set: run with `npm test`, or start Kafka with `npm run kafka`');
  const ns = uniqueName('ready');
  const subscriber = await startSubscriber(t);
  const folder = await manifestsFolder(t);
  await folder.write('broker.yaml', [brokerManifest(ns, 'default'), triggerManifest(ns, 'all', { subscriber: { uri: subscriber.url } })]);
  const broker = await startBroker(t, { manifests: folder.dir, env: { KAFKA_BOOTSTRAP_SERVERS: kafka, WARM_UP_EVENTS: '300' }, args: ['--ingress-workers', '2'] });
  await waitUntil(async () => (await fetch(`${broker.ingressUrl}/readyz`)).ok, { timeoutMs: 90_000, intervalMs: 10, message: 'the ingress Ready' });
  // Connections spread over both workers: a worker still warming up (no contract yet) would answer 404.
  const statuses = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const response = await fetch(`${broker.ingressUrl}/${ns}/default`, {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': `e-${i}`, 'ce-source': '/test', 'ce-type': 'test.ready', 'content-type': 'text/plain', connection: 'close' },
      body: 'hello',
    });
    return response.status;
  }));
  assert.deepEqual(statuses, Array.from({ length: 20 }, () => 202));
  await waitUntil(() => new Set(subscriber.ids()).size === 20, { timeoutMs: 30_000, message: '20 deliveries' });
});
