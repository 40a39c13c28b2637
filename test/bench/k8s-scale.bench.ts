/**
 * The Kubernetes mode at 10,000 Triggers: applied through a real kube-apiserver (with etcd),
 * reconciled by the controller (in this process) on the event log, and fetched by the data plane
 * over HTTP (`GET /contract?after=<generation>`, gzip).
 *
 *   npx tsx test/bench/k8s-scale.bench.ts [triggers=10000] [brokers=10]
 *
 * Prints the time from the first create to (a) the data plane holding every Trigger's egress and
 * (b) every Trigger's status saying Ready, then the time to delete them all through the
 * finalizers (consumer groups and topics first), and the bytes the data plane received. The
 * baseline, measured in the same run, is what Knative's Kafka broker does: the whole contract in
 * one ConfigMap, which the API server refuses past 1 MiB (about 1,200 Triggers there).
 *
 * Uses Kafka when KAFKA_BOOTSTRAP_SERVERS is set (npm run bench starts one), else the in-memory log.
 * On 2 shared cores the run takes several minutes; it never fails on speed.
 */
import { ensureKubeBinaries } from '../../scripts/kube/build.js';
import { startKubeApiServer } from '../../scripts/kube/kube.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import type { EventLog } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { KubeTestClient } from '../helpers/kube.js';
import { SYSTEM_NAMESPACE, ensureNamespace, runScale } from '../integration/k8s-harness.js';

const CONFIGMAP_LIMIT_BYTES = 1024 * 1024;
const triggers = Number(process.argv[2] ?? 10_000);
const brokers = Number(process.argv[3] ?? 10);
const kafka = process.env['KAFKA_BOOTSTRAP_SERVERS'];

const binaries = await ensureKubeBinaries({ env: process.env, onProgress: (line) => console.error(`[kube] ${line}`) });
const server = await startKubeApiServer({ binaries });
const kube = new KubeTestClient(server);
const log: EventLog = kafka
  ? new KafkaEventLog({ brokers: kafka.split(','), clientId: 'k8s-scale-bench', logger: silentLogger() })
  : new MemoryEventLog();
try {
  await ensureNamespace(kube, SYSTEM_NAMESPACE);
  console.log(`${triggers} triggers over ${brokers} brokers, event log: ${kafka ? `Kafka at ${kafka}` : 'memory'}`);
  const raw = await rawCreateRate(Math.min(triggers, 2000));
  console.log(`  baseline: the API server alone creates ${Math.round(raw)} Triggers/s (32 at a time, no controller)`);
  const r = await runScale({
    kube, log, namespace: `scale-${Date.now().toString(36)}`, brokers, triggers, concurrency: 32,
    onProgress: (line) => console.log(`  ${line}`),
  });
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const rate = r.triggers / (r.createMs / 1000);
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
  console.log('');
  console.log(`apply ${r.triggers} triggers (API server, 32 at a time)  ${s(r.createMs)}  (${Math.round(rate)}/s, x${(raw / rate).toFixed(1)} slower than the API server alone: each Trigger is also a finalizer and a status write)`);
  console.log(`first create → data plane has every egress         ${s(r.dataPlaneMs)}`);
  console.log(`first create → every status Ready                  ${s(r.statusMs)}  (${r.statusWrites} status writes, ${r.finalizerWrites} finalizers added)`);
  console.log(`delete all → finalizers done (groups, topics gone) ${s(r.deleteMs)}`);
  console.log(`contract at ${r.triggers} triggers: ${kib(r.contractJsonBytes)} JSON, ${kib(r.contractGzipBytes)} gzipped (${(r.contractJsonBytes / r.contractGzipBytes).toFixed(1)}x)`);
  console.log(`leaderships: ${r.leaderships} (1 = the controller kept its Lease throughout)`);
  console.log(`data plane received ${kib(r.bytesReceived)} over the wire (${kib(r.bytesDecoded)} decoded) in ${r.contractsReceived} contracts, ${r.requests} requests, ${r.generations % 1e9} generations published`);
  const perTrigger = r.contractJsonBytes / r.triggers;
  console.log(`baseline, one ConfigMap (Knative): ${Math.floor(CONFIGMAP_LIMIT_BYTES / perTrigger)} triggers fit in 1 MiB at ${perTrigger.toFixed(0)} B each; ours is ${(r.contractJsonBytes / CONFIGMAP_LIMIT_BYTES).toFixed(1)}x that limit, sent as ${(r.contractGzipBytes / CONFIGMAP_LIMIT_BYTES).toFixed(2)}x of it`);
} finally {
  await log.close();
  await kube.close();
  await server.stop();
}

/** Creates and deletes Triggers with no controller running: what the API server does alone. */
async function rawCreateRate(count: number): Promise<number> {
  const ns = `baseline-${Date.now().toString(36)}`;
  await ensureNamespace(kube, ns);
  let next = 0;
  const started = Date.now();
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < count) {
      const i = next++;
      const created = await kube.create(`/apis/eventing.knative.dev/v1/namespaces/${ns}/triggers`, {
        apiVersion: 'eventing.knative.dev/v1', kind: 'Trigger', metadata: { name: `t-${i}` },
        spec: { broker: 'none', subscriber: { uri: 'http://x.example/' }, filter: { attributes: { type: `t${i}` } } },
      });
      if (created.status !== 201) throw new Error(`baseline create: ${created.status}`);
    }
  }));
  const rate = count / ((Date.now() - started) / 1000);
  // Gone before the controller starts (no finalizer was ever added).
  await kube.delete(`/apis/eventing.knative.dev/v1/namespaces/${ns}/triggers`);
  return rate;
}
