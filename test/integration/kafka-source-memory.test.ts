import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { decodeHttp } from '../../core/cloudevents/http-binding.js';
import { answer, startSubscriber, type Subscriber } from '../helpers/servers.js';
import { suiteTeardown } from '../helpers/suite.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { brokerManifest, manifestsFolder, readyOf, startBroker, triggerManifest, type BrokerProcess, type KnList, type ManifestsFolder } from './start-cli.js';

/**
 * KafkaSource through `kafka-broker start` on the in-memory log. Nothing but the broker writes
 * that log, so the topics are filled through it: KafkaSinks write CloudEvents (binary and
 * structured records) into topics the sources read.
 *
 *   POST ──▶ KafkaSink "bin" ──▶ topic <ns>-bin ──KafkaSource "early" (earliest)──▶ /early
 *                                     ├──────────KafkaSource "late" (latest)──────▶ /late
 *                                     └──────────KafkaSource "failing"──▶ /fail (500) ──▶ /dls
 *   POST ──▶ KafkaSink "st" (structured) ──▶ topic <ns>-st ──KafkaSource "to-broker"──▶ Broker ──trigger──▶ /orders
 *
 * Raw records (no CloudEvent) and Kafka headers of a producer's own cannot be written here: the
 * Kafka test (kafka-source-e2e) has them.
 */

const SOURCES = 'sources.knative.dev/v1beta1';

