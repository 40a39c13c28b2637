import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { waitUntil } from '../helpers/wait.js';
import { brokerManifest, manifestsFolder, ROOT, runCli, startBroker, TEST_STATE_HOME, triggerManifest } from './start-cli.js';

/**
 * What `kafka-broker start` tells a user after its banner, and the kubectl-like commands that read
 * it: describe, get -o wide, get -w, KAFKA_BROKER_ADMIN_URL, and --server pointed at the wrong port.
 * In memory: these are about the CLI, not the log.
 */

const memory = { KAFKA_BOOTSTRAP_SERVERS: '' };
const ns = 'shop';

describe('kafka-broker start, describe, get -o wide and -w', { timeout: 120_000 }, () => {
  test('the banner, then a summary: resources and Ready, where to send events, the admin URL, manifest problems', async (t) => {
    const folder = await manifestsFolder(t);
    await folder.write('broker.yaml', [brokerManifest(ns, 'default')]);
    await folder.write('triggers.yaml', [
      triggerManifest(ns, 'orders', { filter: { attributes: { type: 'order' } }, subscriber: { uri: 'http://127.0.0.1:1/orders' } }),
      triggerManifest(ns, 'lost', { broker: 'nope', subscriber: { uri: 'http://127.0.0.1:1/lost' } }),
    ]);
    await folder.write('typo.yaml', 'apiVersion: eventing.knative.dev/v1\nkind: Triger\nmetadata: {name: typo, namespace: shop}\n');
    const broker = await startBroker(t, { manifests: folder.dir, env: memory });
    await waitUntil(() => /then: /.test(broker.stderr()), { timeoutMs: 30_000, message: 'the summary' });
    const lines = broker.stderr().split('\n').filter((l) => !l.startsWith('{'));
    assert.match(lines[0]!, /^kafka-broker: ingress http:\/\/127\.0\.0\.1:\d+ {2}admin http:\/\/127\.0\.0\.1:\d+ {2}in-memory event log/, 'the banner first');
    const summary = lines.slice(1, lines.findIndex((l) => l.includes('then: ')) + 1).join('\n');
    assert.equal(summary, [
      '  loaded 3 resources (1 broker, 2 triggers): 2 of 3 Ready',
      `    not Ready: trigger ${ns}/lost: BrokerDoesNotExist: broker "nope" does not exist in namespace "${ns}"`,
      '  1 manifest problem, logged above:',
      `    typo.yaml, document 1, line 1: unknown kind "Triger" (apiVersion eventing.knative.dev/v1); did you mean Trigger (eventing.knative.dev/v1)?`,
      `  send events to ${broker.ingressUrl}/${ns}/default`,
      `  export KAFKA_BROKER_ADMIN_URL=${broker.adminUrl}`,
      `  then: kafka-broker get triggers, kafka-broker describe trigger <name>, ${broker.adminUrl}/dead-letters`,
    ].join('\n'));
  });

  test('describe, get -o wide, namespace/name, KAFKA_BROKER_ADMIN_URL, and --server at the ingress', async (t) => {
    const folder = await manifestsFolder(t);
    await folder.write('broker.yaml', [brokerManifest(ns, 'default')]);
    await folder.write('triggers.yaml', [
      triggerManifest(ns, 'orders', {
        filters: [{ prefix: { type: 'com.example.order' } }],
        subscriber: { uri: 'http://127.0.0.1:1/orders' },
        delivery: { retry: 2, backoffPolicy: 'linear', backoffDelay: 'PT0.1S' },
      }),
      triggerManifest(ns, 'lost', { broker: 'nope', subscriber: { uri: 'http://127.0.0.1:1/lost' } }),
    ]);
    const broker = await startBroker(t, { manifests: folder.dir, env: memory });
    const env = { KAFKA_BROKER_ADMIN_URL: broker.adminUrl };

    const described = await runCli(['describe', 'trigger', `${ns}/orders`], env);
    assert.equal(described.code, 0, described.stderr);
    const text = described.stdout;
    assert.match(text, new RegExp(`^Name:\\s+orders\\nNamespace:\\s+${ns}\\nKind:\\s+Trigger \\(eventing\\.knative\\.dev/v1\\)\\n`));
    assert.match(text, /\nBroker:\s+default\n/);
    assert.match(text, /\nSubscriber:\s+http:\/\/127\.0\.0\.1:1\/orders\n/);
    assert.match(text, /\nDead Letter Sink:\s+<none>\n/);
    assert.match(text, /\nFilter:\n {2}filters:\n {4}- prefix:\n {8}type: com\.example\.order\n/);
    assert.match(text, /\nDelivery:\n {2}retry: 2\n {2}backoffPolicy: linear\n {2}backoffDelay: PT0\.1S\n/);
    assert.match(text, /\nConditions:\n {2}TYPE\s+STATUS\s+REASON\s+AGE\s+MESSAGE\n {2}Ready\s+True\s/);
    assert.match(text, /\n {2}SubscriptionReady\s+True\s+ConsumerGroupReady\s+\d+s\s+consumer group knative-trigger-shop-orders\n/);
    assert.match(text, /\nLag:\s+0 records not yet delivered/, 'a trigger says how far behind it is');
    assert.match(text, /\nDead Letters:\s+<none>\nRewinds:\s+<none>\n$/);

    const notReady = await runCli(['describe', 'triggers', 'lost', '-n', ns], env);
    assert.equal(notReady.code, 0, notReady.stderr);
    assert.match(notReady.stdout, /\n {2}Ready\s+False\s+BrokerDoesNotExist\s+\d+s\s+\S.*nope/);

    const brokerText = (await runCli(['describe', 'broker', 'default', '-n', ns], env)).stdout;
    assert.match(brokerText, new RegExp(`\\nAddress:\\s+${broker.ingressUrl.replace(/\./g, '\\.')}/${ns}/default\\n`));
    assert.match(brokerText, /\n {2}TopicReady\s+True\s+TopicCreated\s/);

    const wide = await runCli(['get', 'triggers', '-n', ns, '-o', 'wide'], env);
    assert.equal(wide.code, 0, wide.stderr);
    const [header, lost, orders] = wide.stdout.trimEnd().split('\n');
    assert.match(header!, /^NAME\s+BROKER\s+READY\s+REASON\s+SUBSCRIBER\s+LAG\s+OLDEST\s+AGE\s+MESSAGE$/);
    // No egress for a trigger whose broker is missing: its lag is unknown.
    assert.match(lost!, /^lost\s+nope\s+False\s+BrokerDoesNotExist\s+http:\/\/127\.0\.0\.1:1\/lost\s+-\s+-\s+\d+s\s+\S.*nope/);
    assert.match(orders!, /^orders\s+default\s+True\s+http:\/\/127\.0\.0\.1:1\/orders\s+0\s+0s\s+\d+s$/);

    const one = await runCli(['get', 'trigger', `${ns}/orders`], env);
    assert.match(one.stdout, /^NAME\s+BROKER\s+READY\s+REASON\s+SUBSCRIBER\s+LAG\s+AGE\norders\s+default\s+True\s/);
    const clash = await runCli(['get', 'trigger', `${ns}/orders`, '-n', 'other'], env);
    assert.equal(clash.code, 1);
    assert.equal(clash.stderr, `kafka-broker get: "${ns}/orders" is in namespace "${ns}", but -n says "other"\n`);

    const missing = await runCli(['describe', 'trigger', 'nope', '-n', ns], env);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `kafka-broker describe: trigger "nope" not found in namespace "${ns}"\n`);

    for (const args of [['get', 'brokers'], ['describe', 'broker', 'default'], ['dead-letters', 'list']]) {
      const wrong = await runCli([...args, '--server', broker.ingressUrl]);
      assert.equal(wrong.code, 1, args.join(' '));
      assert.match(wrong.stderr, new RegExp(`^kafka-broker ${args[0]}: ${broker.ingressUrl.replace(/\./g, '\\.')} is not the admin API; it looks like the ingress .*KAFKA_BROKER_ADMIN_URL\\)\\n$`), args.join(' '));
    }
  });

  test('get -w prints the table, then a row per change, until Ctrl-C', async (t) => {
    const folder = await manifestsFolder(t);
    await folder.write('broker.yaml', [brokerManifest(ns, 'default')]);
    await folder.write('orders.yaml', [triggerManifest(ns, 'orders', { subscriber: { uri: 'http://127.0.0.1:1/orders' } })]);
    const broker = await startBroker(t, { manifests: folder.dir, env: memory });
    const watch = spawn(process.execPath, [path.join(ROOT, 'bin', 'kafka-broker.js'), 'get', 'triggers', '-n', ns, '-w'], {
      cwd: ROOT, env: { ...process.env, XDG_STATE_HOME: TEST_STATE_HOME, KAFKA_BROKER_ADMIN_URL: broker.adminUrl }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    watch.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => watch.on('exit', (code) => resolve(code)));
    t.after(() => watch.kill('SIGKILL'));
    await waitUntil(() => /\norders\s+default\s+True\s+http:\/\/127\.0\.0\.1:1\/orders\s+(\d+|-)\s+\d+s\n/.test(out), { timeoutMs: 30_000, message: 'the table' });
    await folder.write('orders.yaml', [triggerManifest(ns, 'orders', { subscriber: { uri: 'http://127.0.0.1:1/v2' } })]);
    await folder.write('refunds.yaml', [triggerManifest(ns, 'refunds', { subscriber: { uri: 'http://127.0.0.1:1/refunds' } })]);
    await waitUntil(() => /\norders\s+default\s+True\s+http:\/\/127\.0\.0\.1:1\/v2\s/.test(out) && /\nrefunds\s+default\s+True\s/.test(out), { timeoutMs: 30_000, message: 'a row for each change' });
    await folder.remove('refunds.yaml');
    await waitUntil(() => /\nrefunds\s.*\(deleted\)\n/.test(out), { timeoutMs: 30_000, message: 'the deletion' });
    assert.equal(out.split('\n').filter((l) => l.startsWith('NAME')).length, 1, 'the header once');
    watch.kill('SIGINT');
    assert.equal(await exited, 0, 'Ctrl-C ends it with 0');
  });
});

