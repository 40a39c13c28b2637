/**
 * The ingress against real Kafka:
 *  1. large events round-trip byte for byte (team Kafka, KAFKA_BOOTSTRAP_SERVERS);
 *  2. Kafka unavailable: on a Kafka this test starts for itself (never the team's), first
 *     frozen (SIGSTOP: the broker stops answering, as a hung or partitioned broker does) and then
 *     resumed — every 202'd event is on the topic, every record there is whole, and POSTs during
 *     the outage got 503 with Retry-After; then stopped for good (the scripts' API cannot restart
 *     the same broker on the same port and log dir), where POSTs get 503 as well.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { decodeHttp, encodeHttpBinary } from '../../core/cloudevents/http-binding.js';
import { fromKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { silentLogger } from '../../core/logger.js';
import { makeBroker } from '../helpers/builders.js';
import { kafkaEventLog } from '../helpers/kafka.js';
import { startOwnKafka } from '../helpers/own-kafka.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { ceHeaders, readAll, startTestIngress } from '../unit/broker-ingress/fixtures.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Bytes that are not valid UTF-8 and not JSON, so nothing on the way can "normalise" them. */
function payload(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    bytes[i] = x >>> 16;
  }
  return bytes;
}

describe('large events over Kafka', () => {
  test('36 KiB and 1 MiB events round-trip byte for byte (binary and structured)', async (t) => {
    const log = kafkaEventLog(t, 'ingress-large');
    const name = uniqueName('large').toLowerCase();
    const broker = makeBroker(name, [], {}, 'ns');
    // The 1 MiB record carries headers on top of its body, so the topic allows 2 MiB rather than
    // relying on the broker's default record limit (message.max.bytes, about 1 MiB).
    await log.ensureTopic(broker.topics[0]!, { partitions: 1, replicationFactor: 1, config: { 'max.message.bytes': String(2 * MiB) } });
    const { post, path: brokerPath, topic } = await startTestIngress(t, log, { resources: [broker] });

    const sent = [
      { id: 'binary-36k', data: payload(36 * KiB, 1), headers: ceHeaders({ 'ce-id': 'binary-36k', 'content-type': 'application/octet-stream' }) },
      { id: 'binary-1m', data: payload(MiB, 2), headers: ceHeaders({ 'ce-id': 'binary-1m', 'content-type': 'application/octet-stream' }) },
    ];
    for (const s of sent) assert.equal((await post(brokerPath, s.headers, s.data)).status, 202, s.id);
    // Structured: JSON data of 36 KiB with odd spacing must keep its exact text.
    const jsonData = `{ "items" : [${Array.from({ length: 1500 }, (_, i) => ` {"n": ${i} ,"s":"é${i}"}`).join(',')}] }`;
    assert.ok(Buffer.byteLength(jsonData) > 36 * KiB);
    const structuredBody = `{"specversion":"1.0","id":"structured-36k","source":"/s","type":"t","datacontenttype":"application/json","data":${jsonData}}`;
    assert.equal((await post(brokerPath, { 'content-type': 'application/cloudevents+json' }, structuredBody)).status, 202);

    const records = await readAll(log, topic);
    assert.equal(records.length, 3);
    const byId = new Map(records.map((r) => [r.headers['ce_id']?.toString(), r]));
    for (const s of sent) {
      const record = byId.get(s.id)!;
      assert.ok(record.value!.equals(s.data), `${s.id}: the record value is the body, byte for byte`);
      // And back out to HTTP, as the dispatcher will deliver it.
      const decoded = fromKafkaRecord(record);
      assert.ok(decoded.ok);
      const message = encodeHttpBinary(decoded.event);
      assert.ok(message.body!.equals(s.data), `${s.id}: delivered body is byte for byte the same`);
      const again = decodeHttp(message.headers, message.body!);
      assert.ok(again.ok && again.events[0]!.data!.equals(s.data));
    }
    assert.equal(byId.get('structured-36k')!.value!.toString('utf8'), jsonData, 'structured JSON data keeps its exact text');
  });
});

