/**
 * `kafka-broker start` against a real secured Kafka (its own, started for this file): over
 * SASL_SSL with SCRAM-SHA-512 from a folder laid out as Knative's auth Secret, and over mTLS from
 * KAFKA_SECURITY_* variables naming files, an event goes in at the ingress and out at a
 * subscriber. A wrong password and an unknown CA stop start-up with one line saying why.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { decodeRequest, startSubscriber } from '../helpers/servers.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { silentLogger } from '../../core/logger.js';
import { kafkaBootstrapServers } from '../helpers/kafka.js';
import { saslSslSecret, scramSsl, secretFolder, secretRoot, startSecuredKafka } from '../helpers/secured-kafka.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { brokerManifest, manifestsFolder, readyOf, runCli, startBroker, triggerManifest, type BrokerProcess, type KnList } from './start-cli.js';

const kafka = await startSecuredKafka();
const { pki, users } = kafka;

/** Waits until the first object of a kind in a namespace is Ready, as `kafka-broker get` shows it. */
async function waitReady(broker: BrokerProcess, plural: string, ns: string, message: string): Promise<void> {
  await waitUntil(async () => {
    const list = JSON.parse((await broker.get(plural, '-n', ns, '-o', 'json')).stdout) as KnList;
    return readyOf(list.items[0])?.status === 'True';
  }, { timeoutMs: 90_000, intervalMs: 200, message });
}

/** POSTs a binary-mode event to an ingress path; it must be accepted. */
async function post(url: string, id: string, type: string, body: string): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/test', 'ce-type': type, 'content-type': 'application/json' },
    body,
  });
  assert.equal(response.status, 202, await response.text());
}

/** A client on the secured cluster and one on the plain one, to see where a topic landed. */
function bothClusters(t: TestContext, clientId: string): { onSecured: KafkaEventLog; onPlain: KafkaEventLog } {
  const onSecured = new KafkaEventLog({ brokers: [kafka.saslSsl], clientId, logger: silentLogger(), security: scramSsl(kafka) });
  const onPlain = new KafkaEventLog({ brokers: kafkaBootstrapServers(), clientId, logger: silentLogger() });
  t.after(async () => {
    await onSecured.close();
    await onPlain.close();
  });
  return { onSecured, onPlain };
}

async function roundTrip(t: TestContext, brokers: string, options: { args?: string[]; env?: Record<string, string> }): Promise<void> {
  const ns = uniqueName('secured');
  const folder = await manifestsFolder(t);
  const sub = await startSubscriber(t);
  await folder.write('broker.yaml', [brokerManifest(ns, 'default'), triggerManifest(ns, 'all', { subscriber: { uri: `${sub.url}/all` } })]);
  const broker = await startBroker(t, {
    manifests: folder.dir,
    args: ['--kafka', brokers, ...(options.args ?? [])],
    env: { KAFKA_BOOTSTRAP_SERVERS: '', CONTROLLER_TOPIC_PARTITIONS: '1', ...options.env },
  });
  assert.match(broker.stderr(), new RegExp(`Kafka at ${brokers}`));
  await waitReady(broker, 'triggers', ns, 'the trigger Ready');
  await post(`${broker.ingressUrl}/${ns}/default`, 'secured-1', 'com.example.secured', '{"over":"tls"}');
  const delivered = await waitUntil(() => sub.requests.find((r) => r.url === '/all'), { timeoutMs: 60_000, message: 'the delivery' });
  assert.equal(decodeRequest(delivered)[0]?.attributes['id'], 'secured-1');
  assert.equal(await broker.stop(), 0);
}

