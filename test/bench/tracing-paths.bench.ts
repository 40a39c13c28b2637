/**
 * Tracing's cost on the broker's own paths, without HTTP or a load client (issue 18): the ingress's
 * accept (decode, validate, spans, records, the in-memory log's append) and the dispatcher's
 * dispatchRecord (decode, filter, spans, the request, an in-process subscriber answering 200),
 * with tracing off and on (the real OTLP export worker, sampling 100 %, sending to a no-op
 * collector in a child process), in paired rounds (test/bench/paired.ts). What is measured is
 * CPU per event: the main thread's (Linux, /proc) and the whole process's (main, export worker,
 * GC helpers), from the first event to the exporter's flush after the last.
 *
 * test/bench/tracing.bench.ts measures the whole broker, whose throughput on a busy shared
 * machine swings with the other load; with no sockets and no other process in the loop, these
 * figures move far less, so a change to tracing's code shows here. A figure, never a pass/fail.
 *
 *   npx tsx --expose-gc test/bench/tracing-paths.bench.ts     BENCH_PAIRS (default 8), BENCH_EVENTS (default 20000),
 *                                                             BENCH_ONLY=ingress|dispatch (default both)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { Appender } from '../../broker-ingress/append.js';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { IngressTable, type IngressEntry } from '../../broker-ingress/ingress-table.js';
import { IngressPosts, type PostAnswer } from '../../broker-ingress/post.js';
import { toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { EventLogClusters } from '../../core/event-log/clusters.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import type { ConsumedRecord } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { startTracing, tracingSettingsFromEnv, type RunningTracing, type Tracing } from '../../core/tracing.js';
import type { AttemptResult, Sender } from '../../dispatcher/delivery.js';
import { dispatchRecord, systemClock, type DispatchDeps, type EgressRoute } from '../../dispatcher/dispatch.js';
import { policyFrom } from '../../dispatcher/retry-policy.js';
import { makeBroker, makeContract, makeEgress } from '../helpers/builders.js';
import { alternate, pairLines, type Round } from './paired.js';

const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 8);
const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const ONLY = process.env['BENCH_ONLY'];
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** Answers every export with 200; prints its port. */
const COLLECTOR = `
  const server = require('node:http').createServer((req, res) => { req.on('data', () => {}); req.on('end', () => { res.writeHead(200, { 'content-length': '0' }); res.end(); }); });
  server.keepAliveTimeout = 60000;
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;

/** This thread's CPU µs (Linux; clock ticks of 10 ms), NaN elsewhere. */
function mainThreadCpu(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}

interface PathRound extends Round {
  readonly mainUs: number;
}

/** Runs `events` events through `run` and flushes the exporter; CPU per event. */
async function measure(traces: RunningTracing, run: () => Promise<void>): Promise<PathRound> {
  const main0 = mainThreadCpu();
  const cpu0 = process.cpuUsage();
  const began = performance.now();
  await run();
  await traces.flush();
  const cpu = process.cpuUsage(cpu0);
  return {
    perSecond: EVENTS / ((performance.now() - began) / 1000),
    cpuMicrosPerEvent: (cpu.user + cpu.system) / EVENTS,
    mainUs: (mainThreadCpu() - main0) / EVENTS,
  };
}

// ---- ingress: IngressPosts.accept, as fast-post.ts calls it once the body is read

const broker = makeBroker('bench', [], {}, 'bench');
const table = new IngressTable();
table.apply(makeContract([broker]));
const entry: IngressEntry = table.lookup(broker.ingress!.path)!;
const body = Buffer.from(JSON.stringify({ payload: 'x'.repeat(1010) }));
const requestHeaders: IncomingHttpHeaders[] = Array.from({ length: EVENTS }, (_, i) => ({
  'ce-specversion': '1.0', 'ce-id': String(i), 'ce-source': '/bench', 'ce-type': 'dev.knative.bench', 'content-type': 'application/json', traceparent: TRACEPARENT,
}));

async function ingressRound(tracing: Tracing): Promise<void> {
  const log = new MemoryEventLog();
  await log.ensureTopic(entry.topic, { partitions: 10, replicationFactor: 1 });
  const config = ingressConfigSchema.parse({});
  const posts = new IngressPosts({ table, appender: new Appender(new EventLogClusters(log), config), config, logger: silentLogger(), verifier: undefined, tracing });
  let accepted = 0;
  const answer: PostAnswer = { accepted: () => accepted++, refuse: (error) => { throw error; } };
  // 64 requests at a time, as the whole-broker bench's load client keeps in flight.
  for (let i = 0; i < EVENTS; i += 64) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(EVENTS, i + 64); j++) batch.push(posts.accept(entry, entry.path, requestHeaders[j]!, body, undefined, 0, answer));
    await Promise.all(batch);
  }
  if (accepted !== EVENTS) throw new Error(`accepted ${accepted} of ${EVENTS}`);
  await log.close();
}

// ---- dispatch: dispatchRecord, as the egress consumer calls it, to a subscriber answering 200 at once

const egress = makeEgress('bench-trigger', { destination: 'http://127.0.0.1:1/' });
const base = toKafkaRecord(
  { attributes: { specversion: '1.0', id: 'bench', source: '/bench', type: 'bench.event', datacontenttype: 'application/octet-stream', knativebrokerttl: 255 }, data: Buffer.alloc(1024, 'x') },
  'binary',
  { traceparent: TRACEPARENT },
);
const OK: AttemptResult = { kind: 'response', status: 200, headers: {}, body: Buffer.alloc(0), truncated: false };
const subscriber: Sender = { send: () => Promise.resolve(OK) };
const route: EgressRoute = { resource: broker, egress, deadLetter: null, policy: policyFrom(null, { timeoutMs: 10_000, retryAfterBoundMs: 60_000 }), accepts: () => true };
const listener: DispatchDeps['listener'] = { onDone: () => {}, onReply: () => {}, onRetry: () => {}, onStall: () => {} };

async function dispatchRound(tracing: Tracing): Promise<void> {
  const log = new MemoryEventLog();
  const deps: DispatchDeps = { sender: subscriber, log, clock: systemClock, random: Math.random, stallBackoff: { baseMs: 100, capMs: 1000 }, listener, tracing };
  const signal = new AbortController().signal;
  let done = 0;
  for (let i = 0; i < EVENTS; i += 64) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(EVENTS, i + 64); j++) {
      const record: ConsumedRecord = {
        topic: 'bench', partition: 0, offset: String(j), key: null, value: base.value, headers: { ...base.headers, ce_id: Buffer.from(`e-${j}`) }, timestamp: 0, done: () => done++,
      };
      batch.push(dispatchRecord(record, () => route, deps, signal));
    }
    await Promise.all(batch);
  }
  if (done !== EVENTS) throw new Error(`done ${done} of ${EVENTS}`);
  await log.close();
}

// ---- the runs

const collector = spawn(process.execPath, ['-e', COLLECTOR], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<string>((resolve) => collector.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
const off = await startTracing(undefined);
const on = await startTracing(tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_TRACES_SAMPLER: 'always_on', OTEL_SERVICE_NAME: 'bench' }, 'bench'));
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
try {
  console.log(`tracing off vs on, the broker's paths in process (no HTTP), ${EVENTS} events a round, ${PAIRS} alternating pairs after a warm-up pair:`);
  for (const [name, round] of [['ingress', ingressRound], ['dispatch', dispatchRound]] as const) {
    if (ONLY !== undefined && ONLY !== '' && ONLY !== name) continue;
    const offs: PathRound[] = [];
    const ons: PathRound[] = [];
    const summary = await alternate(PAIRS, (tracingOn) => {
      const traces = tracingOn ? on : off;
      return measure(traces, () => round(traces.tracing));
    }, (_index, a, b) => {
      offs.push(a as PathRound);
      ons.push(b as PathRound);
    });
    console.log(`  ${name}`);
    for (const line of pairLines(summary, 0.8)) console.log(`    ${line.replace('metrics on / off', 'tracing on / off')}`);
    const mainDiff = median(ons.map((r, i) => r.mainUs - offs[i]!.mainUs));
    console.log(`    CPU per event: off ${median(offs.map((r) => r.cpuMicrosPerEvent)).toFixed(1)} µs (main thread ${median(offs.map((r) => r.mainUs)).toFixed(1)}), on ${median(ons.map((r) => r.cpuMicrosPerEvent)).toFixed(1)} µs (main thread ${median(ons.map((r) => r.mainUs)).toFixed(1)}); on − off: process ${median(ons.map((r, i) => r.cpuMicrosPerEvent - offs[i]!.cpuMicrosPerEvent)).toFixed(1)} µs, main thread ${mainDiff.toFixed(1)} µs (medians of pairs)`);
  }
} finally {
  await on.shutdown();
  collector.kill();
}
