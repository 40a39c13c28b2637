/**
 * The controller, from manifests to a published contract, at 1,000, 5,000 and 10,000 triggers
 * across 100 brokers (goal: under 2 s at 10,000, growing linearly).
 *
 *   npx tsx test/bench/controller.bench.ts
 *
 * Each size is written as 100 files (a broker and its triggers each, a mix of every filter
 * dialect, CESQL included), then timed: reading and parsing the folder (ManifestSource), the first
 * reconcile pass on the in-memory log (admission, topics, consumer groups, desired state,
 * contract, statuses), and a pass after one trigger changed; each figure is the median of three
 * runs. The baseline, measured in the same run, is `JSON.parse` of the same objects: the least any
 * reading of them can cost.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { ContractWriter } from '../../controller/contract-writer.js';
import { Reconciler } from '../../controller/reconciler.js';
import { ManifestSource } from '../../controller/sources/manifests.js';
import type { ReconcileSettings } from '../../controller/state.js';
import type { Contract } from '../../core/contract/types.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { silentLogger } from '../../core/logger.js';

const BROKERS = 100;
const SIZES = [1_000, 5_000, 10_000];

const settings: ReconcileSettings = {
  ingressUrl: 'http://127.0.0.1:8080',
  topicPartitions: 10,
  topicReplicationFactor: 1,
  defaultBackoffDelayMs: 200,
  admission: { brokerClass: 'Kafka', brokerDelivery: { retry: 10, backoffPolicy: 'exponential', backoffDelay: 'PT0.2S' } },
};

function filterFor(i: number): Record<string, unknown> {
  switch (i % 4) {
    case 0:
      return { filter: { attributes: { type: `com.example.t${i}`, source: '/shop' } } };
    case 1:
      return { filters: [{ exact: { type: `com.example.t${i}` } }, { prefix: { source: '/shop/' } }] };
    case 2:
      return { filters: [{ any: [{ suffix: { subject: '.png' } }, { not: { exact: { type: `com.example.t${i}` } } }] }] };
    default:
      return { filters: [{ cesql: `type = 'com.example.t${i}' AND (EXISTS amount AND INT(amount) > ${i % 1000})` }] };
  }
}

function objectsFor(triggers: number): object[][] {
  const files: object[][] = Array.from({ length: BROKERS }, (_, b) => [
    {
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Broker',
      metadata: { name: `broker-${b}`, namespace: 'bench', annotations: { 'eventing.knative.dev/broker.class': 'Kafka' } },
      spec: { delivery: { retry: 3, backoffPolicy: 'exponential', backoffDelay: 'PT0.5S' } },
    },
  ]);
  for (let i = 0; i < triggers; i++) {
    files[i % BROKERS]!.push({
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Trigger',
      metadata: { name: `trigger-${i}`, namespace: 'bench' },
      spec: {
        broker: `broker-${i % BROKERS}`,
        ...filterFor(i),
        subscriber: { uri: `http://subscriber-${i % 50}.bench.svc:8080/events/${i}` },
        ...(i % 10 === 0 ? { delivery: { retry: 5, deadLetterSink: { uri: 'http://dead-letters.bench.svc/' } } } : {}),
      },
    });
  }
  return files;
}

interface Figures {
  readonly triggers: number;
  readonly baselineMs: number;
  readonly loadMs: number;
  readonly passMs: number;
  readonly totalMs: number;
  readonly changeMs: number;
  readonly contractBytes: number;
  readonly egresses: number;
}

async function measure(triggers: number): Promise<Figures> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kb-bench-'));
  try {
    const files = objectsFor(triggers);
    for (const [i, objects] of files.entries()) await writeFile(path.join(dir, `broker-${i}.yaml`), objects.map((o) => stringify(o)).join('---\n'));
    const asJson = JSON.stringify(files);
    const b0 = performance.now();
    JSON.parse(asJson);
    const baselineMs = performance.now() - b0;

    const log = new MemoryEventLog();
    const published: Contract[] = [];
    const source = new ManifestSource({ dir, logger: silentLogger(), pollMs: 60_000 });
    const reconciler = new Reconciler({ source, log, settings, logger: silentLogger(), contracts: new ContractWriter((c) => void published.push(c)), deleteGraceMs: 0 });

    // From manifests (files on disk) to a published contract.
    const t0 = performance.now();
    await source.start(() => undefined);
    const t1 = performance.now();
    await reconciler.reconcile();
    const t2 = performance.now();
    const contract = published.at(-1)!;
    const egresses = contract.resources.reduce((n, r) => n + r.egresses.length, 0);
    if (egresses !== triggers) throw new Error(`expected ${triggers} egresses in the contract, found ${egresses}`);

    // One trigger changed: one file read again, one more pass, one more generation.
    const changed = files[7]!;
    (changed[1] as { spec: Record<string, unknown> }).spec['filter'] = { attributes: { type: 'changed' } };
    delete (changed[1] as { spec: Record<string, unknown> }).spec['filters'];
    await writeFile(path.join(dir, 'broker-7.yaml'), changed.map((o) => stringify(o)).join('---\n'));
    const t3 = performance.now();
    await source.reload();
    await reconciler.reconcile();
    const t4 = performance.now();
    if (published.at(-1)!.generation !== contract.generation + 1) throw new Error('the change did not publish a new generation');

    await reconciler.close();
    await log.close();
    return {
      triggers,
      baselineMs,
      loadMs: t1 - t0,
      passMs: t2 - t1,
      totalMs: t2 - t0,
      changeMs: t4 - t3,
      contractBytes: Buffer.byteLength(JSON.stringify(contract)),
      egresses,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const fmt = (ms: number): string => `${ms.toFixed(0).padStart(6)} ms`;

console.log(`controller: manifests -> published contract, ${BROKERS} brokers (node ${process.version})`);
console.log('triggers   read+parse   reconcile     total   1 change   contract    per trigger   JSON.parse baseline');
await measure(500); // warm-up: JIT, module loading
const results: Figures[] = [];
for (const size of SIZES) {
  // The median of three runs: the machine is shared, single runs are noisy.
  const runs = [await measure(size), await measure(size), await measure(size)].sort((a, b) => a.totalMs - b.totalMs);
  const f = runs[1]!;
  results.push(f);
  console.log(
    `${String(f.triggers).padStart(8)} ${fmt(f.loadMs)} ${fmt(f.passMs)} ${fmt(f.totalMs)} ${fmt(f.changeMs)} ${(f.contractBytes / 1024 / 1024).toFixed(2).padStart(7)} MB ${(f.totalMs / f.triggers * 1000).toFixed(0).padStart(8)} µs ${fmt(f.baselineMs)} (x${(f.totalMs / f.baselineMs).toFixed(0)})`,
  );
}
const first = results[0]!;
const last = results.at(-1)!;
console.log(`growth ${first.triggers} -> ${last.triggers} triggers (x${last.triggers / first.triggers}): total time x${(last.totalMs / first.totalMs).toFixed(1)}, contract size x${(last.contractBytes / first.contractBytes).toFixed(1)} (linear would be x${last.triggers / first.triggers})`);
console.log(`goal: 10,000 triggers under 2 s from manifests to a published contract: ${last.totalMs < 2000 ? 'met' : 'NOT met'} (${last.totalMs.toFixed(0)} ms)`);
