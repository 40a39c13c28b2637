// A Broker on a Kafka cluster of its own, in Kubernetes mode, against the test harness's real
// kube-apiserver and a secured Kafka (SASL_SSL, SCRAM-SHA-512): its config ConfigMap names the
// cluster (`bootstrap.servers`) and a Secret (`auth.secret.ref.name`); the controller reads that
// Secret through the API and creates the topic there, a missing or bad Secret shows in the
// Broker's status, and the data plane (credentials as files under a root, one folder per
// Secret) carries events on that cluster while the controller's own cluster stays untouched.
// A KafkaSink does the same with its own spec.bootstrapServers and spec.auth.secret.ref.name, and
// KafkaChannels with the cluster and Secret of Knative Kafka's kafka-channel-config ConfigMap.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { startIngress, type RunningIngress } from '../../broker-ingress/main.js';
import { loadConfig } from '../../core/config.js';
import { HttpContractSource } from '../../core/contract/http-source.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import { EventLogClusters, type OpenClusterLog } from '../../core/event-log/clusters.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { kafkaAuthFromRoot } from '../../core/kafka-auth.js';
import { silentLogger } from '../../core/logger.js';
import { dispatcherConfigSchema } from '../../dispatcher/config.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/main.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http.js';
import { kafkaBootstrapServers } from '../helpers/kafka.js';
import { startTestKube } from '../helpers/kube.js';
import { saslSslSecret, scramSsl, startSecuredKafka, writeSecretKeys } from '../helpers/secured-kafka.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import {
  BROKERS, SYSTEM_NAMESPACE, TRIGGERS, broker, create, ensureNamespace, startController, testConfig, trigger, waitForReady, waitGone, type RunningController,
} from './k8s-harness.js';

const kube = await startTestKube();
await ensureNamespace(kube, SYSTEM_NAMESPACE);
const secured = await startSecuredKafka();
const security = scramSsl(secured);

const openCluster: OpenClusterLog = (ref, s) => new KafkaEventLog({ brokers: [...ref.bootstrapServers], clientId: 'k8s-clusters-test', logger: silentLogger(), security: s });

