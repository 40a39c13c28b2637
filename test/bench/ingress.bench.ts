/**
 * Ingress throughput, in one run on this machine: 1 KiB binary-mode events at concurrency 64.
 *
 *   1. ceiling  a bare fastify route that answers 202 and does nothing (same raw-body parser)
 *   2. memory   the ingress on the in-memory log                   (goal: ≥ 50% of the ceiling)
 *   3. kafka    the ingress on Kafka, durable appends (acks=all)   (goal: ≥ 15,000 events/s, p99 < 25 ms)
 *   4. codec    decode + validate against the SDK's HTTP.toEvent + validate()   (goal: 5x)
 *   5. metrics  the ingress with metrics off and on (tracing stays off), on the in-memory log and
 *               on Kafka: a warm-up pair, then PAIRS short pairs alternating off-on, on-off, ...
 *               (test/bench/paired.ts); the median of the pair ratios with their min–max, and CPU
 *               µs per event of this process (the ingress) off and on (goal: on within 5 % of off);
 *               and the metrics calls of one event timed alone (metrics-cost.ts), as a share of
 *               the off rounds' CPU per event: the figure that moves least with other load
 *
 * Every figure also gives the ingress's CPU per event: process.cpuUsage() of this process over a
 * round (warm-up included) divided by the requests answered in it. The load client does not count:
 * it is a child process.
 *
 * The metrics-on rounds share one registry (with process metrics), created in the warm-up pair:
 * prom-client cannot stop its event-loop-delay monitor and GC observer once started, so from then
 * on the off rounds carry those two as well, and the comparison is of the per-event metrics work.
 * A registry per round would have stacked one more monitor and observer on every later round.
 *
 * The load client (test/bench/load-client.ts: undici Pool, 64 connections, one request each) runs
 * in one child process, for every round, so it has the other core. Kafka comes from KAFKA_BOOTSTRAP_SERVERS (`npm run bench`
 * starts one); without it the Kafka figures are skipped and say so. BENCH_KAFKA_IN_FLIGHT sets the
 * Kafka adapter's maxInFlightBatches (default 1). BENCH_PAIRS (default 8) and BENCH_PAIR_MS
 * (measured ms per round, default 1200) size the metrics comparison. Figures, not a test: nothing
 * fails on speed.
 *
 *   npx tsx test/bench/ingress.bench.ts          (or: npm run bench -- ingress)
 */
import { fastify } from 'fastify';
import { InProcessContractSource } from '../../core/contract/source.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import type { EventLog } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { createMetricsRegistry, type Registry } from '../../core/metrics.js';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { startIngress } from '../../broker-ingress/main.js';
import type { Resource } from '../../core/contract/types.js';
import { makeBroker, makeContract } from '../helpers/builders.js';
import { runCodecBench } from './codec.bench.js';
import { answersOtherThan, CONCURRENCY, LoadClient, statusCounts, type LoadResult } from './load-client.js';
import { costLine, ingressMetricsCost } from './metrics-cost.js';
import { alternate, pairLine, pairLines, type PairSummary } from './paired.js';

const WARMUP_MS = 1500;
const MEASURE_MS = 5000;
const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 8);
const PAIR_MS = Number(process.env['BENCH_PAIR_MS'] ?? 1200);
const PAIR_WARMUP_MS = 300;

// ---- the servers (this process)

interface Figure {
  readonly name: string;
  readonly perSecond: number;
  readonly cpuMicrosPerEvent: number;
  readonly result: LoadResult;
}

function report(name: string, result: LoadResult, cpuMicros: number, print = true): Figure {
  const perSecond = result.requests / result.seconds;
  const cpuMicrosPerEvent = cpuMicros / Math.max(1, result.total);
  if (print) {
    console.log(`  ${name.padEnd(34)} ${Math.round(perSecond).toLocaleString('en-US').padStart(8)} events/s   p50 ${result.p50Ms.toFixed(2).padStart(6)} ms   p99 ${result.p99Ms.toFixed(2).padStart(6)} ms   CPU ${cpuMicrosPerEvent.toFixed(1).padStart(5)} µs/event   [${statusCounts(result)}]`);
  }
  return { name, perSecond, cpuMicrosPerEvent, result };
}

