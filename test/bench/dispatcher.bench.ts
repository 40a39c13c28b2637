/**
 * Dispatcher throughput and memory, as figures (never a pass/fail):
 *
 *   ceiling    a bare consumer of the same topic that only calls done() per record
 *   unordered  the dispatcher, one unordered egress, to a subscriber that answers 200 at once
 *              (goal ≥ 10,000 events/s and ≥ 60 % of the ceiling)
 *   ordered    one ordered egress over 10 partitions (goal ≥ 3,000 events/s)
 *   metrics    the unordered run with metrics off and on (tracing stays off): a warm-up pair, then
 *              BENCH_PAIRS (default 8) pairs of short runs over one filled topic (a new consumer
 *              group each), alternating off-on, on-off, ... (test/bench/paired.ts); the median of
 *              the pair ratios with their min–max, and CPU µs per event of this process (the
 *              dispatcher) off and on (goal: on within 5 % of off); and the metrics calls of one
 *              event timed alone (metrics-cost.ts), as a share of the off runs' CPU per event
 *   lag        resident memory of a dispatcher with 1,000,000 events of lag on one egress,
 *              sampled while it drains (goal < 200 MB, flat)
 *
 * 1 KiB events. The subscriber runs in a child process, so that it does not share the
 * dispatcher's event loop (as in production). Runs on the in-memory log, and on Kafka when
 * KAFKA_BOOTSTRAP_SERVERS is set.
 *
 *   npx tsx test/bench/dispatcher.bench.ts
 *   KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 npx tsx test/bench/dispatcher.bench.ts
 *
 * The lag run happens in a process of its own (started with --expose-gc), so that its RSS is one
 * dispatcher's: on Kafka this process fills the topic (large appends) and the child only drains;
 * on the in-memory log the child must fill it itself, and its RSS then includes the log (1M
 * records sharing one 1 KiB value buffer). Every second the child forces a full collection and
 * records the heap left — the live set, which a leak would make climb; RSS is sampled every
 * 250 ms in between.
 *
 * CPU per event is process.cpuUsage() of this process from the first delivery to the last,
 * divided by the events delivered: the subscriber is a child process and does not count.
 * The metrics-on runs share one registry (with process metrics), created in the warm-up pair:
 * prom-client cannot stop its event-loop-delay monitor and GC observer once started, so the off
 * runs after it carry those two as well, and the comparison is of the per-event metrics work.
 *
 * Knobs: BENCH_EVENTS (events per throughput run, default 20000), BENCH_RUN_SECONDS (cap on
 * each throughput run, default 15), BENCH_PAIRS (default 8), BENCH_PAIR_EVENTS (events per
 * metrics run, default 6000) and BENCH_PAIR_SECONDS (cap on each, default 4), BENCH_LAG_EVENTS (default 1000000), BENCH_DRAIN_SECONDS
 * (how long the lag run is sampled while draining, default 8).
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { InProcessContractSource } from '../../core/contract/source.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import type { EventLog } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { createMetricsRegistry, type Registry } from '../../core/metrics.js';
import { dispatcherConfigSchema } from '../../dispatcher/config.js';
import { startDispatcher } from '../../dispatcher/main.js';
import { makeBroker, makeContract, makeEgress } from '../helpers/builders.js';
import { fillTopic } from '../helpers/fill-topic.js';
import { startSubscriberProcess } from '../helpers/subscriber-process.js';
import { uniqueName } from '../helpers/wait.js';
import { costLine, dispatchMetricsCost } from './metrics-cost.js';
import { alternate, pairLine, pairLines } from './paired.js';

type Kind = 'memory' | 'kafka';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const RUN_SECONDS = Number(process.env['BENCH_RUN_SECONDS'] ?? 15);
const LAG_EVENTS = Number(process.env['BENCH_LAG_EVENTS'] ?? 1_000_000);
const DRAIN_SECONDS = Number(process.env['BENCH_DRAIN_SECONDS'] ?? 8);
const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 8);
const PAIR_EVENTS = Number(process.env['BENCH_PAIR_EVENTS'] ?? 6000);
const PAIR_SECONDS = Number(process.env['BENCH_PAIR_SECONDS'] ?? 4);
const KAFKA = process.env['KAFKA_BOOTSTRAP_SERVERS'];

/**
 * Topics are deleted at the end of a run, not one by one: with the Kafka adapter as it is, once a
 * topic the producer wrote to is deleted, later appends to other topics fail ("does not host this
 * topic-partition") — reported to the adapter's owner.
 */
const created: string[] = [];

async function newTopic(log: EventLog, prefix: string, partitions: number): Promise<string> {
  const topic = uniqueName(prefix);
  await log.ensureTopic(topic, { partitions, replicationFactor: 1 });
  created.push(topic);
  return topic;
}