describe('a Broker on a secured Kafka cluster of its own (Kubernetes mode)', { timeout: 300_000 }, () => {
  const ns = uniqueName('k8s-clusters').toLowerCase();
  const configName = uniqueName('kafka-broker-config').toLowerCase();
  const secretName = uniqueName('kafka-auth').toLowerCase();
  const topic = `knative-broker-${ns}-orders`;
  const wait = { timeoutMs: 90_000, intervalMs: 200 };
  const SECRETS = `/api/v1/namespaces/${SYSTEM_NAMESPACE}/secrets`;
  const SINKS = `/apis/eventing.knative.dev/v1alpha1/namespaces/${ns}/kafkasinks`;
  const sinkSecret = uniqueName('sink-auth').toLowerCase();
  const sinkTopic = `${ns}-sink-topic`;
  let root: string;
  let base: KafkaEventLog;
  let securedAdmin: KafkaEventLog;
  let running: RunningController;
  let ingress: RunningIngress;
  let dispatcher: RunningDispatcher;
  let contracts: HttpContractSource;
  let subscriber: RecordingServer;
  const closers: (() => Promise<unknown>)[] = [];

  const topicReady = async (): Promise<{ status: string; reason?: string; message?: string } | undefined> => {
    const { body } = await kube.get(BROKERS(ns, 'orders'));
    return (body?.status?.conditions ?? []).find((c: { type: string }) => c.type === 'TopicReady');
  };

  /** Waits for a topic to be deleted there, asking with a client of its own (securedAdmin keeps partition counts a while). */
  const goneFromSecured = async (name: string): Promise<void> => {
    const fresh = new KafkaEventLog({ brokers: [secured.saslSsl], clientId: 'k8s-clusters-deleted', logger: silentLogger(), security });
    try {
      await waitUntil(async () => ((await fresh.describeTopic(name)) === undefined ? true : undefined), { ...wait, message: `${name} deleted on the secured cluster` });
    } finally {
      await fresh.close();
    }
  };

  before(async () => {
    await ensureNamespace(kube, ns);
    // The data plane's credentials: the Secret's keys as files, <root>/<namespace>/<name>/<key>.
    root = await mkdtemp(join(tmpdir(), 'kafka-auth-root-'));
    await writeSecretKeys(join(root, SYSTEM_NAMESPACE, secretName), saslSslSecret(secured));
    // The KafkaSink's Secret, in its own namespace (SCRAM-SHA-256 this time).
    await writeSecretKeys(join(root, ns, sinkSecret), saslSslSecret(secured, { mechanism: 'SCRAM-SHA-256' }));

    base = new KafkaEventLog({ brokers: kafkaBootstrapServers(), clientId: 'k8s-clusters-test', logger: silentLogger() });
    securedAdmin = new KafkaEventLog({ brokers: [secured.saslSsl], clientId: 'k8s-clusters-check', logger: silentLogger(), security });
    subscriber = await startRecordingServer();
    const relay = new InProcessContractSource();
    const dataPlaneClusters = (): EventLogClusters => new EventLogClusters(base, openCluster, (secret) => kafkaAuthFromRoot(root, secret));
    ingress = await startIngress({ config: loadConfig(ingressConfigSchema, { host: '127.0.0.1', port: 0 }), log: base, clusters: dataPlaneClusters(), contracts: relay, logger: silentLogger() });
    running = await startController(undefined, {
      kube,
      log: base,
      openCluster,
      config: testConfig({ ingressUrl: ingress.url, kafkaBootstrapServers: kafkaBootstrapServers(), topicPartitions: 1 }),
    });
    contracts = new HttpContractSource({ url: `${running.adminUrl}/contract`, logger: silentLogger(), timeoutSeconds: 5, retryMinMs: 50, retryMaxMs: 500, token: () => kube.server.token }).start();
    contracts.subscribe((contract) => relay.publish(contract));
    dispatcher = await startDispatcher({
      config: dispatcherConfigSchema.parse({ shutdownDeadlineMs: 2000, egressRestartBackoffMs: 300, commitIntervalMs: 200 }),
      log: base,
      clusters: dataPlaneClusters(),
      contracts,
      logger: silentLogger(),
    });
    closers.push(() => dispatcher.close(), () => contracts.close(), () => running.close(), () => ingress.close(), () => subscriber.close(), () => securedAdmin.close(), () => base.close());
  });

  after(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  test('a missing Secret, then a bad one, is TopicReady False with reason KafkaAuthSecretInvalid', async () => {
    await create(kube, `/api/v1/namespaces/${SYSTEM_NAMESPACE}/configmaps`, {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: configName, namespace: SYSTEM_NAMESPACE },
      data: { 'bootstrap.servers': secured.saslSsl, 'auth.secret.ref.name': secretName, 'default.topic.partitions': '1' },
    });
    await create(kube, BROKERS(ns), broker(ns, 'orders', { config: { apiVersion: 'v1', kind: 'ConfigMap', name: configName, namespace: SYSTEM_NAMESPACE } }));
    const missing = await waitUntil(async () => {
      const c = await topicReady();
      return c?.reason === 'KafkaAuthSecretInvalid' ? c : undefined;
    }, { ...wait, message: 'TopicReady False for the missing Secret' });
    assert.equal(missing.status, 'False');
    assert.equal(missing.message, `cannot use topic ${topic}: Secret ${SYSTEM_NAMESPACE}/${secretName} not found (named by auth.secret.ref.name)`);
    assert.equal((await waitForReady(kube, BROKERS(ns, 'orders'), 'False')).status, 'False');

    // A Secret without its password: the same reason, naming the key.
    await create(kube, SECRETS, {
      apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName, namespace: SYSTEM_NAMESPACE },
      stringData: { protocol: 'SASL_SSL', 'sasl.mechanism': 'SCRAM-SHA-512', user: secured.users.scramSha512.username, 'ca.crt': secured.pki.ca },
    });
    const bad = await waitUntil(async () => {
      const c = await topicReady();
      return c?.message?.includes('password is required') === true ? c : undefined;
    }, { ...wait, message: 'TopicReady False for the bad Secret' });
    assert.deepEqual({ status: bad.status, reason: bad.reason }, { status: 'False', reason: 'KafkaAuthSecretInvalid' });
    assert.equal(bad.message, `cannot use topic ${topic}: Secret ${SYSTEM_NAMESPACE}/${secretName}: password is required with protocol SASL_SSL`);
  });

  test('with the Secret fixed the topic is created on that cluster, not the controller\'s, and events flow there', async () => {
    const fixed = await kube.patch(`${SECRETS}/${secretName}`, { stringData: { password: secured.users.scramSha512.password } });
    assert.equal(fixed.status, 200, JSON.stringify(fixed.body));
    await waitForReady(kube, BROKERS(ns, 'orders'), 'True', wait.timeoutMs);
    assert.equal((await topicReady())?.status, 'True');
    assert.deepEqual(await securedAdmin.describeTopic(topic), { name: topic, partitions: 1 });
    assert.equal(await base.describeTopic(topic), undefined, 'nothing on the controller\'s own cluster');

    await create(kube, TRIGGERS(ns), trigger(ns, 'all', 'orders', { uri: `${subscriber.url}/all` }));
    await waitForReady(kube, TRIGGERS(ns, 'all'), 'True', wait.timeoutMs);
    const id = uniqueName('evt');
    await waitUntil(async () => {
      const response = await fetch(`${ingress.url}/${ns}/orders`, {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/shop', 'ce-type': 'order.created', 'content-type': 'application/json' },
        body: '{}',
      });
      return response.status === 202 ? true : undefined;
    }, { ...wait, message: 'the ingress to take the event' });
    await waitUntil(() => (subscriber.requests.some((r) => r.url === '/all' && r.headers['ce-id'] === id) ? true : undefined), { ...wait, message: 'delivery from the secured cluster' });
    const onSecured: string[] = [];
    for await (const record of securedAdmin.read(topic)) onSecured.push(record.headers['ce_id']?.toString('utf8') ?? '');
    assert.ok(onSecured.includes(id), `the event is in ${topic} on the secured cluster`);
  });

  test("a KafkaSink naming the secured cluster and a missing Secret: Ready False, KafkaAuthSecretInvalid, and a Warning Event", async () => {
    await create(kube, SINKS, {
      apiVersion: 'eventing.knative.dev/v1alpha1', kind: 'KafkaSink', metadata: { name: 'secured', namespace: ns },
      spec: { topic: sinkTopic, bootstrapServers: [`SASL_SSL://${secured.saslSsl}`], numPartitions: 1, replicationFactor: 1, auth: { secret: { ref: { name: sinkSecret } } } },
    });
    const ready = await waitForReady(kube, `${SINKS}/secured`, 'False', wait.timeoutMs);
    assert.deepEqual({ reason: ready.reason, message: ready.message }, {
      reason: 'KafkaAuthSecretInvalid',
      message: `cannot use topic ${sinkTopic}: Secret ${ns}/${sinkSecret} not found (named by auth.secret.ref.name)`,
    });
    const { body } = await kube.get(`${SINKS}/secured`);
    assert.equal(body.status.address, undefined, 'no address while its topic cannot be made');
    await waitUntil(async () => {
      const events = await kube.get(`/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.name=secured`);
      return (events.body?.items ?? []).some((e: { type: string; reason: string }) => e.type === 'Warning' && e.reason === 'KafkaAuthSecretInvalid') ? true : undefined;
    }, { ...wait, message: 'a Warning Event on the KafkaSink' });
  });

  test('with its Secret (SASL_SSL, SCRAM-SHA-256) the KafkaSink is Ready and what it takes lands in its topic on the secured cluster', async () => {
    await create(kube, `/api/v1/namespaces/${ns}/secrets`, {
      apiVersion: 'v1', kind: 'Secret', metadata: { name: sinkSecret, namespace: ns },
      stringData: { protocol: 'SASL_SSL', 'sasl.mechanism': 'SCRAM-SHA-256', user: secured.users.scramSha256.username, password: secured.users.scramSha256.password, 'ca.crt': secured.pki.ca },
    });
    await waitForReady(kube, `${SINKS}/secured`, 'True', wait.timeoutMs);
    assert.deepEqual(await securedAdmin.describeTopic(sinkTopic), { name: sinkTopic, partitions: 1 });
    assert.equal(await base.describeTopic(sinkTopic), undefined, 'nothing on the controller\'s own cluster');
    const { body } = await kube.get(`${SINKS}/secured`);
    assert.equal(body.status.address.url, `${ingress.url}/sinks/${ns}/secured`);

    const id = uniqueName('sink-evt');
    await waitUntil(async () => {
      const response = await fetch(body.status.address.url, {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/shop', 'ce-type': 'order.created', 'content-type': 'application/json' },
        body: '{"total":3}',
      });
      return response.status === 202 ? true : undefined;
    }, { ...wait, message: 'the sink ingress to take the event' });
    const onSecured: { id: string; body: string }[] = [];
    for await (const record of securedAdmin.read(sinkTopic)) onSecured.push({ id: record.headers['ce_id']?.toString('utf8') ?? '', body: record.value?.toString('utf8') ?? '' });
    assert.deepEqual(onSecured.filter((r) => r.id === id), [{ id, body: '{"total":3}' }]);

    assert.equal((await kube.delete(`${SINKS}/secured`)).status, 200);
    await waitGone(kube, `${SINKS}/secured`, wait.timeoutMs);
    await goneFromSecured(sinkTopic);
  });

  test('KafkaChannels on the cluster kafka-channel-config names (Secret in another namespace): topic there, subscribers get the events', async () => {
    // The sink's Secret (SCRAM-SHA-256) is still there; the ConfigMap names it across namespaces.
    await create(kube, `/api/v1/namespaces/${SYSTEM_NAMESPACE}/configmaps`, {
      apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kafka-channel-config', namespace: SYSTEM_NAMESPACE },
      data: { 'bootstrap.servers': secured.saslSsl, 'auth.secret.ref.name': sinkSecret, 'auth.secret.ref.namespace': ns },
    });
    // Read by name every configMapRefreshMs: the channel should find it there from the start.
    await waitUntil(
      () => (running.controller.reconciler()?.objects().some((o) => o.kind === 'ConfigMap' && o.metadata.name === 'kafka-channel-config') === true ? true : undefined),
      { ...wait, message: 'the controller to read kafka-channel-config' },
    );
    const MESSAGING = `/apis/messaging.knative.dev/v1/namespaces/${ns}`;
    await create(kube, `/apis/messaging.knative.dev/v1beta1/namespaces/${ns}/kafkachannels`, {
      apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', metadata: { name: 'payments', namespace: ns }, spec: { numPartitions: 1, replicationFactor: 1 },
    });
    await create(kube, `${MESSAGING}/subscriptions`, {
      apiVersion: 'messaging.knative.dev/v1', kind: 'Subscription', metadata: { name: 'audit', namespace: ns },
      spec: { channel: { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', name: 'payments' }, subscriber: { uri: `${subscriber.url}/audit` } },
    });
    const channelPath = `/apis/messaging.knative.dev/v1beta1/namespaces/${ns}/kafkachannels/payments`;
    await waitForReady(kube, channelPath, 'True', wait.timeoutMs);
    await waitForReady(kube, `${MESSAGING}/subscriptions/audit`, 'True', wait.timeoutMs);
    const channelTopic = `knative-messaging-kafka.${ns}.payments`;
    assert.deepEqual(await securedAdmin.describeTopic(channelTopic), { name: channelTopic, partitions: 1 });
    assert.equal(await base.describeTopic(channelTopic), undefined, 'nothing on the controller\'s own cluster');

    const url = (await kube.get(channelPath)).body.status.address.url as string;
    const id = uniqueName('channel-evt');
    await waitUntil(async () => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/bank', 'ce-type': 'payment.made', 'content-type': 'application/json' },
        body: '{}',
      });
      return response.status === 202 ? true : undefined;
    }, { ...wait, message: 'the channel ingress to take the event' });
    await waitUntil(() => (subscriber.requests.some((r) => r.url === '/audit' && r.headers['ce-id'] === id) ? true : undefined), { ...wait, message: 'delivery from the channel on the secured cluster' });

    await kube.delete(`${MESSAGING}/subscriptions/audit`);
    await kube.delete(channelPath);
    await waitGone(kube, channelPath, wait.timeoutMs);
    await goneFromSecured(channelTopic);
  });

  test('deleting the Broker deletes its topic on that cluster', async () => {
    await kube.delete(TRIGGERS(ns, 'all'));
    await kube.delete(BROKERS(ns, 'orders'));
    await waitGone(kube, BROKERS(ns, 'orders'), wait.timeoutMs);
    await goneFromSecured(topic);
  });
});
