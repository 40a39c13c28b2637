import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { kafkaEventLog } from '../helpers/kafka.js';
import { decodeHttp } from '../../core/cloudevents/http-binding.js';
import { answer, startSubscriber, type Subscriber } from '../helpers/servers.js';
import { suiteTeardown } from '../helpers/suite.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { brokerManifest, manifestsFolder, readyOf, startBroker, triggerManifest, type BrokerProcess } from './start-cli.js';

/**
 * KafkaSource through `kafka-broker start` on real Kafka, as a user runs it: topics filled by a
 * plain producer (records that are not CloudEvents, and some that are), read by sources:
 *
 *   producer ──1 raw records──▶ topic <ns>-raw ──2 KafkaSource "raw" (int keys, earliest)──▶ /raw
 *                                   └──────────3 KafkaSource "late" (latest)──────────────────▶ /late
 *   producer ──4 records──▶ topic <ns>-orders ──5 KafkaSource "to-broker"──▶ Broker ──trigger──▶ /orders
 *                                   └──────────6 KafkaSource "failing" ──▶ /fail (500) ──retries──▶ /dls
 */

const kafkaServers = process.env['KAFKA_BOOTSTRAP_SERVERS'];
const SOURCES = 'sources.knative.dev/v1beta1';

describe('KafkaSource through kafka-broker start on Kafka', { timeout: 300_000 }, () => {
  if (!kafkaServers) throw new Error('KAFKA_BOOTSTRAP_SERVERS is not set: run with `npm test`, or start Kafka with `npm run kafka`');
  const ns = uniqueName('ks');
  const raw = `${ns}-raw`;
  const orders = `${ns}-orders`;
  const wait = { timeoutMs: 90_000, intervalMs: 100 };
  const t = suiteTeardown();
  const log = kafkaEventLog(t, 'kafka-source-test');
  let sub: Subscriber;
  let broker: BrokerProcess;
  // A delivery that is no valid CloudEvent is a failure, not nothing: say so at once.
  const at = (path: string) => sub.requests.filter((r) => r.url === path).flatMap((r) => {
    const decoded = decodeHttp(r.headers, r.body);
    if (!decoded.ok) throw new assert.AssertionError({ message: `an invalid CloudEvent at ${path}: ${decoded.error.message}` });
    return decoded.events;
  });
  const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
  const source = (name: string, topic: string, spec: Record<string, unknown>, labels: Record<string, string> = {}) => ({
    apiVersion: SOURCES, kind: 'KafkaSource', metadata: { name, namespace: ns, labels }, spec: { topics: [topic], bootstrapServers: kafkaServers.split(','), ...spec },
  });

  before(async () => {
    sub = await startSubscriber(t);
    sub.respond(async (request, response) => answer(response, request.url === '/fail' ? 500 : 200));
    await log.ensureTopic(raw, { partitions: 1, replicationFactor: 1 });
    await log.ensureTopic(orders, { partitions: 1, replicationFactor: 1 });
    // Written before any source exists: "raw" (earliest) reads them, "late" (latest) does not.
    await log.append(raw, [{ key: int32(7), value: Buffer.from('{"n":1}'), headers: { 'content-type': Buffer.from('application/json'), 'X-Trace_Id': Buffer.from('abc') } }]);
    await log.append(raw, [{ key: null, value: Buffer.from('{"n":2}'), headers: { ce_specversion: Buffer.from('1.0'), ce_id: Buffer.from('ce-2'), ce_source: Buffer.from('/producer'), ce_type: Buffer.from('com.example.n') } }]);
    const folder = await manifestsFolder(t);
    await folder.write('all.yaml', [
      brokerManifest(ns, 'default'),
      triggerManifest(ns, 'orders', { subscriber: { uri: `${sub.url}/orders` }, filter: { attributes: { type: 'dev.knative.kafka.event' } } }),
      source('raw', raw, { initialOffset: 'earliest', sink: { uri: `${sub.url}/raw` }, ceOverrides: { extensions: { team: 'billing' } } }, { 'kafkasources.sources.knative.dev/key-type': 'int' }),
      source('late', raw, { sink: { uri: `${sub.url}/late` } }),
      source('to-broker', orders, { initialOffset: 'earliest', sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default' } } }),
      source('failing', orders, { initialOffset: 'earliest', sink: { uri: `${sub.url}/fail` }, delivery: { retry: 1, backoffDelay: 'PT0.05S', deadLetterSink: { uri: `${sub.url}/dls` } } }),
      source('missing', `${ns}-nothing`, { sink: { uri: `${sub.url}/nothing` } }),
    ]);
    broker = await startBroker(t, { manifests: folder.dir, env: { KAFKA_BOOTSTRAP_SERVERS: kafkaServers } });
    await waitUntil(async () => {
      const list = JSON.parse((await broker.get('kafkasources', '-n', ns, '-o', 'json')).stdout) as { items: { metadata: { name: string } }[] };
      return ['raw', 'late', 'to-broker', 'failing'].every((n) => readyOf(list.items.find((i) => i.metadata.name === n) as never)?.status === 'True');
    }, { ...wait, message: 'the sources Ready' });
    await log.append(raw, [{ key: int32(8), value: Buffer.from('{"n":3}') }]);
    await log.append(orders, [{ key: Buffer.from('o-1'), value: Buffer.from('{"order":1}'), headers: { 'content-type': Buffer.from('application/json') } }]);
  });

  test('raw records become dev.knative.kafka.event; CloudEvents pass through; earliest reads the history', async () => {
    await waitUntil(() => at('/raw').length >= 3, { ...wait, message: '3 events at /raw' });
    const [first, second, third] = at('/raw');
    assert.equal(first!.attributes['type'], 'dev.knative.kafka.event');
    assert.equal(first!.attributes['source'], `/apis/v1/namespaces/${ns}/kafkasources/raw#${raw}`);
    assert.equal(first!.attributes['id'], 'partition:0/offset:0');
    assert.equal(first!.attributes['subject'], 'partition:0#0');
    assert.equal(String(first!.attributes['key']), '7');
    assert.equal(first!.attributes['kafkaheaderxtraceid'], 'abc');
    assert.equal(first!.attributes['team'], 'billing');
    assert.equal(first!.data?.toString(), '{"n":1}');
    assert.equal(second!.attributes['id'], 'ce-2');
    assert.equal(second!.attributes['team'], 'billing');
    assert.equal(String(third!.attributes['key']), '8');
  });

  test('latest starts at the end: only what came after Ready', async () => {
    await waitUntil(() => at('/late').length >= 1, { ...wait, message: 'an event at /late' });
    const late = at('/late');
    assert.deepEqual(late.map((e) => e.attributes['id']), ['partition:0/offset:2']);
    // No key-type label: the key is read as text, and a binary int is no text, so it goes base64.
    assert.equal(late[0]!.attributes['key'], 'AAAACA==');
  });

  test('into a Broker, then routed by a trigger', async () => {
    await waitUntil(() => at('/orders').length >= 1, { ...wait, message: 'an event at /orders' });
    assert.equal(at('/orders')[0]!.attributes['source'], `/apis/v1/namespaces/${ns}/kafkasources/to-broker#${orders}`);
  });

  test('a failing sink is retried, then the event is dead-lettered', async () => {
    await waitUntil(() => at('/dls').length >= 1, { ...wait, message: 'a dead letter' });
    assert.equal(at('/fail').length, 2);
    assert.equal(at('/dls')[0]!.attributes['knativeerrorcode'], '500');
  });

  test('a missing topic is said on the status', async () => {
    const list = JSON.parse((await broker.get('kafkasources', '-n', ns, '-o', 'json')).stdout) as { items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string; reason?: string }[] } }[] };
    const missing = list.items.find((i) => i.metadata.name === 'missing');
    assert.equal(missing?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'TopicsNotPresentOrInvalid');
  });
});