describe('kafka-broker start on a secured Kafka', { timeout: 300_000 }, () => {
  test('SASL_SSL with SCRAM-SHA-512, credentials from a folder laid out as the Knative Secret', async (t) => {
    const dir = await secretFolder(t, saslSslSecret(kafka, { password: `${users.scramSha512.password}\n` }));
    await roundTrip(t, kafka.saslSsl, { args: ['--kafka-auth-dir', dir] });
  });

  test('mTLS, from KAFKA_SECURITY_PROTOCOL and files named in the environment', async (t) => {
    await roundTrip(t, kafka.mtls, {
      env: { KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_TLS_CA_FILE: pki.caFile, KAFKA_TLS_CERT_FILE: pki.client.certFile, KAFKA_TLS_KEY_FILE: pki.client.keyFile },
    });
  });

  test('a wrong password or an unknown CA stops start-up with one line', async (t) => {
    const folder = await manifestsFolder(t);
    const wrong = await secretFolder(t, saslSslSecret(kafka, { password: 'wrong' }));
    const unknownCa = await secretFolder(t, saslSslSecret(kafka, { ca: pki.otherCa }));
    const cases = [
      { dir: wrong, line: /^kafka-broker start: Kafka at \S+ \(from --kafka\) refused us: cannot connect to Kafka: SASL authentication failed \(check user, password and sasl\.mechanism\)$/ },
      { dir: unknownCa, line: /^kafka-broker start: Kafka at \S+ \(from --kafka\) refused us: .*TLS failed: the broker's certificate is not signed by a trusted CA \(check ca\.crt\)/ },
    ];
    for (const { dir, line } of cases) {
      const started = Date.now();
      const result = await runCli(['start', '--manifests', folder.dir, '--port', '0', '--admin-port', '0', '--kafka', kafka.saslSsl, '--kafka-auth-dir', dir], { KAFKA_BOOTSTRAP_SERVERS: '' });
      assert.equal(result.code, 1);
      const lines = result.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, line);
      assert.ok(Date.now() - started < 30_000, 'no hang');
    }
  });

  test('a Broker whose ConfigMap names the secured cluster: the process on the plain one, credentials from --kafka-auth-root', async (t) => {
    const ns = uniqueName('own-cluster');
    const root = await secretRoot(t, ns, 'kafka-auth', saslSslSecret(kafka));
    const folder = await manifestsFolder(t);
    const sub = await startSubscriber(t);
    const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kafka-broker-config', namespace: ns }, data: { 'bootstrap.servers': kafka.saslSsl, 'auth.secret.ref.name': 'kafka-auth' } };
    await folder.write('broker.yaml', [
      configMap,
      brokerManifest(ns, 'default', { config: { apiVersion: 'v1', kind: 'ConfigMap', name: 'kafka-broker-config' } }),
      triggerManifest(ns, 'all', { subscriber: { uri: `${sub.url}/all` } }),
    ]);
    const plain = kafkaBootstrapServers().join(',');
    const broker = await startBroker(t, { manifests: folder.dir, args: ['--kafka', plain, '--kafka-auth-root', root], env: { KAFKA_BOOTSTRAP_SERVERS: '', CONTROLLER_TOPIC_PARTITIONS: '1' } });
    await waitReady(broker, 'triggers', ns, 'the trigger Ready');
    await post(`${broker.ingressUrl}/${ns}/default`, 'own-1', 'com.example.own', '{}');
    const delivered = await waitUntil(() => sub.requests.find((r) => r.url === '/all'), { timeoutMs: 60_000, message: 'the delivery' });
    assert.equal(decodeRequest(delivered)[0]?.attributes['id'], 'own-1');
    const topic = `knative-broker-${ns}-default`;
    const { onSecured, onPlain } = bothClusters(t, 'own-cluster-check');
    assert.deepEqual(await onSecured.describeTopic(topic), { name: topic, partitions: 1 });
    assert.equal(await onPlain.describeTopic(topic), undefined);
    assert.equal(await broker.stop(), 0);
  });

  test('a KafkaSink naming the secured cluster and its Secret (spec.auth): credentials from --kafka-auth-root, the event lands there', async (t) => {
    const ns = uniqueName('sink-cluster');
    const root = await secretRoot(t, ns, 'sink-auth', saslSslSecret(kafka, { mechanism: 'SCRAM-SHA-256' }));
    const folder = await manifestsFolder(t);
    const topic = `${ns}-sink`;
    await folder.write('sink.yaml', [{
      apiVersion: 'eventing.knative.dev/v1alpha1', kind: 'KafkaSink', metadata: { name: 'secured', namespace: ns },
      spec: { topic, bootstrapServers: [kafka.saslSsl], numPartitions: 1, replicationFactor: 1, auth: { secret: { ref: { name: 'sink-auth' } } } },
    }]);
    const broker = await startBroker(t, { manifests: folder.dir, args: ['--kafka', kafkaBootstrapServers().join(','), '--kafka-auth-root', root], env: { KAFKA_BOOTSTRAP_SERVERS: '' } });
    await waitReady(broker, 'kafkasinks', ns, 'the KafkaSink Ready');
    await post(`${broker.ingressUrl}/sinks/${ns}/secured`, 'sink-1', 'com.example.sink', '{"n":1}');
    const { onSecured, onPlain } = bothClusters(t, 'sink-cluster-check');
    const ids: string[] = [];
    for await (const record of onSecured.read(topic)) ids.push(record.headers['ce_id']?.toString('utf8') ?? '');
    assert.deepEqual(ids, ['sink-1']);
    assert.equal(await onPlain.describeTopic(topic), undefined);
    assert.equal(await broker.stop(), 0);
  });

  test('a bad credentials setting is one line before Kafka is contacted', async (t) => {
    const folder = await manifestsFolder(t);
    const result = await runCli(['start', '--manifests', folder.dir, '--kafka', kafka.saslSsl], { KAFKA_BOOTSTRAP_SERVERS: '', KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USER: 'x' });
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trimEnd(), 'kafka-broker start: Kafka credentials: KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_USER: password is required with protocol SASL_SSL');
  });
});