/** The pid of the JVM that startKafka spawned for this log file (its work dir is in the command line). */
function jvmPid(logFile: string): number {
  const workDir = path.dirname(logFile);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(`-Dkafka.logs.dir=${workDir}`) && cmdline.includes('kafka.Kafka')) return Number(entry);
    } catch {
      // the process ended meanwhile
    }
  }
  throw new Error(`no Kafka JVM found for ${workDir}`);
}

describe('Kafka unavailable', () => {
  test('POSTs get 503 while Kafka cannot take writes; nothing 202\'d is lost or half-written', { timeout: 240_000 }, async (t) => {
    const kafka = await startOwnKafka({ heapMb: 384 });
    const pid = jvmPid(kafka.logFile);
    let frozen = false;
    t.after(async () => {
      if (frozen) process.kill(pid, 'SIGCONT');
      await kafka.stop();
    });
    const log = new KafkaEventLog({ brokers: [kafka.bootstrapServers], clientId: 'ingress-outage', logger: silentLogger(), appendTimeoutMs: 2000 });
    t.after(() => log.close());
    const name = uniqueName('outage').toLowerCase();
    const broker = makeBroker(name, [], {}, 'ns');
    await log.ensureTopic(broker.topics[0]!, { partitions: 3, replicationFactor: 1 });
    const { post, path: brokerPath, topic, ingress } = await startTestIngress(t, log, { resources: [broker], config: { retryAfterSeconds: 3 } });

    const acknowledged = new Set<string>();
    const refused = new Set<string>();
    const postOne = async (id: string): Promise<number> => {
      const reply = await post(brokerPath, ceHeaders({ 'ce-id': id, 'ce-partitionkey': `k${id.length % 5}` }), JSON.stringify({ id, pad: 'x'.repeat(200) }));
      if (reply.status === 202) acknowledged.add(id);
      if (reply.status === 503) {
        assert.equal(reply.headers['retry-after'], '3');
        refused.add(id);
      }
      return reply.status;
    };

    for (let i = 0; i < 20; i++) assert.equal(await postOne(`before-${i}`), 202);

    // Frozen: connections stay open and nothing answers.
    process.kill(pid, 'SIGSTOP');
    frozen = true;
    const during = await Promise.all(Array.from({ length: 10 }, (_, i) => postOne(`during-${i}`)));
    assert.deepEqual(during, Array(10).fill(503), 'every POST during the outage is refused, none acknowledged');
    const readyz = await fetch(`${ingress.url}/readyz`);
    assert.equal(readyz.status, 503, 'not ready while the log is unreachable');

    process.kill(pid, 'SIGCONT');
    frozen = false;
    // Back: new POSTs are acknowledged again (the client may need a reconnect or two).
    await waitUntil(async () => (await postOne(`after-${acknowledged.size}`)) === 202, { timeoutMs: 60_000, intervalMs: 500, message: 'a 202 once Kafka is back' });
    for (let i = 0; i < 10; i++) assert.equal(await postOne(`after-more-${i}`), 202);

    const records = await readAll(log, topic);
    const onTopic = new Map<string, number>();
    for (const record of records) {
      const decoded = fromKafkaRecord(record);
      assert.ok(decoded.ok, 'every record on the topic is a whole, valid event');
      const id = String(decoded.event.attributes['id']);
      assert.deepEqual(JSON.parse(decoded.event.data!.toString()), { id, pad: 'x'.repeat(200) }, `${id}: data whole`);
      onTopic.set(id, (onTopic.get(id) ?? 0) + 1);
    }
    for (const id of acknowledged) assert.ok(onTopic.has(id), `${id} was acknowledged, so it must be on the topic`);
    for (const id of onTopic.keys()) assert.ok(acknowledged.has(id) || refused.has(id), `${id} on the topic was sent by this test`);
    // A refused event may still have reached Kafka (at least once); the producer's retry then
    // makes a duplicate, never a loss.
    t.diagnostic(`acknowledged ${acknowledged.size}, refused ${refused.size}, refused but written anyway ${[...refused].filter((id) => onTopic.has(id)).length}`);

    // Stopped for good: the same answer.
    await kafka.stop();
    const afterStop = await Promise.all(Array.from({ length: 3 }, (_, i) => postOne(`stopped-${i}`)));
    assert.deepEqual(afterStop, [503, 503, 503]);
  });
});