/** Runs the load against url+path and measures this process's CPU time over it. */
async function measured(client: LoadClient, url: string, path: string, warmupMs = WARMUP_MS, measureMs = MEASURE_MS): Promise<{ result: LoadResult; cpuMicros: number }> {
  const cpu = process.cpuUsage();
  const result = await client.run({ url, path, warmupMs, measureMs });
  const used = process.cpuUsage(cpu);
  return { result, cpuMicros: used.user + used.system };
}

async function ceiling(client: LoadClient): Promise<Figure> {
  const app = fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.post('/ns/bench', (_request, reply) => reply.code(202).send());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  try {
    const { result, cpuMicros } = await measured(client, `http://127.0.0.1:${port}`, '/ns/bench');
    return report('bare fastify 202 (ceiling)', result, cpuMicros);
  } finally {
    await app.close();
  }
}

/** A broker whose topic exists on `log`; the caller deletes the topic. */
async function benchBroker(log: EventLog, suffix: string): Promise<Resource> {
  const broker = makeBroker(`bench-${process.pid}-${log.kind}-${suffix}`, [], {}, 'ns');
  await log.ensureTopic(broker.topics[0]!, { partitions: 3, replicationFactor: 1 });
  return broker;
}

interface Round {
  readonly client: LoadClient;
  readonly log: EventLog;
  readonly broker: Resource;
  readonly metrics?: Registry | undefined;
  readonly warmupMs?: number;
  readonly measureMs?: number;
}

async function ingressOn(name: string, round: Round, print = true): Promise<Figure> {
  const contracts = new InProcessContractSource(makeContract([round.broker], 1));
  const ingress = await startIngress({ config: ingressConfigSchema.parse({ host: '127.0.0.1', port: 0 }), log: round.log, contracts, logger: silentLogger(), metrics: round.metrics });
  try {
    const { result, cpuMicros } = await measured(round.client, ingress.url, round.broker.ingress!.path, round.warmupMs, round.measureMs);
    return report(name, result, cpuMicros, print);
  } finally {
    await ingress.close();
  }
}

/**
 * Metrics off and on in alternating short pairs. On Kafka every round appends to one topic; on the
 * in-memory log every round gets a topic of its own, deleted after it, so that the records the log
 * holds (and the collector's work) do not grow from round to round.
 */
async function metricsPairs(client: LoadClient, log: EventLog, label: string): Promise<PairSummary> {
  const topicPerRound = log.kind === 'memory';
  const shared = topicPerRound ? undefined : await benchBroker(log, 'metrics');
  let registry: Registry | undefined;
  let rounds = 0;
  try {
    const summary = await alternate(PAIRS, async (on) => {
      if (on) registry ??= createMetricsRegistry();
      const broker = shared ?? await benchBroker(log, `metrics-${++rounds}`);
      try {
        const figure = await ingressOn('', { client, log, broker, metrics: on ? registry : undefined, warmupMs: PAIR_WARMUP_MS, measureMs: PAIR_MS }, false);
        if (answersOtherThan(figure.result, 202) > 0) console.log(`    (a metrics-${on ? 'on' : 'off'} round answered other than 202 too: ${statusCounts(figure.result)})`);
        return figure;
      } finally {
        if (shared === undefined) await log.deleteTopic(broker.topics[0]!);
      }
    }, (i, off, on) => console.log(pairLine(i, off, on)));
    for (const line of pairLines(summary)) console.log(`  ${label}: ${line}`);
    return summary;
  } finally {
    if (shared !== undefined) await log.deleteTopic(shared.topics[0]!).catch(() => undefined);
  }
}

