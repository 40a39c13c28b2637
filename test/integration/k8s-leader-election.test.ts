// Leader election on a coordination.k8s.io Lease, against a real kube-apiserver: two controller
// replicas never reconcile at once, and when the leader dies a standby takes over within the
// lease duration. Once with replicas in this process (their reconcile periods are compared
// exactly), once with two real `kafka-broker controller` processes and SIGKILL.
//
//   replica A ──renew every retryPeriod──▶ Lease ◀──try every retryPeriod── replica B (standby)
//        ✕ killed                           │ unchanged for leaseDuration (B's clock)
//                                           ▼
//                                 B takes the Lease (term + 1), lists, reconciles, serves /contract
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GENERATIONS_PER_TERM } from '../../controller/kubernetes/controller.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { kafkaBootstrapServers } from '../helpers/kafka.js';
import { startTestKube } from '../helpers/kube.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import {
  BROKERS, SYSTEM_NAMESPACE, TRIGGERS, broker, create, ensureNamespace, kubeconfigYaml, startController, testConfig, trigger, waitForReady,
} from './k8s-harness.js';

const kube = await startTestKube();
await ensureNamespace(kube, SYSTEM_NAMESPACE);

// Long enough that a leader renews in time when the kube-apiserver (and etcd's fsync) is slow on
// a busy machine: with a 3 s lease and 2 s to renew, the leader could lose the Lease mid-test.
const LEASE_MS = 6000;
const RENEW_DEADLINE_MS = 4000;
const RETRY_MS = 400;
const leasePath = (name: string): string => `/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NAMESPACE}/leases/${name}`;
const holderOf = async (name: string): Promise<string | undefined> => (await kube.get(leasePath(name))).body?.spec?.holderIdentity;

describe('leader election, replicas in this process', { timeout: 300_000 }, () => {
  const lease = 'in-process';
  const ns = uniqueName('k8s-leader').toLowerCase();
  const log = new MemoryEventLog();
  after(() => log.close());
  const config = (identity: string) => testConfig({ leaseName: lease, identity, leaseDurationMs: LEASE_MS, renewDeadlineMs: RENEW_DEADLINE_MS, retryPeriodMs: RETRY_MS, ingressUrl: 'http://ingress.test' });

  test('one leads, the other stands by; the standby takes over within the lease duration after the leader dies', async (t) => {
    await ensureNamespace(kube, ns);
    const a = await startController(t, { kube, log, config: config('replica-a') });
    await waitUntil(() => a.controller.isLeader() && a.controller.notReadyReason() === undefined, { timeoutMs: 30_000, message: 'A leads' });
    const b = await startController(t, { kube, log, config: config('replica-b') });
    assert.equal(await holderOf(lease), 'replica-a');

    await create(kube, BROKERS(ns), broker(ns, 'orders'));
    await waitForReady(kube, BROKERS(ns, 'orders'));
    // The standby has campaigned all along, and done nothing else.
    await new Promise((r) => setTimeout(r, 3 * RETRY_MS));
    assert.equal(b.controller.isLeader(), false);
    assert.equal(b.controller.reconciler(), undefined);
    assert.match(b.controller.notReadyReason() ?? '', /standby: replica-a leads/);
    assert.equal((await fetch(`${b.adminUrl}/readyz`)).status, 503, 'a standby is not ready: the Service sends no data plane to it');
    const generationA = a.controller.feed.current()!.generation;

    // A dies: it stops renewing and reconciling, and does not release the Lease.
    await a.controller.crash();
    const died = Date.now();
    await waitUntil(() => b.controller.isLeader(), { timeoutMs: 4 * LEASE_MS, intervalMs: 20, message: 'B takes over' });
    const tookOver = Date.now() - died;
    t.diagnostic(`takeover after the leader died: ${tookOver} ms (lease duration ${LEASE_MS} ms, retry period ${RETRY_MS} ms)`);
    assert.equal(await holderOf(lease), 'replica-b');

    // Never at once: A's only leadership ended before B's began.
    const [ofA] = a.controller.leaderships();
    const [ofB] = b.controller.leaderships();
    assert.ok(ofA?.endedAt !== undefined && ofB !== undefined && ofA.endedAt <= ofB.startedAt, JSON.stringify({ ofA, ofB }));
    assert.equal(ofB.term, ofA.term + 1, 'a new term');

    // B reconciles: a new Trigger becomes Ready, and its contract generations are above A's.
    await create(kube, TRIGGERS(ns), trigger(ns, 'after-takeover', 'orders', { uri: 'http://subscriber.test/' }));
    await waitForReady(kube, TRIGGERS(ns, 'after-takeover'));
    const generationB = b.controller.feed.current()!.generation;
    assert.ok(generationB > generationA, `${generationB} > ${generationA}`);
    assert.equal(Math.floor(generationB / GENERATIONS_PER_TERM), ofB.term);
    await waitUntil(async () => (await fetch(`${b.adminUrl}/readyz`)).status === 200, { timeoutMs: 30_000, message: 'B ready' });
  });

  test('a leader that shuts down releases the Lease: the standby takes over at its next try', async (t) => {
    // A long lease: were the Lease not released, the standby would wait 20 s for it to expire.
    const long = (identity: string) => testConfig({ leaseName: lease, identity, leaseDurationMs: 20_000, renewDeadlineMs: 15_000, retryPeriodMs: RETRY_MS, ingressUrl: 'http://ingress.test' });
    const c = await startController(t, { kube, log, config: long('replica-c') });
    await waitUntil(() => c.controller.isLeader(), { timeoutMs: 30_000, message: 'C leads (B of the last test released the Lease)' });
    const d = await startController(t, { kube, log, config: long('replica-d') });
    await new Promise((r) => setTimeout(r, 2 * RETRY_MS));
    assert.equal(d.controller.isLeader(), false);
    const closing = Date.now();
    await c.close();
    assert.equal(await holderOf(lease), '', 'released');
    // 15 s: room for a stalled process, and still well before the 20 s lease would expire.
    await waitUntil(() => d.controller.isLeader(), { timeoutMs: 15_000, intervalMs: 20, message: 'D takes over before the 20 s lease could expire' });
    t.diagnostic(`takeover after a clean shutdown: ${Date.now() - closing} ms`);
  });
});

