/**
 * The cost of tracing (issue 18), as figures (never a pass/fail): ingress and dispatch throughput
 * with tracing off (the W3C headers only passed through) and on (OpenTelemetry SDK, sampling
 * 100 %, the OTLP/HTTP exporter with its default batch settings sending to a local no-op
 * collector). Rounds alternate in pairs (test/bench/paired.ts: a warm-up pair not counted, a full
 * GC before each round, off first in odd pairs and on first in even ones); the ratio is the
 * median of the pairs' on/off ratios (goal: on ≥ 80 % of off).
 *
 *   ingress   1 KiB binary-mode events with a traceparent, concurrency 64, in-memory log
 *   dispatch  BENCH_EVENTS (default 20000) 1 KiB events with a traceparent to one unordered egress,
 *             a subscriber answering 200 at once, in-memory log
 *
 * The load client, the subscriber and the collector run in child processes, so that they do not
 * share the broker's event loop and their CPU is not counted as the broker's. The collector only
 * counts requests and bytes while rounds are measured; the span names it received are counted
 * once at the end, from a last flush, to show the spans were exported, not dropped.
 *
 * On a shared machine the events/s swing with the other load; the broker process's CPU time per
 * event (user + system, from tracing's start to the exporter's final flush, so the export is
 * counted) is steadier, and its ratio is what throughput would be when CPU-bound. Where that CPU
 * goes, on minus off, per event (Linux, from /proc per thread): the main thread (the event loop),
 * the OTLP export worker thread (core/tracing-export.ts; until its final flush, which falls in
 * "other"), and the other threads (V8's GC and compiler helpers, libuv's pool); the main
 * thread's GC pauses; the export requests per second and their size. Loading the SDK is a
 * one-off start-up cost, paid before the runs.
 *
 *   npx tsx --expose-gc test/bench/tracing.bench.ts        (or: npm run bench -- tracing)
 *   BENCH_PAIRS (default 6), BENCH_ONLY=ingress|dispatch, BENCH_TRACING=on|off (no pairs: that
 *   side alone, BENCH_PAIRS rounds, e.g. under --cpu-prof)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { startIngress } from '../../broker-ingress/main.js';
import { toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import type { AppendRecord } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { startTracing, tracingSettingsFromEnv, type RunningTracing, type Tracing } from '../../core/tracing.js';
import { dispatcherConfigSchema } from '../../dispatcher/config.js';
import { startDispatcher } from '../../dispatcher/main.js';
import { makeBroker, makeContract, makeEgress } from '../helpers/builders.js';
import { uniqueName } from '../helpers/wait.js';
import { alternate, collectGarbage, median, pairLine, pairLines, type Round } from './paired.js';

const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 6);
const ONLY = process.env['BENCH_ONLY'];
const ONLY_TRACING = process.env['BENCH_TRACING'] as 'on' | 'off' | undefined;
const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const RUN_SECONDS = Number(process.env['BENCH_RUN_SECONDS'] ?? 15);
const WARMUP_MS = 1000;
const MEASURE_MS = 4000;
const CONCURRENCY = 64;
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

// ---- child processes (plain JavaScript, started with node -e)

const LOAD_CLIENT = `
  const { Pool } = require('undici');
  const [url, path, warmupMs, measureMs, concurrency, traceparent] = process.argv.slice(1);
  const pool = new Pool(url, { connections: Number(concurrency), pipelining: 1 });
  const body = Buffer.from(JSON.stringify({ payload: 'x'.repeat(1010) }));
  let n = 0, measured = 0, failed = 0, measuring = false, stop = false;
  const worker = async () => {
    while (!stop) {
      const res = await pool.request({ method: 'POST', path, body, headers: {
        'ce-specversion': '1.0', 'ce-id': String(n++), 'ce-source': '/bench', 'ce-type': 'dev.knative.bench',
        'content-type': 'application/json', traceparent } });
      await res.body.dump();
      if (measuring) { if (res.statusCode === 202) measured++; else failed++; }
    }
  };
  const workers = Array.from({ length: Number(concurrency) }, worker);
  setTimeout(() => {
    measuring = true;
    const started = performance.now();
    setTimeout(async () => {
      measuring = false;
      const seconds = (performance.now() - started) / 1000;
      stop = true;
      await Promise.all(workers);
      await pool.close();
      console.log(JSON.stringify({ perSecond: measured / seconds, failed }));
    }, Number(measureMs));
  }, Number(warmupMs));`;

const SUBSCRIBER = `
  const http = require('node:http');
  const server = http.createServer((req, res) => { req.on('data', () => {}); req.on('end', () => { res.writeHead(200, { 'content-length': '0' }); res.end(); }); });
  server.keepAliveTimeout = 60000;
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;

/**
 * Answers every export with 200. Stdin commands, one line each, answered with a JSON line:
 * 'mark' (requests, bytes and this process's CPU µs so far), 'count' (from now on also count the
 * span names in what arrives; protobuf keeps strings as they are) and 'names' (those counts).
 */
