/**
 * The dispatcher's CPU per delivered event, checkout against checkout (issue 17), on Kafka.
 *
 * One topic is filled once with 1 KiB binary events; one long-lived worker process per checkout
 * runs that checkout's dispatcher (its own code, loaded from the checkout) with metrics on, as
 * `kafka-broker start` does; a subscriber in a process of its own answers 202 at once. Each round
 * a worker drains the whole topic with a new consumer group (one unordered Trigger) and reports
 * its process's CPU (user + system, process.cpuUsage()) from the first delivery to the last over
 * the events delivered: the Kafka consumer, the dispatch and the HTTP client, all of it. Rounds
 * alternate A B, B A, ... so that load from other processes on the machine hits both alike; the
 * figure is the median of the per-pair ratios. A first pair warms the JIT and is not counted.
 *
 *   KAFKA_BOOTSTRAP_SERVERS=host:port npx tsx scripts/perf/dispatch-ab.ts [--events 20000] [--pairs 8]
 *     [--together] [--prof dir] <checkout>[::<node flags>] <checkout>[::<node flags>]
 *
 * --together runs A's and B's rounds at the same time (each drains the topic with its own group):
 * both then meet the same load from the rest of the machine, at the price of competing with each
 * other (alike, as they are alike).
 * --memory runs each worker on an in-memory log of its checkout's own (MemoryEventLog), filled once
 * by the worker at its start: the in-memory unordered dispatch of the dispatcher bench, without
 * Kafka's consumer in the figure (KAFKA_BOOTSTRAP_SERVERS is then not needed).
 * --source loads each checkout's TypeScript through tsx (as test/bench does) instead of its dist/.
 * --status is what the subscriber answers (default 202; the dispatcher bench's subscriber answers 200,
 * whose headers the dispatcher reads for a reply).
 * --metrics off starts the dispatcher without a metrics registry, as the bench's unordered run does.
 * --prof writes each worker's CPU profile of its measured rounds to <dir>/<n>.cpuprofile (0 = A, 1 = B),
 * and a sampled allocation profile to <dir>/<n>.heapprofile.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const KAFKA = process.env['KAFKA_BOOTSTRAP_SERVERS'];

interface Job {
  /** Kafka: the topic filled by the parent; memory: the name of the topic each worker fills in its own log. */
  readonly topic: string;
  readonly events: number;
  readonly subscriberUrl: string;
}

interface WorkerMode {
  /** On an in-memory log of the checkout's own, filled by the worker. */
  readonly memory: boolean;
  /** With a metrics registry (as `kafka-broker start`), or without (as the bench's unordered run). */
  readonly metrics: boolean;
  /** The checkout's TypeScript through tsx, not its dist/. */
  readonly source: boolean;
}

interface RoundResult {
  readonly cpuMicrosPerEvent: number;
  readonly perSecond: number;
  readonly delivered: number;
}