describe('KafkaSource through kafka-broker start on the in-memory log', { timeout: 120_000 }, () => {
  const ns = uniqueName('ksm');
  const wait = { timeoutMs: 20_000, intervalMs: 50 };
  const t = suiteTeardown();
  let sub: Subscriber;
  let broker: BrokerProcess;
  let folder: ManifestsFolder;
  const at = (path: string) => sub.requests.filter((r) => r.url === path).flatMap((r) => {
    const decoded = decodeHttp(r.headers, r.body);
    if (!decoded.ok) throw new assert.AssertionError({ message: `an invalid CloudEvent at ${path}: ${decoded.error.message}` });
    return decoded.events;
  });
  const ids = (path: string) => at(path).map((e) => e.attributes['id']);
  const sink = (name: string, contentMode: string) => ({
    apiVersion: 'eventing.knative.dev/v1alpha1', kind: 'KafkaSink', metadata: { name, namespace: ns },
    spec: { topic: `${ns}-${name}`, numPartitions: 1, replicationFactor: 1, bootstrapServers: ['my-cluster-kafka-bootstrap.kafka:9092'], contentMode },
  });
  const source = (name: string, topic: string, spec: Record<string, unknown>) => ({
    apiVersion: SOURCES, kind: 'KafkaSource', metadata: { name, namespace: ns },
    spec: { topics: [`${ns}-${topic}`], bootstrapServers: ['my-cluster-kafka-bootstrap.kafka:9092'], ...spec },
  });
  const early = source('early', 'bin', { initialOffset: 'earliest', sink: { uri: '' }, ceOverrides: { extensions: { team: 'billing' } } });
  const sources = () => [
    source('late', 'bin', { sink: { uri: `${sub.url}/late` } }),
    source('to-broker', 'st', { initialOffset: 'earliest', sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default' } } }),
    source('failing', 'bin', { initialOffset: 'earliest', sink: { uri: `${sub.url}/fail` }, delivery: { retry: 1, backoffDelay: 'PT0.05S', deadLetterSink: { uri: `${sub.url}/dls` } } }),
  ];
  const withEarly = () => ({ ...early, spec: { ...early.spec, sink: { uri: `${sub.url}/early` } } });
  const post = async (sinkName: string, id: string, partitionKey: string) => {
    const response = await fetch(`${broker.ingressUrl}/sinks/${ns}/${sinkName}`, {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/producer', 'ce-type': 'com.example.order', 'ce-partitionkey': partitionKey, 'content-type': 'application/json' },
      body: JSON.stringify({ id }),
    });
    assert.ok(response.status < 300, `POST ${id} to ${sinkName}: ${response.status}`);
  };
  const sourceList = async () => JSON.parse((await broker.get('kafkasources', '-n', ns, '-o', 'json')).stdout) as KnList;
  const allReady = (names: readonly string[]) => waitUntil(async () => {
    const list = await sourceList();
    return names.every((n) => readyOf(list.items.find((i) => i.metadata.name === n))?.status === 'True');
  }, { ...wait, message: `${names.join(', ')} Ready` });

  before(async () => {
    sub = await startSubscriber(t);
    sub.respond(async (request, response) => answer(response, request.url === '/fail' ? 500 : 200));
    folder = await manifestsFolder(t);
    await folder.write('sinks.yaml', [
      sink('bin', 'binary'),
      sink('st', 'structured'),
      brokerManifest(ns, 'default'),
      triggerManifest(ns, 'orders', { subscriber: { uri: `${sub.url}/orders` }, filter: { attributes: { type: 'com.example.order' } } }),
    ]);
    broker = await startBroker(t, { manifests: folder.dir, env: { KAFKA_BOOTSTRAP_SERVERS: '' } });
    await waitUntil(async () => {
      const list = JSON.parse((await broker.get('kafkasinks', '-n', ns, '-o', 'json')).stdout) as KnList;
      return ['bin', 'st'].every((n) => readyOf(list.items.find((i) => i.metadata.name === n))?.status === 'True');
    }, { ...wait, message: 'the sinks Ready' });
    // Written before any source exists: earliest sources read them, "late" does not.
    await post('bin', 'e-1', 'k-1');
    await post('st', 's-1', 'k-s');
    await folder.write('sources.yaml', [withEarly(), ...sources()]);
    await allReady(['early', 'late', 'to-broker', 'failing']);
    await post('bin', 'e-2', 'k-2');
  });

  test('CloudEvents written in binary mode pass through; earliest reads the history', async () => {
    await waitUntil(() => ids('/early').length >= 2, { ...wait, message: '2 events at /early' });
    const [first, second] = at('/early');
    assert.deepEqual([first!.attributes['id'], second!.attributes['id']], ['e-1', 'e-2']);
    assert.equal(first!.attributes['source'], '/producer');
    assert.equal(first!.attributes['partitionkey'], 'k-1');
    assert.equal(first!.attributes['team'], 'billing');
    assert.equal(first!.data?.toString(), '{"id":"e-1"}');
    // get kafkasources shows each source's lag, as get triggers does.
    const table = (await broker.get('kafkasources', '-n', ns)).stdout;
    assert.match(table.split('\n')[0]!, /\bLAG\b/);
    await waitUntil(async () => /\searly\s.*\s0\s+\S+\s*$/m.test((await broker.get('kafkasources', '-n', ns)).stdout), { ...wait, message: 'early caught up: LAG 0' });
  });

  test('latest starts at the end: only what came after Ready', async () => {
    await waitUntil(() => ids('/late').length >= 1, { ...wait, message: 'an event at /late' });
    assert.deepEqual(ids('/late'), ['e-2']);
  });

  test('a structured record, into a Broker, then routed by a trigger', async () => {
    await waitUntil(() => ids('/orders').length >= 1, { ...wait, message: 'an event at /orders' });
    assert.deepEqual(ids('/orders'), ['s-1']);
    assert.equal(at('/orders')[0]!.data?.toString(), '{"id":"s-1"}');
  });

  test('a failing sink is retried, then the events are dead-lettered in order', async () => {
    await waitUntil(() => ids('/dls').length >= 2, { ...wait, message: '2 dead letters' });
    assert.deepEqual(ids('/dls'), ['e-1', 'e-2']);
    assert.deepEqual(ids('/fail'), ['e-1', 'e-1', 'e-2', 'e-2']);
    assert.equal(at('/dls')[0]!.attributes['knativeerrorcode'], '500');
  });

  test('a source deleted and created again starts at its initialOffset again (its group went with it)', async () => {
    await waitUntil(() => ids('/early').length >= 2, { ...wait, message: '2 events at /early' });
    await folder.write('sources.yaml', sources());
    await waitUntil(async () => (await sourceList()).items.every((i) => i.metadata.name !== 'early'), { ...wait, message: 'early gone' });
    // Its group is deleted once the dispatcher has let go (a later pass if Kafka refuses at first):
    // created again before that, the source would find its old position (see the report of issue 22).
    await waitUntil(() => /consumer group knative-kafka-source-\S+ deleted/.test(broker.stderr()), { ...wait, message: "early's consumer group deleted" });
    await post('bin', 'e-3', 'k-3');
    await folder.write('sources.yaml', [withEarly(), ...sources()]);
    await allReady(['early']);
    await waitUntil(() => ids('/early').length >= 5, { ...wait, message: '5 events at /early' });
    assert.deepEqual(ids('/early'), ['e-1', 'e-2', 'e-1', 'e-2', 'e-3']);
  });
});