/** The bare consumer: done() per record, nothing else. */
async function ceiling(log: EventLog): Promise<number> {
  const topic = await newTopic(log, 'bench-ceiling', 1);
  await fillTopic(log, topic, EVENTS);
  const groupId = uniqueName('bench-ceiling-group');
  await log.initGroup(groupId, topic, 'earliest');
  let count = 0;
  let started = 0;
  let resolveDone!: () => void;
  const finished = new Promise<void>((resolve) => (resolveDone = resolve));
  const consumer = await log.consume({
    groupId, topics: [topic], start: 'earliest', maxInFlight: 50,
    onRecord: (r) => {
      if (count === 0) started = performance.now();
      r.done();
      if (++count === EVENTS) resolveDone();
    },
  });
  await finished;
  const rate = EVENTS / ((performance.now() - started) / 1000);
  await consumer.close();
  return rate;
}

interface Rate {
  readonly rate: number;
  readonly delivered: number;
  /** CPU time of this process per event delivered, in µs. */
  readonly cpuMicrosPerEvent: number;
}

interface RunOptions {
  /** A registry to record into; absent: metrics off. */
  readonly metrics?: Registry | undefined;
  /** A topic already holding `events` events (read from the start by a new group); absent: one is made and filled. */
  readonly topic?: string | undefined;
  readonly events?: number;
  /** Cap on the run, from the first delivery; default RUN_SECONDS. */
  readonly seconds?: number;
}

/** Events per second from the first delivery, over `events` events or `seconds`, whichever ends first. */
async function dispatchRate(log: EventLog, subscriberUrl: string, order: 'ordered' | 'unordered', partitions: number, options: RunOptions = {}): Promise<Rate> {
  const events = options.events ?? EVENTS;
  let topic = options.topic;
  if (topic === undefined) {
    topic = await newTopic(log, `bench-${order}`, partitions);
    await fillTopic(log, topic, events, { keyed: order === 'ordered' });
  }
  const egress = makeEgress(uniqueName('bench'), { destination: subscriberUrl, deliveryOrder: order, consumerGroup: uniqueName('bench-group') });
  await log.initGroup(egress.consumerGroup, topic, 'earliest');
  const contracts = new InProcessContractSource(makeContract([makeBroker(uniqueName('b'), [egress], { topics: [topic] })]));
  const dispatcher = await startDispatcher({ config: dispatcherConfigSchema.parse({}), log, contracts, logger: silentLogger(), metrics: options.metrics });
  while (dispatcher.stats().totals.delivered === 0) await sleep(1);
  const first = performance.now();
  const cpu = process.cpuUsage();
  const base = dispatcher.stats().totals.delivered;
  const seconds = options.seconds ?? RUN_SECONDS;
  while (dispatcher.stats().totals.delivered < events && performance.now() - first < seconds * 1000) await sleep(5);
  const used = process.cpuUsage(cpu);
  const delivered = dispatcher.stats().totals.delivered - base;
  const rate = delivered / ((performance.now() - first) / 1000);
  await dispatcher.close();
  return { rate, delivered, cpuMicrosPerEvent: (used.user + used.system) / Math.max(1, delivered) };
}

/** Metrics off and on in alternating pairs of unordered runs over one filled topic. */
async function metricsPairs(log: EventLog, subscriberUrl: string): Promise<void> {
  const topic = await newTopic(log, 'bench-metrics', 1);
  await fillTopic(log, topic, PAIR_EVENTS);
  console.log(`  unordered, metrics off / on: a warm-up pair, then ${PAIRS} pairs of ${PAIR_EVENTS.toLocaleString()} events or ${PAIR_SECONDS} s (a new consumer group each), alternating; tracing off`);
  let registry: Registry | undefined;
  const summary = await alternate(PAIRS, async (on) => {
    if (on) registry ??= createMetricsRegistry();
    const r = await dispatchRate(log, subscriberUrl, 'unordered', 1, { metrics: on ? registry : undefined, topic, events: PAIR_EVENTS, seconds: PAIR_SECONDS });
    return { perSecond: r.rate, cpuMicrosPerEvent: r.cpuMicrosPerEvent };
  }, (i, off, on) => console.log(pairLine(i, off, on)));
  for (const line of pairLines(summary)) console.log(`  ${line}`);
  console.log(`  ${costLine(await dispatchMetricsCost(), summary.offCpuMicros)}`);
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const avg = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

function newLog(kind: Kind): EventLog {
  return kind === 'memory' ? new MemoryEventLog() : new KafkaEventLog({ brokers: (KAFKA ?? '').split(','), clientId: 'dispatcher-bench', logger: silentLogger() });
}

// ---- the lag run (a child process)

interface LagJob {
  readonly kind: Kind;
  readonly subscriberUrl: string;
  /** Kafka: the topic the parent filled and the group it initialised; memory: filled here. */
  readonly topic?: string;
  readonly groupId?: string;
}

async function lagChild(job: LagJob): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);
  const log = newLog(job.kind);
  const before = process.memoryUsage().rss;
  let topic = job.topic;
  let fillLine = '';
  if (topic === undefined) {
    topic = await newTopic(log, 'bench-lag', 10);
    const started = performance.now();
    await fillTopic(log, topic, LAG_EVENTS, { batch: 10_000 });
    gc();
    fillLine = `filled here in ${((performance.now() - started) / 1000).toFixed(1)} s; RSS before ${mb(before)}, after the fill ${mb(process.memoryUsage().rss)} (the log's own records)`;
  }
  const groupId = job.groupId ?? uniqueName('lag-group');
  if (job.groupId === undefined) await log.initGroup(groupId, topic, 'earliest');

  const rss: number[] = [];
  const live: number[] = [];
  const rssTimer = setInterval(() => rss.push(process.memoryUsage().rss), 250);
  const gcTimer = setInterval(() => {
    gc();
    live.push(process.memoryUsage().heapUsed);
  }, 1000);
  const egress = makeEgress(uniqueName('lag'), { destination: job.subscriberUrl, consumerGroup: groupId });
  const contracts = new InProcessContractSource(makeContract([makeBroker(uniqueName('b'), [egress], { topics: [topic] })]));
  const dispatcher = await startDispatcher({ config: dispatcherConfigSchema.parse({}), log, contracts, logger: silentLogger() });
  const started = performance.now();
  await sleep(DRAIN_SECONDS * 1000);
  const delivered = dispatcher.stats().totals.delivered;
  const seconds = (performance.now() - started) / 1000;
  clearInterval(rssTimer);
  clearInterval(gcTimer);
  await dispatcher.close();
  for (const t of created.splice(0)) await log.deleteTopic(t).catch(() => undefined);
  await log.close();

  const third = Math.max(1, Math.floor(rss.length / 3));
  const liveThird = Math.max(1, Math.floor(live.length / 3));
  if (fillLine !== '') console.log(`       ${fillLine}`);
  console.log(`       draining ${seconds.toFixed(0)} s: ${delivered.toLocaleString()} delivered (${(delivered / seconds).toFixed(0)}/s); RSS ${mb(Math.min(...rss))}..${mb(Math.max(...rss))}, first third avg ${mb(avg(rss.slice(0, third)))}, last third avg ${mb(avg(rss.slice(-third)))}`);
  console.log(`       live heap after a full GC: first ${mb(live[0] ?? 0)}, first third avg ${mb(avg(live.slice(0, liveThird)))}, last third avg ${mb(avg(live.slice(-liveThird)))}`);
}