const COLLECTOR = `
  const http = require('node:http');
  const names = ['receive', 'append', 'filter', 'deliver'];
  const counts = Object.fromEntries(names.map((n) => [n, 0]));
  let requests = 0, bytes = 0, counting = false;
  // Span.name is field 5 (tag 0x2a), then its length and bytes.
  const count = (buf, word) => { let n = 0, i = -1; const w = Buffer.concat([Buffer.from([0x2a, word.length]), Buffer.from(word)]); while ((i = buf.indexOf(w, i + 1)) >= 0) n++; return n; };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => { bytes += c.length; if (counting) chunks.push(c); });
    req.on('end', () => {
      requests++;
      if (counting) { const body = Buffer.concat(chunks); for (const n of names) counts[n] += count(body, n); }
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' }); res.end();
    });
  });
  server.keepAliveTimeout = 60000;
  require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'count') counting = true;
    const cpu = process.cpuUsage();
    console.log(JSON.stringify(line === 'names' ? counts : { requests, bytes, cpuUs: cpu.user + cpu.system }));
  });
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;

function node(code: string, args: string[] = [], stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  return spawn(process.execPath, ['-e', code, ...args], { stdio: [stdin, 'pipe', 'inherit'] });
}

const firstLine = (child: ChildProcess): Promise<string> =>
  new Promise((resolve) => child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));

// ---- tracing on/off

async function tracing(on: boolean, collectorUrl: string): Promise<RunningTracing> {
  if (!on) return startTracing(undefined);
  return startTracing(tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl, OTEL_TRACES_SAMPLER: 'always_on', OTEL_SERVICE_NAME: 'bench' }, 'bench'));
}

// ---- where the CPU goes

/** The CPU time (user + system, µs) of each thread of this process now, by thread id (Linux; empty elsewhere). */
function threadCpu(): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime, in clock ticks of 10 ms: fine over rounds of seconds.
      out.set(Number(tid), (Number(fields[11]) + Number(fields[12])) * 10_000);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Collects the main thread's GC pauses (count and ms) while it runs. */
function gcPauses(): { stop(): { count: number; ms: number } } {
  let count = 0;
  let ms = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      count++;
      ms += entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return { stop: () => { observer.disconnect(); return { count, ms }; } };
}

interface CollectorMark {
  readonly requests: number;
  readonly bytes: number;
  readonly cpuUs: number;
}

/** The no-op collector, a child process: its CPU is not the broker's. */
const collector = node(COLLECTOR, [], 'pipe');
const ask = async (command: string): Promise<string> => {
  const answer = firstLine(collector);
  collector.stdin!.write(`${command}\n`);
  return answer;
};
const collectorMark = async (): Promise<CollectorMark> => JSON.parse(await ask('mark')) as CollectorMark;

interface TracingRound extends Round {
  /** CPU µs per event by thread: main, the export worker (until its final flush), the others. */
  readonly mainUs: number;
  readonly workerUs: number;
  readonly otherUs: number;
  /** The main thread's GC pauses, ms per 1000 events. */
  readonly gcMsPerK: number;
  readonly requestsPerSecond: number;
  readonly bytesPerRequest: number;
  /** The collector's CPU µs per event (not the broker's; a core the broker did not have). */
  readonly collectorUs: number;
}

/**
 * Tracing on and off, each started once and kept for all rounds, as a broker keeps its own: the
 * export worker's code is as warm in a round as in a long-running broker, and no round pays for
 * starting or stopping it. The export worker's threads are the ones that appeared as it started.
 */
interface Side {
  readonly traces: RunningTracing;
  readonly workerTids: readonly number[];
}

async function side(on: boolean, collectorUrl: string): Promise<Side> {
  const before = threadCpu();
  const traces = await tracing(on, collectorUrl);
  return { traces, workerTids: [...threadCpu().keys()].filter((tid) => !before.has(tid)) };
}

/**
 * Measures one round: `start` starts the component, `load` drives it and returns the events/s,
 * `stop` closes it and returns the events it handled. CPU is counted from before the start to
 * the end of a flush of the exporter after the stop, so the export of the round's spans is in.
 */
async function measure(on: Side, start: (tracing: Tracing) => Promise<void>, load: () => Promise<number>, stop: () => Promise<number>): Promise<TracingRound> {
  const collector0 = await collectorMark();
  const before = threadCpu();
  const began = performance.now();
  const process0 = process.cpuUsage();
  const gc = gcPauses();
  let perSecond: number;
  let events: number;
  try {
    await start(on.traces.tracing);
    perSecond = await load();
  } finally {
    events = await stop();
    await on.traces.flush();
  }
  const used = process.cpuUsage(process0);
  const after = threadCpu();
  const pauses = gc.stop();
  const seconds = (performance.now() - began) / 1000;
  const collector1 = await collectorMark();
  const n = Math.max(1, events);
  const total = used.user + used.system;
  const spent = (tid: number): number => (after.get(tid) ?? NaN) - (before.get(tid) ?? NaN);
  const main = spent(process.pid);
  const worker = on.workerTids.reduce((sum, tid) => sum + spent(tid), 0);
  const requests = collector1.requests - collector0.requests;
  return {
    perSecond,
    cpuMicrosPerEvent: total / n,
    mainUs: main / n,
    workerUs: worker / n,
    otherUs: (total - main - worker) / n,
    gcMsPerK: (pauses.ms * 1000) / n,
    requestsPerSecond: requests / seconds,
    bytesPerRequest: requests === 0 ? 0 : (collector1.bytes - collector0.bytes) / requests,
    collectorUs: (collector1.cpuUs - collector0.cpuUs) / n,
  };
}

// ---- the runs

async function ingressRound(on: Side): Promise<TracingRound> {
  const log = new MemoryEventLog();
  const broker = makeBroker(uniqueName('bench').toLowerCase(), [], {}, 'bench');
  await log.ensureTopic(broker.topics[0]!, { partitions: 10, replicationFactor: 1 });
  const contracts = new InProcessContractSource(makeContract([broker]));
  let ingress: Awaited<ReturnType<typeof startIngress>> | undefined;
  const round = await measure(on,
    async (tracing) => {
      ingress = await startIngress({ config: ingressConfigSchema.parse({ host: '127.0.0.1', port: 0 }), log, contracts, logger: silentLogger(), tracing });
    },
    async () => {
      const client = node(LOAD_CLIENT, [ingress!.url, broker.ingress!.path, String(WARMUP_MS), String(MEASURE_MS), String(CONCURRENCY), TRACEPARENT]);
      const result = JSON.parse(await firstLine(client)) as { perSecond: number; failed: number };
      if (result.failed > 0) console.log(`    (${result.failed} requests not answered 202)`);
      return result.perSecond;
    },
    async () => {
      await ingress?.close();
      let appended = 0;
      for await (const _record of log.read(broker.topics[0]!)) appended++;
      return appended;
    });
  await log.close();
  return round;
}

const DATA = Buffer.alloc(1024, 'x');
const BASE = toKafkaRecord(
  { attributes: { specversion: '1.0', id: 'bench', source: '/bench', type: 'bench.event', datacontenttype: 'application/octet-stream', knativebrokerttl: 255 }, data: DATA },
  'binary',
  { traceparent: TRACEPARENT },
);

async function dispatchRound(on: Side, subscriberUrl: string): Promise<TracingRound> {
  const log = new MemoryEventLog();
  const topic = uniqueName('bench-tracing');
  await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
  for (let i = 0; i < EVENTS; i += 1000) {
    const records: AppendRecord[] = Array.from({ length: Math.min(1000, EVENTS - i) }, (_, j) => ({
      key: null, value: BASE.value, headers: { ...BASE.headers, ce_id: Buffer.from(`e-${i + j}`) },
    }));
    await log.append(topic, records);
  }
  const egress = makeEgress(uniqueName('bench'), { destination: subscriberUrl, consumerGroup: uniqueName('bench-group') });
  await log.initGroup(egress.consumerGroup, topic, 'earliest');
  const contracts = new InProcessContractSource(makeContract([makeBroker(uniqueName('b'), [egress], { topics: [topic] })]));
  let dispatcher: Awaited<ReturnType<typeof startDispatcher>> | undefined;
  const round = await measure(on,
    async (tracing) => {
      dispatcher = await startDispatcher({ config: dispatcherConfigSchema.parse({}), log, contracts, logger: silentLogger(), tracing });
    },
    async () => {
      const d = dispatcher!;
      while (d.stats().totals.delivered === 0) await sleep(1);
      const first = performance.now();
      const base = d.stats().totals.delivered;
      while (d.stats().totals.delivered < EVENTS && performance.now() - first < RUN_SECONDS * 1000) await sleep(5);
      return (d.stats().totals.delivered - base) / ((performance.now() - first) / 1000);
    },
    async () => {
      const delivered = dispatcher?.stats().totals.delivered ?? 0;
      await dispatcher?.close();
      return delivered;
    });
  await log.close();
  return round;
}

const us = (n: number): string => `${n >= 0 ? '+' : ''}${n.toFixed(1)}`;

/** The on − off differences per pair, as medians: where tracing's CPU per event goes. */
function breakdown(off: readonly TracingRound[], on: readonly TracingRound[]): string[] {
  const diff = (pick: (r: TracingRound) => number): number => median(on.map((r, i) => pick(r) - pick(off[i]!)));
  const med = (runs: readonly TracingRound[], pick: (r: TracingRound) => number): number => median(runs.map(pick));
  return [
    `CPU per event, on − off (median of pairs): process ${us(diff((r) => r.cpuMicrosPerEvent))} µs = main thread ${us(diff((r) => r.mainUs))}, export worker ${us(diff((r) => r.workerUs))}, other threads (GC helpers, libuv; the final flush) ${us(diff((r) => r.otherUs))}`,
    `main thread GC pauses: off ${med(off, (r) => r.gcMsPerK).toFixed(1)} ms, on ${med(on, (r) => r.gcMsPerK).toFixed(1)} ms per 1000 events; export: ${med(on, (r) => r.requestsPerSecond).toFixed(1)} requests/s of ${(med(on, (r) => r.bytesPerRequest) / 1024).toFixed(0)} KiB; the collector's own CPU ${med(on, (r) => r.collectorUs).toFixed(1)} µs per event (not counted)`,
  ];
}

