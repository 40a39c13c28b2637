/**
 * The Kafka event log's cost per record on each client library (kafkajs, @platformatic/kafka),
 * in the same run, as figures (never a pass/fail):
 *
 *   produce  appends of one 1 KiB CloudEvent record each, CONCURRENCY in flight at once (as the
 *            ingress appends: one record per request, coalesced by the adapter), acks=all
 *   consume  a consumer group member reading a filled topic from the start, done() per record
 *            (the dispatcher's hot path without the HTTP part), maxInFlight 500
 *
 * For each: events/s and this process's CPU time per record (user + system, µs), best of ROUNDS
 * runs, the clients alternating so that a busy machine colours both alike; then the ratio
 * platformatic / kafkajs. Kafka itself runs in another process and is not counted.
 *
 *   KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 npx tsx test/bench/kafka-client.bench.ts
 *
 * Knobs: BENCH_EVENTS (records per run, default 20000), BENCH_ROUNDS (default 2),
 * BENCH_CONCURRENCY (appends in flight, default 256).
 */
import { toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { kafkaClientKinds, type KafkaClientKind } from '../../core/event-log/kafka/client-kind.js';
import type { AppendRecord } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { uniqueName } from '../helpers/wait.js';

const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 256);
const KAFKA = process.env['KAFKA_BOOTSTRAP_SERVERS'];
if (!KAFKA) {
  console.error('kafka-client: KAFKA_BOOTSTRAP_SERVERS is not set (npm run bench starts a Kafka)');
  process.exit(1);
}

const BASE = toKafkaRecord({
  attributes: { specversion: '1.0', id: 'bench', source: '/bench', type: 'bench.event', datacontenttype: 'application/octet-stream' },
  data: Buffer.alloc(1024, 'x'),
});

function record(i: number): AppendRecord {
  return { key: null, value: BASE.value, headers: { ...BASE.headers, ce_id: Buffer.from(`e-${i}`) } };
}

interface Figure {
  readonly perSecond: number;
  readonly cpuMicros: number;
}

/** Wall time and this process's CPU time of `work`, per record. */
async function measure(records: number, work: () => Promise<void>): Promise<Figure> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { perSecond: records / seconds, cpuMicros: (used.user + used.system) / records };
}

function open(client: KafkaClientKind): KafkaEventLog {
  return new KafkaEventLog({ brokers: KAFKA!.split(','), clientId: `bench-${client}`, logger: silentLogger(), client });
}

async function newTopic(log: KafkaEventLog): Promise<string> {
  const topic = uniqueName('bench-client');
  await log.ensureTopic(topic, { partitions: 3, replicationFactor: 1 });
  return topic;
}

/** EVENTS appends of one record, CONCURRENCY at a time; returns the topic, now full. */
async function produce(log: KafkaEventLog, topic: string): Promise<Figure> {
  await log.append(topic, [record(-1)]); // connect first: the run measures appends, not the handshake
  let next = 0;
  return measure(EVENTS, async () => {
    const worker = async (): Promise<void> => {
      while (next < EVENTS) await log.append(topic, [record(next++)]);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  });
}

/** A member reading the topic from the start until it has seen EVENTS records (the join is not timed). */
async function consume(log: KafkaEventLog, topic: string): Promise<Figure> {
  const groupId = uniqueName('bench-client-group');
  await log.initGroup(groupId, topic, 'earliest');
  let seen = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let begin!: () => void;
  const first = new Promise<void>((resolve) => (begin = resolve));
  // Counted from the first record on: the join (seconds, mostly waiting) is not the per-record cost.
  let figure: Promise<Figure> | undefined;
  const consumer = await log.consume({
    groupId, topics: [topic], start: 'earliest', maxInFlight: 500,
    onRecord: (r) => {
      if (seen === 0) {
        figure = measure(EVENTS, () => finished);
        begin();
      }
      r.done();
      if (++seen === EVENTS + 1) finish();
    },
  });
  await first;
  const result = await figure!;
  await consumer.close();
  return result;
}

const best = (figures: readonly Figure[]): Figure => figures.reduce((a, b) => (b.cpuMicros < a.cpuMicros ? b : a));

const results = new Map<KafkaClientKind, { produce: Figure[]; consume: Figure[] }>(kafkaClientKinds.map((k) => [k, { produce: [], consume: [] }]));
for (let round = 1; round <= ROUNDS; round++) {
  for (const client of kafkaClientKinds) {
    const log = open(client);
    try {
      const topic = await newTopic(log);
      results.get(client)!.produce.push(await produce(log, topic));
      results.get(client)!.consume.push(await consume(log, topic));
      await log.deleteTopic(topic).catch(() => undefined);
    } finally {
      await log.close();
    }
  }
}

const fmt = (f: Figure): string => `${Math.round(f.perSecond).toLocaleString('en-US').padStart(8)} events/s  ${f.cpuMicros.toFixed(1).padStart(6)} µs CPU/record`;
console.log(`${EVENTS} records of 1 KiB per run, best of ${ROUNDS}; appends ${CONCURRENCY} in flight, one record each`);
for (const part of ['produce', 'consume'] as const) {
  const k = best(results.get('kafkajs')![part]);
  const p = best(results.get('platformatic')![part]);
  console.log(`${part.padEnd(8)} kafkajs       ${fmt(k)}`);
  console.log(`${part.padEnd(8)} platformatic  ${fmt(p)}`);
  console.log(`${part.padEnd(8)} platformatic/kafkajs: CPU per record ×${(p.cpuMicros / k.cpuMicros).toFixed(2)}, events/s ×${(p.perSecond / k.perSecond).toFixed(2)}`);
}