async function lag(kind: Kind, log: EventLog, subscriberUrl: string): Promise<void> {
  let job: LagJob = { kind, subscriberUrl };
  if (kind === 'kafka') {
    const topic = await newTopic(log, 'bench-lag', 10);
    const started = performance.now();
    await fillTopic(log, topic, LAG_EVENTS, { batch: 10_000 });
    const groupId = uniqueName('lag-group');
    await log.initGroup(groupId, topic, 'earliest');
    console.log(`  lag: ${LAG_EVENTS.toLocaleString()} events (1 KiB, 10 partitions) appended in ${((performance.now() - started) / 1000).toFixed(1)} s by the bench; a new process drains them:`);
    job = { ...job, topic, groupId };
  } else {
    console.log(`  lag: ${LAG_EVENTS.toLocaleString()} events (1 KiB, 10 partitions), a new process fills its in-memory log and drains it:`);
  }
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_LAG_JOB: JSON.stringify(job) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the lag run exited with ${code}`)))));
}

// ---- the run

async function run(kind: Kind): Promise<void> {
  console.log(`\n${kind}${kind === 'kafka' ? ` (${KAFKA})` : ''}: events of 1 KiB, runs of ${EVENTS.toLocaleString()} events or ${RUN_SECONDS} s`);
  const log = newLog(kind);
  const subscriber = await startSubscriberProcess(200);
  try {
    const top = await ceiling(log);
    console.log(`  ceiling (bare consumer, done() only):   ${top.toFixed(0).padStart(7)} events/s`);
    const unordered = await dispatchRate(log, subscriber.url, 'unordered', 1);
    console.log(`  unordered dispatch (50 in flight):      ${unordered.rate.toFixed(0).padStart(7)} events/s  = ${((unordered.rate / top) * 100).toFixed(1)} % of the ceiling (goal ≥ 10,000/s and ≥ 60 %), CPU ${unordered.cpuMicrosPerEvent.toFixed(1)} µs/event`);
    const ordered = await dispatchRate(log, subscriber.url, 'ordered', 10);
    console.log(`  ordered dispatch, 10 partitions:        ${ordered.rate.toFixed(0).padStart(7)} events/s  (goal ≥ 3,000/s), CPU ${ordered.cpuMicrosPerEvent.toFixed(1)} µs/event`);
    await metricsPairs(log, subscriber.url);
    await lag(kind, log, subscriber.url);
  } finally {
    subscriber.child.kill();
    for (const topic of created.splice(0)) await log.deleteTopic(topic).catch(() => undefined);
    await log.close();
  }
}

const job = process.env['BENCH_LAG_JOB'];
if (job !== undefined) {
  await lagChild(JSON.parse(job) as LagJob);
} else {
  await run('memory');
  if (KAFKA) await run('kafka');
  else console.log('\nkafka: skipped (set KAFKA_BOOTSTRAP_SERVERS to run it)');
}
