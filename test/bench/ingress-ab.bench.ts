/**
 * The ingress's CPU per POST, this checkout against another (e.g. main), in one process and in
 * alternating paired rounds (test/bench/paired.ts): both ingresses run side by side, each built
 * from its own checkout's modules (its own event log adapter too), and each round sends the load to
 * one of them. CPU per event is process.cpuUsage() of this process over a round (its warm-up
 * included) divided by the requests answered in it; the load client (test/bench/load-client.ts) is a
 * child process. Reported: the median of the per-pair ratios base / this (above 1: this checkout
 * costs less), their min–max, and the median µs per POST of each.
 *
 *   BASE=/path/to/other/checkout [AB_LOG=memory|kafka] [AB_RATE=events/s] [BENCH_PAIRS=8] [BENCH_PAIR_MS=2000] \
 *     KAFKA_BOOTSTRAP_SERVERS=... npx tsx test/bench/ingress-ab.bench.ts
 *
 * The other checkout needs node_modules (a symlink to the same install will do), e.g.
 *   mkdir /tmp/base && git archive main | tar -x -C /tmp/base && ln -s "$PWD/node_modules" /tmp/base/
 * At a fixed rate (AB_RATE) both see the same arrivals, and the ratio moves least with other load.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as IngressMain from '../../broker-ingress/main.js';
import type * as IngressConfig from '../../broker-ingress/config.js';
import type * as ContractSource from '../../core/contract/source.js';
import type * as KafkaAdapter from '../../core/event-log/kafka/adapter.js';
import type * as Memory from '../../core/event-log/memory.js';
import type { EventLog } from '../../core/event-log/port.js';
import type * as Logger from '../../core/logger.js';
import type * as Builders from '../helpers/builders.js';
import { answersOtherThan, CONCURRENCY, LoadClient, statusCounts } from './load-client.js';
import { alternate, pairLine, type Round } from './paired.js';

const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 8);
const PAIR_MS = Number(process.env['BENCH_PAIR_MS'] ?? 2000);
const WARMUP_MS = 300;
/** Open-loop requests per second (0: closed loop, each connection sends again once answered). */
const RATE = Number(process.env['AB_RATE'] ?? 0);

/** What a checkout's ingress needs, from that checkout's own modules. */
interface Side {
  readonly name: string;
  readonly url: string;
  readonly path: string;
  close(): Promise<void>;
}

async function startSide(name: string, root: string, kind: 'memory' | 'kafka'): Promise<Side> {
  const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(path.join(root, file)).href)) as T;
  const { startIngress } = await load<typeof IngressMain>('broker-ingress/main.ts');
  const { ingressConfigSchema } = await load<typeof IngressConfig>('broker-ingress/config.ts');
  const { InProcessContractSource } = await load<typeof ContractSource>('core/contract/source.ts');
  const { silentLogger } = await load<typeof Logger>('core/logger.ts');
  const { makeBroker, makeContract } = await load<typeof Builders>('test/helpers/builders.ts');
  let log: EventLog;
  if (kind === 'memory') {
    const { MemoryEventLog } = await load<typeof Memory>('core/event-log/memory.ts');
    log = new MemoryEventLog();
  } else {
    const servers = process.env['KAFKA_BOOTSTRAP_SERVERS'];
    if (servers === undefined) throw new Error('AB_LOG=kafka needs KAFKA_BOOTSTRAP_SERVERS');
    const { KafkaEventLog } = await load<typeof KafkaAdapter>('core/event-log/kafka/adapter.ts');
    log = new KafkaEventLog({ brokers: servers.split(','), clientId: `ingress-ab-${name}`, logger: silentLogger() });
  }
  const broker = makeBroker(`ab-${process.pid}-${name}`, [], {}, 'ns');
  await log.ensureTopic(broker.topics[0]!, { partitions: 3, replicationFactor: 1 });
  const ingress = await startIngress({
    config: ingressConfigSchema.parse({ host: '127.0.0.1', port: 0 }),
    log,
    contracts: new InProcessContractSource(makeContract([broker], 1)),
    logger: silentLogger(),
  });
  return {
    name,
    url: ingress.url,
    path: broker.ingress!.path,
    close: async () => {
      await ingress.close();
      await log.deleteTopic(broker.topics[0]!).catch(() => undefined);
      await log.close();
    },
  };
}

/** CPU per POST of this process (the ingresses) over one round of load against `side`. */
async function round(client: LoadClient, side: Side): Promise<Round> {
  const cpu = process.cpuUsage();
  const result = await client.run({ url: side.url, path: side.path, warmupMs: WARMUP_MS, measureMs: PAIR_MS, rate: RATE });
  const used = process.cpuUsage(cpu);
  if (answersOtherThan(result, 202) > 0) console.log(`    (${side.name}: answers other than 202: ${statusCounts(result)})`);
  return { perSecond: result.requests / result.seconds, cpuMicrosPerEvent: (used.user + used.system) / Math.max(1, result.total) };
}

async function main(): Promise<void> {
  const base = process.env['BASE'];
  if (base === undefined) {
    // Part of `npm run bench`, which has no other checkout to compare with.
    console.log('ingress A/B: skipped (set BASE to the checkout to compare with, e.g. a copy of main)');
    return;
  }
  const kind = process.env['AB_LOG'] === 'kafka' ? 'kafka' : 'memory';
  const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const baseSide = await startSide('base', path.resolve(base), kind);
  const thisSide = await startSide('this', here, kind);
  const client = new LoadClient();
  console.log(`ingress A/B on the ${kind} log: base ${base} ("off") vs this checkout ("on"); ${PAIRS} pairs of ${PAIR_MS} ms rounds, ${RATE > 0 ? `${RATE} requests/s open loop` : `concurrency ${CONCURRENCY}`}, 1 KiB binary events`);
  try {
    const summary = await alternate(PAIRS, (on) => round(client, on ? thisSide : baseSide), (i, off, on) => console.log(pairLine(i, off, on)));
    const { cpu, throughput } = summary;
    console.log(`  CPU per POST: base ${summary.offCpuMicros.toFixed(1)} µs, this ${summary.onCpuMicros.toFixed(1)} µs; base / this ${cpu.median.toFixed(3)} (median of ${summary.pairs} pairs, min–max ${cpu.min.toFixed(3)}–${cpu.max.toFixed(3)})`);
    console.log(`  throughput: base ${Math.round(summary.offPerSecond)}/s, this ${Math.round(summary.onPerSecond)}/s; this / base ${throughput.median.toFixed(3)} (min–max ${throughput.min.toFixed(3)}–${throughput.max.toFixed(3)})`);
  } finally {
    await client.close();
    await thisSide.close();
    await baseSide.close();
  }
}

await main();
