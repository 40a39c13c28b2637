/**
 * Ingress throughput, in one run on this machine: 1 KiB binary-mode events at concurrency 64.
 *
 *   1. ceiling  a bare fastify route that answers 202 and does nothing (same raw-body parser)
 *   2. memory   the ingress on the in-memory log                   (goal: ≥ 50% of the ceiling)
 *   3. kafka    the ingress on Kafka, durable appends (acks=all)   (goal: ≥ 15,000 events/s, p99 < 25 ms)
 *   4. codec    decode + validate against the SDK's HTTP.toEvent + validate()   (goal: 5x)
 *   5. metrics  the in-memory ingress with metrics off and on, twice each, alternating; the
 *               ratio of the best of each (goal: on within 5 % of off; tracing stays off)
 *
 * The load client (undici Pool, 64 connections, one request each) runs in a child process so it
 * has the other core. Kafka comes from KAFKA_BOOTSTRAP_SERVERS (`npm run bench` starts one);
 * without it the Kafka figure is skipped and says so. BENCH_KAFKA_IN_FLIGHT sets the Kafka adapter's
 * maxInFlightBatches (default 1). Figures, not a test: nothing fails on speed.
 *
 *   npx tsx test/bench/ingress.bench.ts          (or: npm run bench -- ingress)
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fastify } from 'fastify';
import { Pool } from 'undici';
import { InProcessContractSource } from '../../core/contract/source.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import type { EventLog } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { createMetricsRegistry, type Registry } from '../../core/metrics.js';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { startIngress } from '../../broker-ingress/main.js';
import { makeBroker, makeContract } from '../helpers/builders.js';
import { runCodecBench } from './codec.bench.js';

const CONCURRENCY = 64;
const WARMUP_MS = 1500;
const MEASURE_MS = 5000;
const EVENT_BYTES = 1024;

interface LoadRequest {
  readonly url: string;
  readonly path: string;
  readonly warmupMs: number;
  readonly measureMs: number;
}

interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly statuses: Record<string, number>;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

// ---- the load client (child process)

async function runLoad(request: LoadRequest): Promise<LoadResult> {
  const pool = new Pool(request.url, { connections: CONCURRENCY, pipelining: 1 });
  const body = Buffer.from(JSON.stringify({ payload: 'x'.repeat(EVENT_BYTES - 14) }));
  let counter = 0;
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let measuring = false;
  let stop = false;
  let requests = 0;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const started = performance.now();
      const response = await pool.request({
        method: 'POST',
        path: request.path,
        headers: {
          'ce-specversion': '1.0', 'ce-id': String(counter++), 'ce-source': '/bench/producer', 'ce-type': 'dev.knative.bench',
          'content-type': 'application/json',
        },
        body,
      });
      await response.body.dump();
      if (measuring) {
        requests++;
        latencies.push(performance.now() - started);
        statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
      }
    }
  };
  const workers = Array.from({ length: CONCURRENCY }, worker);
  await new Promise((resolve) => setTimeout(resolve, request.warmupMs));
  measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, request.measureMs));
  measuring = false;
  const seconds = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(workers);
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { requests, seconds, statuses, p50Ms: at(0.5), p99Ms: at(0.99) };
}

if (process.argv.includes('--load-client')) {
  process.once('message', (message: LoadRequest) => {
    void runLoad(message).then((result) => {
      process.send!(result, () => process.exit(0));
    });
  });
} else {
  await main();
}

function load(url: string, path: string): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--load-client'], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    child.once('message', (result: LoadResult) => resolve(result));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load client exited with ${code}`));
    });
    child.send({ url, path, warmupMs: WARMUP_MS, measureMs: MEASURE_MS } satisfies LoadRequest);
  });
}

// ---- the servers (this process)

interface Figure {
  readonly name: string;
  readonly perSecond: number;
  readonly result: LoadResult;
}

function report(name: string, result: LoadResult): Figure {
  const perSecond = result.requests / result.seconds;
  const statuses = Object.entries(result.statuses).map(([s, n]) => `${s}×${n}`).join(' ');
  console.log(`  ${name.padEnd(34)} ${Math.round(perSecond).toLocaleString('en-US').padStart(8)} events/s   p50 ${result.p50Ms.toFixed(2).padStart(6)} ms   p99 ${result.p99Ms.toFixed(2).padStart(6)} ms   [${statuses}]`);
  return { name, perSecond, result };
}

async function ceiling(): Promise<Figure> {
  const app = fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.post('/ns/bench', (_request, reply) => reply.code(202).send());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  try {
    return report('bare fastify 202 (ceiling)', await load(`http://127.0.0.1:${port}`, '/ns/bench'));
  } finally {
    await app.close();
  }
}

async function ingressOn(name: string, log: EventLog, metrics?: Registry): Promise<Figure> {
  const broker = makeBroker(`bench-${process.pid}-${log.kind}`, [], {}, 'ns');
  await log.ensureTopic(broker.topics[0]!, { partitions: 3, replicationFactor: 1 });
  const contracts = new InProcessContractSource(makeContract([broker], 1));
  const ingress = await startIngress({ config: ingressConfigSchema.parse({ host: '127.0.0.1', port: 0 }), log, contracts, logger: silentLogger(), metrics });
  try {
    return report(name, await load(ingress.url, broker.ingress!.path));
  } finally {
    await ingress.close();
    await log.deleteTopic(broker.topics[0]!).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  console.log(`ingress: 1 KiB binary-mode events, concurrency ${CONCURRENCY}, ${MEASURE_MS / 1000} s each after ${WARMUP_MS / 1000} s warm-up (load client in a child process)`);
  const top = await ceiling();
  const memoryLog = new MemoryEventLog();
  const memory = await ingressOn('ingress, in-memory log', memoryLog);
  await memoryLog.close();

  let kafka: Figure | undefined;
  const servers = process.env['KAFKA_BOOTSTRAP_SERVERS'];
  if (servers) {
    // The adapter's default is one produce request in flight; BENCH_KAFKA_IN_FLIGHT tries others.
    const maxInFlightBatches = Number(process.env['BENCH_KAFKA_IN_FLIGHT'] ?? '1');
    const kafkaLog = new KafkaEventLog({ brokers: servers.split(','), clientId: 'ingress-bench', logger: silentLogger(), maxInFlightBatches });
    try {
      kafka = await ingressOn('ingress, Kafka (acks=all)', kafkaLog);
    } finally {
      await kafkaLog.close();
    }
  } else {
    console.log('  ingress, Kafka: skipped (KAFKA_BOOTSTRAP_SERVERS is not set; `npm run bench -- ingress` starts a Kafka)');
  }

  // Metrics off and on, alternating so that drift on a shared machine hits both alike.
  const runs: { off: Figure[]; on: Figure[] } = { off: [], on: [] };
  for (let round = 1; round <= 2; round++) {
    for (const on of [false, true]) {
      const log = new MemoryEventLog();
      const figure = await ingressOn(`ingress, in-memory, metrics ${on ? 'on ' : 'off'} #${round}`, log, on ? createMetricsRegistry() : undefined);
      (on ? runs.on : runs.off).push(figure);
      await log.close();
    }
  }
  const best = (figures: Figure[]): number => Math.max(...figures.map((f) => f.perSecond));

  console.log('');
  const codec = runCodecBench();

  console.log('\nsummary');
  console.log(`  memory / ceiling:  ${(100 * memory.perSecond / top.perSecond).toFixed(0)}%  (goal ≥ 50%)`);
  if (kafka) {
    console.log(`  kafka / ceiling:   ${(100 * kafka.perSecond / top.perSecond).toFixed(0)}%`);
    console.log(`  kafka:             ${Math.round(kafka.perSecond).toLocaleString('en-US')} events/s (goal ≥ 15,000), p99 ${kafka.result.p99Ms.toFixed(1)} ms (goal < 25 ms)`);
  }
  console.log(`  metrics on / off:  ${(100 * best(runs.on) / best(runs.off)).toFixed(1)}%  (best of 2 each; goal ≥ 95%)`);
  console.log(`  codec vs SDK:      ${(codec.sdkBinaryUs / codec.oursBinaryUs).toFixed(1)}x binary, ${(codec.sdkStructuredUs / codec.oursStructuredUs).toFixed(1)}x structured (goal 5x)`);
}
