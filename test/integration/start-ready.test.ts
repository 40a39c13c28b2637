import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSubscriber } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';
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
  const logs = broker.stderr();
  const warmUp = /"events":(\d+)[^\n]*"msg":"warm-up done"/.exec(logs);
  assert.ok(warmUp !== null, `the warm-up finished before Ready:\n${logs}`);
  assert.equal(Number(warmUp[1]), 400);
  assert.match(logs, /"msg":"dispatcher started"/, 'the dispatcher runs before Ready');

  const response = await fetch(`${broker.ingressUrl}/ready/default`, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': 'after-ready', 'ce-source': '/test', 'ce-type': 'test.ready', 'content-type': 'text/plain' },
    body: 'hello',
  });
  assert.equal(response.status, 202);
  await waitUntil(() => subscriber.ids().length > 0, { timeoutMs: 10_000, message: 'the delivery' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(subscriber.ids(), ['after-ready']);

  const brokers = await broker.get('brokers', '-A', '-o', 'json');
  assert.equal(brokers.code, 0, brokers.stderr);
  assert.doesNotMatch(brokers.stdout, /warm-up/);
  const metrics = await (await fetch(`${broker.ingressUrl}/metrics`)).text();
  assert.match(metrics, /kn_broker_name="default"/);
  assert.doesNotMatch(metrics, /warm-up/);
});
