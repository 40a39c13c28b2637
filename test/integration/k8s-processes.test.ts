// The cluster deployment's three processes, as deploy/ runs them: `kafka-broker controller`
// (against a real kube-apiserver), `kafka-broker ingress` and `kafka-broker dispatcher`, the two
// last reading the contract from the first over HTTP; Kafka underneath.
//
//   test ──1 create Broker, Trigger──▶ kube-apiserver ◀──watch, status── controller process
//   ingress process ──2 GET /contract?after=g──▶ controller ◀──2── dispatcher process
//   test ──3 POST /<ns>/orders──▶ ingress ──▶ Kafka ──▶ dispatcher ──4 POST──▶ subscriber (test)
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { postEvent, receivedIds, startRecordingServer } from '../helpers/http.js';
import { kafkaBootstrapServers } from '../helpers/kafka.js';
import { onFreePorts } from '../helpers/ports.js';
import { startTestKube } from '../helpers/kube.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { BROKERS, SYSTEM_NAMESPACE, TRIGGERS, broker, create, ensureNamespace, kubeconfigYaml, trigger, waitForReady } from './k8s-harness.js';

const CLI = path.join(fileURLToPath(new URL('../../', import.meta.url)), 'bin', 'kafka-broker.js');
const kube = await startTestKube();
await ensureNamespace(kube, SYSTEM_NAMESPACE);


interface Proc {
  readonly child: ChildProcess;
  /** Resolves with the first match of `pattern` in stderr. */
  readonly printed: Promise<string>;
  stderr: string;
}

function run(args: string[], pattern: RegExp, env: Record<string, string | undefined> = {}): Proc {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, KAFKA_BOOTSTRAP_SERVERS: kafkaBootstrapServers().join(','), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const proc: Proc = {
    child,
    stderr: '',
    printed: new Promise((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        proc.stderr += chunk.toString();
        const match = pattern.exec(proc.stderr);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`kafka-broker ${args[0]} exited (${code}): ${proc.stderr}`)));
    }),
  };
  after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => resolve(clearTimeout(timer)));
    });
  });
  return proc;
}

/** SIGTERM, and its exit awaited: a process of an attempt given up. */
async function stop(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.child.once('exit', resolve));
  proc.child.kill('SIGTERM');
  await exited;
}

test('controller, ingress and dispatcher processes carry an event from a Broker to a Trigger', { timeout: 300_000 }, async (t) => {
  const ns = uniqueName('k8s-procs').toLowerCase();
  await ensureNamespace(kube, ns);
  const dir = await mkdtemp(path.join(tmpdir(), 'kb-procs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'kubeconfig.yaml');
  await writeFile(kubeconfig, kubeconfigYaml(kube), { mode: 0o600 });
  const subscriber = await startRecordingServer();
  t.after(() => subscriber.close());

  // The ingress's address is the brokers' address: its port is chosen before the controller
  // starts, and both start again on another port if that one was taken before the ingress listened.
  // The data plane authenticates to the controller (TokenReview); here with the test API server's admin token.
  const token = { KAFKA_BROKER_ADMIN_TOKEN: kube.server.token };
  const { controller, dataIngress, contractUrl, ingressUrl } = await onFreePorts(1, async ([ingressPort]) => {
    const controller = run(['controller', '--kubeconfig', kubeconfig, '--admin-port', '0', '--admin-host', '127.0.0.1', '--namespace', SYSTEM_NAMESPACE,
      '--lease-duration-ms', '3000', '--renew-deadline-ms', '2000', '--retry-period-ms', '400', '--ingress-url', `http://127.0.0.1:${ingressPort}`], /admin (http:\/\/\S+) /);
    const contractUrl = `${await controller.printed}/contract`;
    const dataIngress = run(['ingress', '--port', String(ingressPort), '--host', '127.0.0.1', '--contract-url', contractUrl], /listening on (http:\/\/\S+),/, token);
    try {
      return { controller, dataIngress, contractUrl, ingressUrl: await dataIngress.printed };
    } catch (error) {
      await stop(controller);
      throw error;
    }
  });
  const dispatcher = run(['dispatcher', '--health-port', '0', '--host', '127.0.0.1', '--contract-url', contractUrl], /health on (http:\/\/\S+),/, { ...token, DISPATCHER_EGRESS_RESTART_BACKOFF_MS: '500' });
  const healthUrl = await dispatcher.printed;

  await create(kube, BROKERS(ns), broker(ns, 'orders'));
  await create(kube, TRIGGERS(ns), trigger(ns, 'created', 'orders', { uri: `${subscriber.url}/created` }, { attributes: { type: 'order.created' } }));
  await waitForReady(kube, TRIGGERS(ns, 'created'), 'True', 90_000);
  assert.equal((await kube.get(BROKERS(ns, 'orders'))).body.status.address.url, `${ingressUrl}/${ns}/orders`);
  await waitUntil(async () => (await fetch(`${ingressUrl}/readyz`)).status === 200, { timeoutMs: 60_000, message: 'ingress ready' });
  await waitUntil(async () => (await fetch(`${healthUrl}/readyz`)).status === 200, { timeoutMs: 60_000, message: 'dispatcher ready' });
  // The ingress serves the Broker once its contract has it.
  const send = async (id: string, type: string): Promise<number> => (await postEvent(`${ingressUrl}/${ns}/orders`, id, type)).status;
  await waitUntil(async () => (await send(`probe-${Date.now()}`, 'probe')) === 202, { timeoutMs: 60_000, message: 'the ingress serves the broker' });
  assert.equal(await send('e-1', 'order.created'), 202);
  const ids = (): string[] => receivedIds(subscriber);
  await waitUntil(() => ids().includes('e-1'), { timeoutMs: 90_000, message: 'the event delivered by the dispatcher process' });
  assert.ok(!ids().some((id) => id.startsWith('probe')), "the probes did not pass the Trigger's filter");

  // SIGTERM: each process stops cleanly; the controller releases its Lease.
  for (const proc of [dataIngress, dispatcher, controller]) {
    proc.child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => proc.child.once('exit', (c) => resolve(c)));
    assert.equal(code, 0, proc.stderr);
  }
  const lease = await kube.get(`/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NAMESPACE}/leases/kafka-broker-controller`);
  assert.equal(lease.body.spec.holderIdentity, '');
});

test('the data-plane commands refuse a missing contract source or Kafka in one line', async () => {
  const exit = async (args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stderr: string }> => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, stderr };
  };
  const noContract = await exit(['ingress', '--kafka', '127.0.0.1:9092']);
  assert.equal(noContract.code, 1);
  assert.match(noContract.stderr, /^kafka-broker ingress: give exactly one of --contract-url .* or --contract-file/);
  const noKafka = await exit(['dispatcher', '--contract-url', 'http://127.0.0.1:9090/contract'], { KAFKA_BOOTSTRAP_SERVERS: '' });
  assert.equal(noKafka.code, 1);
  assert.match(noKafka.stderr, /Kafka is required/);
  const noKube = await exit(['controller', '--kafka', '127.0.0.1:9092'], { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' });
  assert.equal(noKube.code, 1);
  assert.match(noKube.stderr, /no Kubernetes credentials: give --kubeconfig/);
  assert.equal(noKube.stderr.trim().split('\n').length, 1);
});