describe('leader election, two `kafka-broker controller` processes', { timeout: 300_000 }, () => {
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));
  const CLI = path.join(ROOT, 'bin', 'kafka-broker.js');
  const lease = 'processes';
  const ns = uniqueName('k8s-procs').toLowerCase();

  interface Replica {
    readonly name: string;
    readonly child: ChildProcess;
    readonly adminUrl: Promise<string>;
    stderr: string;
  }

  const spawnReplica = (name: string, kubeconfig: string): Replica => {
    const child = spawn(process.execPath, [
      CLI, 'controller', '--kubeconfig', kubeconfig, '--admin-port', '0', '--admin-host', '127.0.0.1', '--namespace', SYSTEM_NAMESPACE,
      '--identity', name, '--lease-name', lease, '--lease-duration-ms', String(LEASE_MS), '--renew-deadline-ms', String(RENEW_DEADLINE_MS), '--retry-period-ms', String(RETRY_MS),
      '--ingress-url', 'http://ingress.test',
    ], { env: { ...process.env, KAFKA_BOOTSTRAP_SERVERS: kafkaBootstrapServers().join(','), LOG_LEVEL: 'warn', CONTROLLER_TOPIC_PARTITIONS: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    const replica: Replica = {
      name,
      child,
      stderr: '',
      adminUrl: new Promise((resolve, reject) => {
        child.stderr!.on('data', (chunk: Buffer) => {
          replica.stderr += chunk.toString();
          const match = /admin (http:\/\/\S+) /.exec(replica.stderr);
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`${name} exited (${code}): ${replica.stderr}`)));
      }),
    };
    after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    return replica;
  };
  const readyz = async (replica: Replica): Promise<number> => (await fetch(`${await replica.adminUrl}/readyz`)).status;

  test('SIGKILL the leader: the other process takes over and serves the contract', async (t) => {
    await ensureNamespace(kube, ns);
    const dir = await mkdtemp(path.join(tmpdir(), 'kb-kubeconfig-'));
    after(() => rm(dir, { recursive: true, force: true }));
    const kubeconfig = path.join(dir, 'kubeconfig.yaml');
    await writeFile(kubeconfig, kubeconfigYaml(kube), { mode: 0o600 });

    const first = spawnReplica('process-1', kubeconfig);
    await waitUntil(async () => (await readyz(first)) === 200, { timeoutMs: 60_000, intervalMs: 100, message: 'process-1 ready (leader, first pass done)' });
    const second = spawnReplica('process-2', kubeconfig);
    await second.adminUrl;
    await create(kube, BROKERS(ns), broker(ns, 'orders'));
    await waitForReady(kube, BROKERS(ns, 'orders'), 'True', 90_000);
    assert.equal(await readyz(second), 503, 'the standby is not ready');
    assert.equal(await holderOf(lease), 'process-1');
    const before = await (await fetch(`${await first.adminUrl}/contract`, { headers: { authorization: `Bearer ${kube.server.token}` } })).json() as { generation: number };

    first.child.kill('SIGKILL');
    const killed = Date.now();
    await waitUntil(async () => (await holderOf(lease)) === 'process-2', { timeoutMs: 4 * LEASE_MS, intervalMs: 20, message: 'process-2 holds the Lease' });
    const leaseTaken = Date.now() - killed;
    await waitUntil(async () => (await readyz(second)) === 200, { timeoutMs: 60_000, intervalMs: 50, message: 'process-2 ready' });
    const ready = Date.now() - killed;
    t.diagnostic(`SIGKILL → Lease taken: ${leaseTaken} ms; → new leader ready (listed, first pass): ${ready} ms (lease duration ${LEASE_MS} ms)`);

    const contract = await (await fetch(`${await second.adminUrl}/contract`, { headers: { authorization: `Bearer ${kube.server.token}` } })).json() as { generation: number; resources: { reference: { namespace: string } }[] };
    assert.ok(contract.generation > before.generation, 'the new leader numbers its contracts above the old one');
    assert.ok(contract.resources.some((r) => r.reference.namespace === ns), 'with the Broker');
    // It reconciles: a new Trigger gets Ready.
    await create(kube, TRIGGERS(ns), trigger(ns, 'later', 'orders', { uri: 'http://subscriber.test/' }));
    await waitForReady(kube, TRIGGERS(ns, 'later'), 'True', 90_000);

    // Clean up on Kafka through the finalizer, then stop (SIGTERM releases the Lease).
    assert.equal((await kube.delete(BROKERS(ns, 'orders'))).status, 200);
    await waitUntil(async () => (await kube.get(BROKERS(ns, 'orders'))).status === 404, { timeoutMs: 60_000, message: 'Broker gone' });
    second.child.kill('SIGTERM');
    await new Promise((resolve) => second.child.once('exit', resolve));
    assert.equal(await holderOf(lease), '', 'released on SIGTERM');
  });
});