async function compare(name: string, sides: { off: Side; on: Side }, round: (side: Side) => Promise<TracingRound>): Promise<void> {
  const run = (on: boolean): Promise<TracingRound> => round(on ? sides.on : sides.off);
  console.log(`  ${name}`);
  if (ONLY_TRACING !== undefined) {
    const rounds: TracingRound[] = [];
    for (let i = 0; i < PAIRS; i++) {
      collectGarbage();
      rounds.push(await run(ONLY_TRACING === 'on'));
      const r = rounds[rounds.length - 1]!;
      console.log(`    ${ONLY_TRACING} ${Math.round(r.perSecond)}/s ${r.cpuMicrosPerEvent.toFixed(1)} µs (main ${r.mainUs.toFixed(1)}, worker ${r.workerUs.toFixed(1)}, other ${r.otherUs.toFixed(1)}; GC ${r.gcMsPerK.toFixed(1)} ms/1000)`);
    }
    return;
  }
  const off: TracingRound[] = [];
  const on: TracingRound[] = [];
  const summary = await alternate(PAIRS, run, (index, offRound, onRound) => {
    off.push(offRound as TracingRound);
    on.push(onRound as TracingRound);
    console.log(pairLine(index, offRound, onRound));
  });
  for (const line of pairLines(summary, 0.8)) console.log(`    ${line.replace('metrics on / off', 'tracing on / off')}`);
  for (const line of breakdown(off, on)) console.log(`    ${line}`);
}

