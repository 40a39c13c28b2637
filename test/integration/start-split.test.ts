import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { startSubscriber, type Subscriber } from '../helpers/servers.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { adminHeaders, brokerManifest, manifestsFolder, runCli, startBroker, triggerManifest, type BrokerProcess } from './start-cli.js';

/**
 * `kafka-broker start` on Kafka runs its ingress in a worker thread, or in worker processes of its
 * own with --ingress-workers 2 or more (issue 17), so that accepting and delivering events use
 * separate cores; it must still be one broker: it delivers, is ready only when every part is, stops
 * as one on SIGTERM, and stops as one, with a clear line, when a part dies.
 *
 *   start (controller, dispatcher, admin) ──contract──▶ ingress worker(s) ◀── POST
 */

const kafkaServers = process.env['KAFKA_BOOTSTRAP_SERVERS'];
const kafkaEnv = { KAFKA_BOOTSTRAP_SERVERS: kafkaServers };

/** The processes a process started (Linux). */
function childrenOf(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function sendOne(broker: BrokerProcess, ns: string, id: string): Promise<void> {
  const response = await fetch(`${broker.ingressUrl}/${ns}/default`, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/split', 'ce-type': 'dev.split', 'content-type': 'application/json' },
    body: JSON.stringify({ id }),
  });
  assert.equal(response.status, 202, await response.text());
}

describe('kafka-broker start split over threads and processes on Kafka', { timeout: 600_000 }, () => {
  if (!kafkaServers) throw new Error('KAFKA_BOOTSTRAP_SERVERS is not set: run with `npm test`, or start Kafka with `npm run kafka`');

  const setUp = async (t: TestContext, args: readonly string[] = [], env: Record<string, string> = {}): Promise<{ ns: string; sub: Subscriber; broker: BrokerProcess }> => {
    const ns = uniqueName('split');
    const folder = await manifestsFolder(t);
    const sub = await startSubscriber(t);
    await folder.write('all.yaml', [brokerManifest(ns, 'default'), triggerManifest(ns, 'all', { subscriber: { uri: `${sub.url}/all` } })]);
    const broker = await startBroker(t, { manifests: folder.dir, env: { ...kafkaEnv, ...env }, args });
    // Ready only once every part runs: the ingress worker gets the contract after the dispatcher started.
    await waitUntil(async () => (await fetch(`${broker.ingressUrl}/readyz`)).ok, { timeoutMs: 90_000, intervalMs: 100, message: 'the ingress ready' });
    return { ns, sub, broker };
  };

  test('by default the ingress runs in a worker thread, and events are delivered; SIGTERM stops it', async (t) => {
    const { ns, sub, broker } = await setUp(t, [], { LOG_LEVEL: 'debug' });
    // A thread of the broker's process: no process of its own (issue 17: ~40 MB less RSS).
    assert.deepEqual(childrenOf(broker.child.pid!), []);
    assert.match(broker.stderr(), /ingress thread listening/);
    for (let i = 0; i < 20; i++) await sendOne(broker, ns, `split-${i}`);
    await waitUntil(() => new Set(sub.requests.map((r) => r.headers['ce-id'])).size >= 20, { timeoutMs: 60_000, intervalMs: 50, message: '20 deliveries' });
    // /metrics on the admin port covers the worker's ingress too.
    const metrics = await (await fetch(`${broker.adminUrl}/metrics`, { headers: adminHeaders() })).text();
    const counts = metrics.split('\n').filter((line) => line.startsWith('kn_eventing_dispatch_latency_ms_count{') && line.includes(`"${ns}"`));
    assert.ok(counts.some((line) => !line.includes('kn_trigger_name')), `the ingress's series (from the worker):\n${counts.join('\n')}`);
    assert.ok(counts.some((line) => line.includes('kn_trigger_name="all"')), `the dispatcher's series:\n${counts.join('\n')}`);
    assert.equal(await broker.stop(), 0, broker.stderr());
  });

  test('a dead ingress worker process stops the whole broker with one clear line and exit code 1', async (t) => {
    const { ns, sub, broker } = await setUp(t, ['--ingress-workers', '2']);
    await sendOne(broker, ns, 'before-crash');
    await waitUntil(() => sub.requests.length >= 1, { timeoutMs: 60_000, intervalMs: 50, message: 'a delivery' });
    const [worker, other] = childrenOf(broker.child.pid!);
    assert.ok(worker !== undefined && other !== undefined);
    process.kill(worker, 'SIGKILL');
    const code = await new Promise<number | null>((resolve) => {
      if (broker.child.exitCode !== null) resolve(broker.child.exitCode);
      else broker.child.once('exit', (c) => resolve(c));
    });
    assert.equal(code, 1, broker.stderr());
    assert.match(broker.stderr(), new RegExp(`kafka-broker: the ingress worker \\(pid ${worker}\\) was killed by SIGKILL: stopping everything`));
    assert.match(broker.stderr(), /kafka-broker start: stopped: the ingress worker/);
    await waitUntil(() => !alive(other), { timeoutMs: 30_000, intervalMs: 50, message: 'the other worker gone' });
  });

  test('--ingress-workers 2 shares the port between two worker processes; --single-process runs none', async (t) => {
    const two = await setUp(t, ['--ingress-workers', '2']);
    const workers = childrenOf(two.broker.child.pid!);
    assert.equal(workers.length, 2);
    for (let i = 0; i < 10; i++) await sendOne(two.broker, two.ns, `two-${i}`);
    await waitUntil(() => new Set(two.sub.requests.map((r) => r.headers['ce-id'])).size >= 10, { timeoutMs: 60_000, intervalMs: 50, message: '10 deliveries' });
    assert.equal(await two.broker.stop(), 0, two.broker.stderr());
    await waitUntil(() => workers.every((pid) => !alive(pid)), { timeoutMs: 30_000, intervalMs: 50, message: 'the workers gone' });

    const one = await setUp(t, ['--single-process']);
    assert.deepEqual(childrenOf(one.broker.child.pid!), []);
    await sendOne(one.broker, one.ns, 'single-1');
    await waitUntil(() => one.sub.requests.length >= 1, { timeoutMs: 60_000, intervalMs: 50, message: 'a delivery' });
  });

  test('the ingress port taken: the failure of the worker thread is one line and exit code 1', async (t) => {
    const folder = await manifestsFolder(t);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const result = await runCli(['start', '--manifests', folder.dir, '--port', String(port), '--admin-port', '0'], { ...kafkaEnv, WARM_UP_EVENTS: '0' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^kafka-broker start: ingress: .*port ${port} is already in use; choose another with --port\\n$`));
  });

  test('bad --ingress-workers values are one-line errors; the in-memory log stays one process', async (t) => {
    const folder = await manifestsFolder(t);
    const memory = await runCli(['start', '--manifests', folder.dir, '--ingress-workers', '2'], { KAFKA_BOOTSTRAP_SERVERS: '' });
    assert.equal(memory.code, 1);
    assert.equal(memory.stderr, 'kafka-broker start: --ingress-workers needs Kafka (--kafka or KAFKA_BOOTSTRAP_SERVERS): the in-memory event log lives in one process\n');
    const bad = await runCli(['start', '--manifests', folder.dir, '--ingress-workers', 'many'], kafkaEnv);
    assert.equal(bad.stderr, 'kafka-broker start: --ingress-workers must be a whole number from 0 to 16, got "many"\n');
    const both = await runCli(['start', '--manifests', folder.dir, '--ingress-workers', '1', '--single-process'], kafkaEnv);
    assert.equal(both.stderr, 'kafka-broker start: --single-process and --ingress-workers cannot be used together\n');
  });
});
