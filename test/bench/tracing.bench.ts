/**
 * The cost of tracing (issue 18), as figures (never a pass/fail): ingress and dispatch throughput
 * with tracing off (the W3C headers only passed through) and on (OpenTelemetry SDK, sampling
 * 100 %, the OTLP/HTTP exporter with its default batch settings sending to a local no-op
 * collector), measured in the same run, alternating off/on for ROUNDS rounds; the ratio compares
 * the medians (goal: on ≥ 80 % of off).
 *
 *   ingress   1 KiB binary-mode events with a traceparent, concurrency 64, in-memory log
 *   dispatch  BENCH_EVENTS (default 20000) 1 KiB events with a traceparent to one unordered egress,
 *             a subscriber answering 200 at once, in-memory log
 *
 * The load client, the subscriber and the collector run in child processes, so that they do not
 * share the broker's event loop. The collector counts the span names in what it receives
 * (protobuf keeps strings as they are), to show the spans were exported, not dropped.
 *
 * On a shared machine the events/s swing with the other load; the broker process's CPU time per
 * event (user + system, from its start to the exporter's final flush, so the export is counted)
 * is steadier, and its ratio is what throughput would be when CPU-bound. The OTLP export runs in
 * a worker thread (core/tracing-export.ts), so the main thread's CPU per event is printed too
 * (Linux): its ratio is the throughput bound when a core is free for the worker. Loading the SDK
 * is a one-off start-up cost, paid before the runs.
 *
 *   npx tsx test/bench/tracing.bench.ts        (or: npm run bench -- tracing)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { startIngress } from '../../broker-ingress/main.js';
import { toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import type { AppendRecord } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { startTracing, tracingSettingsFromEnv, type RunningTracing } from '../../core/tracing.js';
import { dispatcherConfigSchema } from '../../dispatcher/config.js';
import { startDispatcher } from '../../dispatcher/main.js';
import { makeBroker, makeContract, makeEgress } from '../helpers/builders.js';
import { uniqueName } from '../helpers/wait.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
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

/** Answers every export with 200 and counts the span names it carries; prints the counts on 'report'. */
const COLLECTOR = `
  const http = require('node:http');
  const names = ['receive', 'append', 'filter', 'deliver'];
  const counts = Object.fromEntries(names.map((n) => [n, 0]));
  let requests = 0, bytes = 0;
  // Span.name is field 5 (tag 0x2a), then its length and bytes.
  const count = (buf, word) => { let n = 0, i = -1; const w = Buffer.concat([Buffer.from([0x2a, word.length]), Buffer.from(word)]); while ((i = buf.indexOf(w, i + 1)) >= 0) n++; return n; };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests++; bytes += body.length;
      for (const n of names) counts[n] += count(body, n);
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }); res.end();
    });
  });
  process.stdin.on('data', () => console.log(JSON.stringify({ requests, bytes, counts })));
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

// ---- the runs

interface Run {
  readonly perSecond: number;
  /** Broker-process CPU µs per event (all threads: the OTLP export worker's too). */
  readonly cpuUs: number;
  /** The main thread's CPU µs per event (the event loop that serves requests), NaN where unknown. */
  readonly mainUs: number;
}

interface CpuMark {
  readonly process: NodeJS.CpuUsage;
  readonly main: number;
}

/**
 * The main thread's CPU time in µs, from Linux's per-thread counters (the main thread's id is
 * the process id; clock ticks of 10 ms, fine over runs of seconds); NaN elsewhere.
 */
function mainThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}

const cpuMark = (): CpuMark => ({ process: process.cpuUsage(), main: mainThreadCpuUs() });

const cpuSince = (start: CpuMark): { process: number; main: number } => {
  const used = process.cpuUsage(start.process);
  return { process: used.user + used.system, main: mainThreadCpuUs() - start.main };
};

async function ingressRate(on: boolean, collectorUrl: string): Promise<Run> {
  const traces = await tracing(on, collectorUrl);
  const cpu = cpuMark();
  const log = new MemoryEventLog();
  const broker = makeBroker(uniqueName('bench').toLowerCase(), [], {}, 'bench');
  await log.ensureTopic(broker.topics[0]!, { partitions: 10, replicationFactor: 1 });
  const contracts = new InProcessContractSource(makeContract([broker]));
  const ingress = await startIngress({ config: ingressConfigSchema.parse({ host: '127.0.0.1', port: 0 }), log, contracts, logger: silentLogger(), tracing: traces.tracing });
  let result: { perSecond: number; failed: number };
  try {
    const client = node(LOAD_CLIENT, [ingress.url, broker.ingress!.path, String(WARMUP_MS), String(MEASURE_MS), String(CONCURRENCY), TRACEPARENT]);
    result = JSON.parse(await firstLine(client)) as { perSecond: number; failed: number };
    if (result.failed > 0) console.log(`    (${result.failed} requests not answered 202)`);
  } finally {
    await ingress.close();
    await traces.shutdown();
  }
  const used = cpuSince(cpu);
  let appended = 0;
  for await (const _record of log.read(broker.topics[0]!)) appended++;
  await log.close();
  return { perSecond: result.perSecond, cpuUs: used.process / Math.max(1, appended), mainUs: used.main / Math.max(1, appended) };
}

const DATA = Buffer.alloc(1024, 'x');
const BASE = toKafkaRecord(
  { attributes: { specversion: '1.0', id: 'bench', source: '/bench', type: 'bench.event', datacontenttype: 'application/octet-stream', knativebrokerttl: 255 }, data: DATA },
  'binary',
  { traceparent: TRACEPARENT },
);

async function dispatchRate(on: boolean, collectorUrl: string, subscriberUrl: string): Promise<Run> {
  const log = new MemoryEventLog();
  const topic = uniqueName('bench-tracing');
  await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
  for (let i = 0; i < EVENTS; i += 1000) {
    const records: AppendRecord[] = Array.from({ length: Math.min(1000, EVENTS - i) }, (_, j) => ({
      key: null, value: BASE.value, headers: { ...BASE.headers, ce_id: Buffer.from(`e-${i + j}`) },
    }));
    await log.append(topic, records);
  }
  const traces = await tracing(on, collectorUrl);
  const cpu = cpuMark();
  const egress = makeEgress(uniqueName('bench'), { destination: subscriberUrl, consumerGroup: uniqueName('bench-group') });
  await log.initGroup(egress.consumerGroup, topic, 'earliest');
  const contracts = new InProcessContractSource(makeContract([makeBroker(uniqueName('b'), [egress], { topics: [topic] })]));
  const dispatcher = await startDispatcher({ config: dispatcherConfigSchema.parse({}), log, contracts, logger: silentLogger(), tracing: traces.tracing });
  let perSecond: number;
  let delivered: number;
  try {
    while (dispatcher.stats().totals.delivered === 0) await sleep(1);
    const first = performance.now();
    const base = dispatcher.stats().totals.delivered;
    while (dispatcher.stats().totals.delivered < EVENTS && performance.now() - first < RUN_SECONDS * 1000) await sleep(5);
    delivered = dispatcher.stats().totals.delivered;
    perSecond = (delivered - base) / ((performance.now() - first) / 1000);
  } finally {
    await dispatcher.close();
    await traces.shutdown();
  }
  const used = cpuSince(cpu);
  await log.close();
  return { perSecond, cpuUs: used.process / Math.max(1, delivered), mainUs: used.main / Math.max(1, delivered) };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(8);

async function pair(name: string, run: (on: boolean) => Promise<Run>): Promise<void> {
  const off: Run[] = [];
  const on: Run[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    off.push(await run(false));
    on.push(await run(true));
  }
  const rate = (runs: Run[]): number => median(runs.map((r) => r.perSecond));
  const cpu = (runs: Run[]): number => median(runs.map((r) => r.cpuUs));
  console.log(`  ${name.padEnd(9)} off ${fmt(rate(off))} events/s   on ${fmt(rate(on))} events/s   on/off ${pct(rate(on) / rate(off))}   (runs off: ${off.map((r) => Math.round(r.perSecond)).join(', ')}; on: ${on.map((r) => Math.round(r.perSecond)).join(', ')})`);
  const main = (runs: Run[]): number => median(runs.map((r) => r.mainUs));
  console.log(`  ${''.padEnd(9)} CPU per event: off ${cpu(off).toFixed(0)} µs, on ${cpu(on).toFixed(0)} µs   throughput when CPU-bound, on/off ${pct(cpu(off) / cpu(on))}`);
  if (!Number.isNaN(main(on))) console.log(`  ${''.padEnd(9)} main thread CPU per event: off ${main(off).toFixed(0)} µs, on ${main(on).toFixed(0)} µs   throughput when the event loop is the bound, on/off ${pct(main(off) / main(on))}`);
}

const pct = (ratio: number): string => `${(ratio * 100).toFixed(0)} %`;

const collector = node(COLLECTOR, [], 'pipe');
const collectorUrl = `http://127.0.0.1:${await firstLine(collector)}`;
const subscriber = node(SUBSCRIBER);
const subscriberUrl = `http://127.0.0.1:${await firstLine(subscriber)}/`;
try {
  // Load the SDK and exporter modules once, so that no run pays for it.
  await (await tracing(true, collectorUrl)).shutdown();
  console.log(`tracing off vs on (OTLP to a local no-op collector, sampling 100 %), medians of ${ROUNDS} alternating runs:`);
  await pair('ingress', (on) => ingressRate(on, collectorUrl));
  await pair('dispatch', (on) => dispatchRate(on, collectorUrl, subscriberUrl));
  collector.stdin!.write('report\n');
  const report = JSON.parse(await firstLine(collector)) as { requests: number; bytes: number; counts: Record<string, number> };
  console.log(`  collector: ${report.requests} export requests, ${(report.bytes / 1024 / 1024).toFixed(1)} MiB; spans by name: ${Object.entries(report.counts).map(([n, c]) => `${n} ${c}`).join(', ')}`);
} finally {
  collector.kill();
  subscriber.kill();
}