const collectorUrl = `http://127.0.0.1:${await firstLine(collector)}`;
const subscriber = node(SUBSCRIBER);
const subscriberUrl = `http://127.0.0.1:${await firstLine(subscriber)}/`;
const sides = { off: await side(false, collectorUrl), on: await side(true, collectorUrl) };
try {
  console.log(`tracing off vs on (OTLP to a local no-op collector in its own process, sampling 100 %), ${PAIRS} alternating pairs after a warm-up pair:`);
  if (ONLY !== 'dispatch') await compare('ingress', sides, (on) => ingressRound(on));
  if (ONLY !== 'ingress') await compare('dispatch', sides, (on) => dispatchRound(on, subscriberUrl));
  if (ONLY_TRACING !== 'off') {
    // A last short round with the collector counting span names: every span made arrives.
    await ask('count');
    if (ONLY !== 'dispatch') await ingressRound(sides.on);
    if (ONLY !== 'ingress') await dispatchRound(sides.on, subscriberUrl);
    const counts = JSON.parse(await ask('names')) as Record<string, number>;
    console.log(`  collector, last round of each: spans by name: ${Object.entries(counts).map(([n, c]) => `${n} ${c}`).join(', ')}`);
  }
} finally {
  await sides.on.traces.shutdown();
  collector.kill();
  subscriber.kill();
}