function openKafka(servers: string): KafkaEventLog {
  // The adapter's default is one produce request in flight; BENCH_KAFKA_IN_FLIGHT tries others.
  const maxInFlightBatches = Number(process.env['BENCH_KAFKA_IN_FLIGHT'] ?? '1');
  return new KafkaEventLog({ brokers: servers.split(','), clientId: 'ingress-bench', logger: silentLogger(), maxInFlightBatches });
}

async function main(): Promise<void> {
  console.log(`ingress: 1 KiB binary-mode events, concurrency ${CONCURRENCY}, ${MEASURE_MS / 1000} s each after ${WARMUP_MS / 1000} s warm-up (load client in a child process)`);
  const client = new LoadClient();
  try {
    await run(client);
  } finally {
    await client.close();
  }
}

async function run(client: LoadClient): Promise<void> {
  const top = await ceiling(client);
  const memoryLog = new MemoryEventLog();
  const memoryBroker = await benchBroker(memoryLog, 'throughput');
  const memory = await ingressOn('ingress, in-memory log', { client, log: memoryLog, broker: memoryBroker });
  await memoryLog.close();

  let kafka: Figure | undefined;
  const servers = process.env['KAFKA_BOOTSTRAP_SERVERS'];
  if (servers) {
    const kafkaLog = openKafka(servers);
    try {
      const broker = await benchBroker(kafkaLog, 'throughput');
      kafka = await ingressOn('ingress, Kafka (acks=all)', { client, log: kafkaLog, broker });
      await kafkaLog.deleteTopic(broker.topics[0]!).catch(() => undefined);
    } finally {
      await kafkaLog.close();
    }
  } else {
    console.log('  ingress, Kafka: skipped (KAFKA_BOOTSTRAP_SERVERS is not set; `npm run bench -- ingress` starts a Kafka)');
  }

  console.log(`\nmetrics off / on: a warm-up pair, then ${PAIRS} pairs of ${PAIR_MS} ms rounds (after ${PAIR_WARMUP_MS} ms warm-up each), alternating; tracing off`);
  const pairsLog = new MemoryEventLog();
  const memoryPairs = await metricsPairs(client, pairsLog, 'in-memory');
  await pairsLog.close();
  let kafkaPairs: PairSummary | undefined;
  if (servers) {
    const kafkaLog = openKafka(servers);
    try {
      kafkaPairs = await metricsPairs(client, kafkaLog, 'Kafka');
    } finally {
      await kafkaLog.close();
    }
  }

  const cost = ingressMetricsCost();
  console.log(`  ${costLine(cost, memoryPairs.offCpuMicros)} (in-memory)`);
  if (kafkaPairs) console.log(`  ${costLine(cost, kafkaPairs.offCpuMicros)} (Kafka)`);

  console.log('');
  const codec = runCodecBench();

  console.log('\nsummary');
  console.log(`  memory / ceiling:  ${(100 * memory.perSecond / top.perSecond).toFixed(0)}%  (goal ≥ 50%)`);
  if (kafka) {
    console.log(`  kafka / ceiling:   ${(100 * kafka.perSecond / top.perSecond).toFixed(0)}%`);
    console.log(`  kafka:             ${Math.round(kafka.perSecond).toLocaleString('en-US')} events/s (goal ≥ 15,000), p99 ${kafka.result.p99Ms.toFixed(1)} ms (goal < 25 ms)`);
  }
  for (const line of pairLines(memoryPairs)) console.log(`  in-memory ${line}`);
  if (kafkaPairs) for (const line of pairLines(kafkaPairs)) console.log(`  Kafka ${line}`);
  console.log(`  ${costLine(cost, memoryPairs.offCpuMicros)} (in-memory)`);
  if (kafkaPairs) console.log(`  ${costLine(cost, kafkaPairs.offCpuMicros)} (Kafka)`);
  console.log(`  codec vs SDK:      ${(codec.sdkBinaryUs / codec.oursBinaryUs).toFixed(1)}x binary, ${(codec.sdkStructuredUs / codec.oursStructuredUs).toFixed(1)}x structured (goal 5x)`);
}

await main();