/** A worker: waits for jobs over IPC and runs each with the checkout's own dispatcher. */
async function worker(checkout: string, profile: string | undefined, mode: WorkerMode): Promise<void> {
  // The compiled code (dist/, as the CLI runs it; `node scripts/build.mjs` in each checkout first).
  // --source: its TypeScript through tsx instead, as the benches in test/bench run it.
  const from = (module: string): Promise<Record<string, unknown>> => import(path.join(checkout, mode.source ? '' : 'dist', module)) as Promise<Record<string, unknown>>;
  /* eslint-disable @typescript-eslint/no-explicit-any -- modules of another checkout, typed as this one's would only pretend */
  const { KafkaEventLog } = (await from('core/event-log/kafka/adapter.js')) as any;
  const { MemoryEventLog } = (await from('core/event-log/memory.js')) as any;
  const { InProcessContractSource } = (await from('core/contract/source.js')) as any;
  const { silentLogger } = (await from('core/logger.js')) as any;
  const { createMetricsRegistry } = (await from('core/metrics.js')) as any;
  const { dispatcherConfigSchema } = (await from('dispatcher/config.js')) as any;
  const { startDispatcher } = (await from('dispatcher/main.js')) as any;
  const { makeBroker, makeContract, makeEgress } = (await import('../../test/helpers/builders.js')) as any;
  /* eslint-enable @typescript-eslint/no-explicit-any */
  const { fillTopic } = await import('../../test/helpers/fill-topic.js');
  const log = mode.memory ? new MemoryEventLog() : new KafkaEventLog({ brokers: (KAFKA ?? '').split(','), clientId: 'dispatch-ab', logger: silentLogger() });
  const registry = mode.metrics ? createMetricsRegistry() : undefined;
  let round = 0;
  let filled = false;
  // Profiled: the measured rounds only (after the warm-up round), not the start or the fill.
  const session = profile === undefined ? undefined : new Session();
  session?.connect();
  process.on('message', (message: Job | 'exit') => {
    if (message === 'exit') {
      void (async () => {
        if (session !== undefined) writeFileSync(profile!, JSON.stringify((await session.post('Profiler.stop')).profile));
        if (session !== undefined) writeFileSync(profile!.replace(/\.cpuprofile$/, '.heapprofile'), JSON.stringify((await session.post('HeapProfiler.stopSampling')).profile));
        await log.close();
      })().finally(() => process.exit(0));
      return;
    }
    void (async (): Promise<RoundResult> => {
      round++;
      if (round === 2 && session !== undefined) {
        await session.post('Profiler.enable');
        await session.post('Profiler.start');
        // Allocations too (sampled every 32 KiB): what the collector's share comes from.
        await session.post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      }
      if (mode.memory && !filled) {
        await log.ensureTopic(message.topic, { partitions: 1, replicationFactor: 1 });
        await fillTopic(log, message.topic, message.events);
        filled = true;
      }
      const group = `dispatch-ab-${process.pid}-${round}-${Date.now()}`;
      const egress = makeEgress(`ab${round}`, { destination: message.subscriberUrl, consumerGroup: group });
      await log.initGroup(group, message.topic, 'earliest');
      const contracts = new InProcessContractSource(makeContract([makeBroker(`ab${round}`, [egress], { topics: [message.topic] })]));
      const dispatcher = await startDispatcher({ config: dispatcherConfigSchema.parse({}), log, contracts, logger: silentLogger(), metrics: registry });
      const delivered = (): number => dispatcher.stats().totals.delivered as number;
      while (delivered() === 0) await sleep(1);
      const started = performance.now();
      const cpu = process.cpuUsage();
      const base = delivered();
      const until = started + 60_000;
      // Polled every 20 ms: stats() sums counters, and polling faster showed up in the profile.
      while (delivered() < message.events && performance.now() < until) await sleep(20);
      const used = process.cpuUsage(cpu);
      const seconds = (performance.now() - started) / 1000;
      const n = delivered() - base;
      await dispatcher.close();
      return { cpuMicrosPerEvent: (used.user + used.system) / Math.max(1, n), perSecond: n / seconds, delivered: n };
    })().then((result) => process.send!(result), (error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  });
  process.send!('ready');
}

async function parent(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      events: { type: 'string', default: '20000' }, pairs: { type: 'string', default: '8' }, prof: { type: 'string' }, together: { type: 'boolean', default: false },
      memory: { type: 'boolean', default: false }, metrics: { type: 'string', default: 'on' }, source: { type: 'boolean', default: false },
      status: { type: 'string', default: '202' },
    },
  });
  if ((KAFKA === undefined && !values.memory) || positionals.length !== 2 || (values.metrics !== 'on' && values.metrics !== 'off')) {
    console.error('usage: [KAFKA_BOOTSTRAP_SERVERS=host:port] npx tsx scripts/perf/dispatch-ab.ts [--memory] [--metrics on|off] [--source] [--status 202] [--events N] [--pairs N] [--together] [--prof dir] <checkout-a> <checkout-b>');
    process.exit(2);
  }
  const events = Number(values.events);
  const pairs = Number(values.pairs);
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const { KafkaEventLog } = await import('../../core/event-log/kafka/adapter.js');
  const { silentLogger } = await import('../../core/logger.js');
  const { fillTopic } = await import('../../test/helpers/fill-topic.js');
  const { startSubscriberProcess } = await import('../../test/helpers/subscriber-process.js');

  const log = values.memory ? undefined : new KafkaEventLog({ brokers: (KAFKA ?? '').split(','), clientId: 'dispatch-ab-fill', logger: silentLogger() });
  const topic = `dispatch-ab-${Date.now()}`;
  if (log !== undefined) {
    await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
    await fillTopic(log, topic, events);
  }
  const sink = await startSubscriberProcess(Number(values.status));
  const job: Job = { topic, events, subscriberUrl: sink.url };

  const workers: ChildProcess[] = positionals.map((spec, index) => {
    // `<checkout>::<node flags>`: the same code under other V8 settings (space-separated flags).
    const [checkout = spec, flags = ''] = spec.split('::');
    const mode: WorkerMode = { memory: values.memory, metrics: values.metrics === 'on', source: values.source };
    const args = ['--worker', path.resolve(checkout), JSON.stringify(mode)];
    if (values.prof !== undefined) {
      mkdirSync(path.resolve(values.prof), { recursive: true });
      args.push(path.resolve(values.prof, `${index}.cpuprofile`));
    }
    return fork(fileURLToPath(import.meta.url), args, { cwd: here, execArgv: ['--import', 'tsx', ...flags.split(' ').filter(Boolean)], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  });
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const runOn = (w: ChildProcess): Promise<RoundResult> =>
    new Promise((resolve, reject) => {
      const exited = (code: number | null): void => reject(new Error(`worker exited with ${code}`));
      w.once('exit', exited);
      w.once('message', (m) => {
        w.off('exit', exited);
        resolve(m as RoundResult);
      });
      w.send(job);
    });

  const ratios: number[] = [];
  const cpu: [number[], number[]] = [[], []];
  try {
    for (let pair = 0; pair <= pairs; pair++) {
      const order = pair % 2 === 0 ? [0, 1] : [1, 0];
      const got: RoundResult[] = [];
      if (values.together) {
        const both = await Promise.all([runOn(workers[0]!), runOn(workers[1]!)]);
        got.push(...both);
      } else {
        for (const i of order) got[i] = await runOn(workers[i]!);
      }
      const [a, b] = got as [RoundResult, RoundResult];
      const label = pair === 0 ? 'warm-up' : `pair ${pair}`;
      console.log(`${label.padEnd(8)} A ${a.cpuMicrosPerEvent.toFixed(1)} µs/event (${a.perSecond.toFixed(0)}/s, ${a.delivered})  B ${b.cpuMicrosPerEvent.toFixed(1)} µs/event (${b.perSecond.toFixed(0)}/s, ${b.delivered})  B/A ${(b.cpuMicrosPerEvent / a.cpuMicrosPerEvent).toFixed(3)}`);
      if (pair === 0) continue;
      ratios.push(b.cpuMicrosPerEvent / a.cpuMicrosPerEvent);
      cpu[0].push(a.cpuMicrosPerEvent);
      cpu[1].push(b.cpuMicrosPerEvent);
    }
    if (ratios.length === 0) return; // --pairs 0: the first (cold) pair only
    const median = (xs: number[]): number => {
      const s = [...xs].sort((x, y) => x - y);
      const m = s.length >> 1;
      return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
    };
    console.log(`A ${positionals[0]}: median ${median(cpu[0]).toFixed(1)} µs/event`);
    console.log(`B ${positionals[1]}: median ${median(cpu[1]).toFixed(1)} µs/event`);
    console.log(`B/A CPU per event: median ${median(ratios).toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)}) over ${ratios.length} pairs`);
  } finally {
    for (const w of workers) w.send('exit');
    await Promise.all(workers.map((w) => new Promise((resolve) => (w.exitCode !== null ? resolve(undefined) : w.once('exit', resolve)))));
    sink.child.kill();
    await log?.deleteTopic(topic).catch(() => undefined);
    await log?.close();
  }
}

const at = process.argv.indexOf('--worker');
if (at >= 0) await worker(process.argv[at + 1]!, process.argv[at + 3], JSON.parse(process.argv[at + 2]!) as WorkerMode);
else await parent();
