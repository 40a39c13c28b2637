/**
 * CPU per record of the Kafka event log on one client, produce and consume, in one process: for
 * comparing two versions of the adapter (issue 17). Not one of `npm run bench`'s (a .bench.ts
 * file): a version is a checkout, and the comparison alternates processes of the two.
 *
 *   produce  EVENTS appends of one 1 KiB CloudEvent record each, CONCURRENCY in flight (as the
 *            ingress appends), acks=all; CPU of this process from the first append to the last
 *   consume  a consumer group member reading them back, done() per record, maxInFlight 500; CPU
 *            from the first record handed out to the last
 *
 * Prints one JSON line: { "produce": µs/record, "consume": µs/record }. Paired A/B of checkouts
 * A and B (each with node_modules), alternating which goes first, median of the pair ratios:
 *
 *   for i in 1 2 3 4 5 6 7 8; do
 *     for dir in A B; do (cd $dir && KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 npx tsx test/bench/kafka-record-cost.ts 20000); done
 *   done
 *
 * Knobs: argv[2] records (default 20000), KAFKA_CLIENT (default platformatic), CONCURRENCY (256).
 * With `node --cpu-prof --import tsx`, the phases' bounds go to stderr (process.hrtime in µs, the
 * profile's clock) to split the profile by phase.
 */
import { toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { parseKafkaClientKind } from '../../core/event-log/kafka/client-kind.js';
import type { AppendRecord } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { uniqueName } from '../helpers/wait.js';

const EVENTS = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = Number(process.env['CONCURRENCY'] ?? 256);
const KAFKA = process.env['KAFKA_BOOTSTRAP_SERVERS'];
const CLIENT = parseKafkaClientKind(process.env['KAFKA_CLIENT'] ?? 'platformatic');
if (!KAFKA || CLIENT === undefined) {
  console.error('kafka-record-cost: set KAFKA_BOOTSTRAP_SERVERS (and KAFKA_CLIENT to kafkajs or platformatic, if set)');
  process.exit(1);
}

const BASE = toKafkaRecord({
  attributes: { specversion: '1.0', id: 'bench', source: '/bench', type: 'bench.event', datacontenttype: 'application/octet-stream' },
  data: Buffer.alloc(1024, 'x'),
});
const record = (i: number): AppendRecord => ({ key: null, value: BASE.value, headers: { ...BASE.headers, ce_id: Buffer.from(`e-${i}`) } });
const mark = (phase: string): void => void process.stderr.write(`${phase} ${process.hrtime.bigint() / 1000n}\n`);
const perRecord = (used: NodeJS.CpuUsage): number => Number(((used.user + used.system) / EVENTS).toFixed(2));

const log = new KafkaEventLog({ brokers: KAFKA.split(','), clientId: 'record-cost', logger: silentLogger(), client: CLIENT });
const topic = uniqueName('record-cost');
await log.ensureTopic(topic, { partitions: 3, replicationFactor: 1 });
await log.append(topic, [record(-1)]); // connected before the measurement

let next = 0;
mark('produce-start');
const produceStart = process.cpuUsage();
await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
  while (next < EVENTS) await log.append(topic, [record(next++)]);
}));
const produce = perRecord(process.cpuUsage(produceStart));
mark('produce-end');

const groupId = uniqueName('record-cost-group');
await log.initGroup(groupId, topic, 'earliest');
let seen = 0;
let consumeStart: NodeJS.CpuUsage | undefined;
let finish!: () => void;
const finished = new Promise<void>((resolve) => (finish = resolve));
const consumer = await log.consume({
  groupId, topics: [topic], start: 'earliest', maxInFlight: 500,
  onRecord: (r) => {
    if (seen === 0) {
      mark('consume-start');
      consumeStart = process.cpuUsage();
    }
    r.done();
    if (++seen === EVENTS + 1) finish();
  },
});
await finished;
const consume = perRecord(process.cpuUsage(consumeStart));
mark('consume-end');
await consumer.close();
await log.deleteTopic(topic).catch(() => undefined);
await log.close();
console.log(JSON.stringify({ produce, consume }));
