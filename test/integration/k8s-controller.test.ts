// The Kubernetes mode end to end, in one process against a real kube-apiserver (with etcd) and
// the event log (in memory, then the real Kafka): Knative objects are applied through the API
// server, the controller reconciles them and writes their status, and a data plane fetching its
// contract from the controller over HTTP carries events to subscribers.
//
//   test ──1 create Broker/Trigger──▶ kube-apiserver ──2 watch──▶ controller ──3 topic, groups──▶ event log
//        ◀─────────6 status (Ready)── kube-apiserver ◀──5 status── controller ──4 contract──▶ GET /contract
//   test ──7 POST /<ns>/<broker>──▶ ingress ──▶ topic ──▶ dispatcher ──8 filter, deliver──▶ subscriber
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { RunningIngress } from '../../broker-ingress/main.js';
import { FINALIZER } from '../../controller/kubernetes/objects.js';
import type { HttpContractSource } from '../../core/contract/http-source.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import type { EventLog } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import type { RunningDispatcher } from '../../dispatcher/main.js';
import { postEvent, receivedIds, startRecordingServer, type RecordingServer } from '../helpers/http.js';
import { kafkaBootstrapServers } from '../helpers/kafka.js';
import { startTestKube } from '../helpers/kube.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import {
  BROKERS, SYSTEM_NAMESPACE, TRIGGERS, broker, create, ensureNamespace, readyOf, trigger, waitForReady, waitGone,
  watchedLog, type LogCalls, type RunningController,
  startInProcessBroker,
} from './k8s-harness.js';

const kube = await startTestKube();
await ensureNamespace(kube, SYSTEM_NAMESPACE);

const kinds = [
  { name: 'memory', open: (): EventLog => new MemoryEventLog(), timeoutMs: 30_000 },
  { name: 'kafka', open: (): EventLog => new KafkaEventLog({ brokers: kafkaBootstrapServers(), clientId: 'k8s-test', logger: silentLogger() }), timeoutMs: 90_000 },
] as const;

/** Consumer groups that exist on the real Kafka (the memory log has no such question). */
async function kafkaGroups(): Promise<string[]> {
  const admin = new Kafka({ brokers: kafkaBootstrapServers(), clientId: 'k8s-test-admin', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.listGroups()).groups.map((g) => g.groupId);
  } finally {
    await admin.disconnect();
  }
}

for (const kind of kinds) {
  describe(`Kubernetes mode on the ${kind.name} log`, { timeout: 600_000 }, () => {
    const ns = uniqueName(`k8s-${kind.name}`).toLowerCase();
    const topic = `knative-broker-${ns}-orders`;
    const group = (trig: string): string => `knative-trigger-${ns}-${trig}`;
    const wait = { timeoutMs: kind.timeoutMs, intervalMs: 100 };
    let log: EventLog;
    let calls: LogCalls;
    let running: RunningController;
    let contracts: HttpContractSource;
    let ingress: RunningIngress;
    let dispatcher: RunningDispatcher;
    let subscriber: RecordingServer;
    let counter = 0;

    const idsAt = (path: string): string[] => receivedIds(subscriber, path);
    const send = async (type: string): Promise<string> => {
      const id = `${kind.name}-${++counter}`;
      const response = await postEvent(`${ingress.url}/${ns}/orders`, id, type);
      assert.equal(response.status, 202, await response.text());
      return id;
    };

    before(async () => {
      await ensureNamespace(kube, ns);
      ({ log, calls } = watchedLog(kind.open()));
      subscriber = await startRecordingServer();
      ({ ingress, running, contracts, dispatcher } = await startInProcessBroker(kube, log));
    });

    after(async () => {
      await dispatcher?.close();
      await ingress?.close();
      await contracts?.close();
      await running?.close();
      await subscriber?.close();
      await log?.close();
    });

    test('a Broker and its Triggers: a topic, Ready conditions with observedGeneration, and a finalizer', async () => {
      await create(kube, BROKERS(ns), broker(ns, 'orders'));
      await create(kube, TRIGGERS(ns), trigger(ns, 'created', 'orders', { uri: `${subscriber.url}/created` }, { attributes: { type: 'order.created' } }));
      await create(kube, TRIGGERS(ns), trigger(ns, 'all', 'orders', { uri: `${subscriber.url}/all` }));

      const ready = await waitForReady(kube, BROKERS(ns, 'orders'), 'True', wait.timeoutMs);
      assert.equal(ready.status, 'True');
      const { body } = await kube.get(BROKERS(ns, 'orders'));
      assert.equal(body.status.address.url, `${ingress.url}/${ns}/orders`);
      assert.equal(body.status.observedGeneration, body.metadata.generation);
      assert.ok(body.metadata.finalizers.includes(FINALIZER), `finalizers: ${JSON.stringify(body.metadata.finalizers)}`);
      const topicReady = body.status.conditions.find((c: { type: string }) => c.type === 'TopicReady');
      assert.equal(topicReady.status, 'True');
      assert.match(topicReady.message, new RegExp(topic));
      assert.deepEqual(await log.describeTopic(topic), { name: topic, partitions: 2 });

      for (const name of ['created', 'all']) {
        await waitForReady(kube, TRIGGERS(ns, name), 'True', wait.timeoutMs);
        const t = (await kube.get(TRIGGERS(ns, name))).body;
        assert.equal(t.status.subscriberUri, `${subscriber.url}/${name}`);
        assert.ok(t.metadata.finalizers.includes(FINALIZER));
      }
    });

    test('events sent to the ingress reach the subscribers whose filters match', async () => {
      // The data plane has the triggers once the contract it fetched has both egresses.
      await waitUntil(() => contracts.current()?.resources.find((r) => r.reference.namespace === ns)?.egresses.length === 2, { ...wait, message: 'contract with 2 egresses' });
      const created = await send('order.created');
      const shipped = await send('order.shipped');
      await waitUntil(() => idsAt('/all').includes(created) && idsAt('/all').includes(shipped) && idsAt('/created').includes(created), { ...wait, message: 'deliveries' });
      assert.ok(!idsAt('/created').includes(shipped), 'the filter of "created" keeps order.shipped out');
    });

    test("updating a Trigger's filter changes where events go", async () => {
      const patched = await kube.patch(TRIGGERS(ns, 'created'), { spec: { filter: { attributes: { type: 'order.shipped' } } } });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.metadata.generation, 2);
      await waitUntil(async () => (await readyOf(kube, TRIGGERS(ns, 'created')))?.status === 'True', { ...wait, message: 'generation 2 observed' });
      await waitUntil(() => {
        const egress = contracts.current()?.resources.find((r) => r.reference.namespace === ns)?.egresses.find((e) => e.reference.name === 'created');
        return JSON.stringify(egress?.filter ?? null).includes('order.shipped');
      }, { ...wait, message: 'the new filter in the data plane' });
      const shipped = await send('order.shipped');
      const created = await send('order.created');
      await waitUntil(() => idsAt('/created').includes(shipped) && idsAt('/all').includes(created), { ...wait, message: 'deliveries after the update' });
      // Every event reached /all, which had both: the order.created one has been dispatched to
      // every egress by then, so its absence at /created is the filter's doing.
      await waitUntil(() => idsAt('/all').includes(shipped), wait);
      assert.ok(!idsAt('/created').includes(created));
    });

    test('an invalid Trigger gets Ready=False with a message naming the field', async () => {
      await create(kube, TRIGGERS(ns), trigger(ns, 'broken', 'orders', { uri: `${subscriber.url}/broken` }, undefined));
      // What the CRD's own validation cannot check (a CESQL expression's syntax) is reported in status.
      const patched = await kube.patch(TRIGGERS(ns, 'broken'), { spec: { filters: [{ cesql: "type = 'a' AND" }] } });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const ready = await waitForReady(kube, TRIGGERS(ns, 'broken'), 'False', wait.timeoutMs);
      assert.equal(ready.reason, 'ValidationFailed');
      assert.match(ready.message ?? '', /spec\.filters\[0\]\.cesql/);
    });

    test("a subscriber ref to a Service resolves to the Service's cluster DNS name; a missing one is reported", async () => {
      await create(kube, TRIGGERS(ns), trigger(ns, 'to-service', 'orders', { ref: { apiVersion: 'v1', kind: 'Service', name: 'handler' }, uri: '/events' }));
      const missing = await waitForReady(kube, TRIGGERS(ns, 'to-service'), 'False', wait.timeoutMs);
      assert.match(missing.message ?? '', /Service "handler" \(v1\) does not exist in namespace/);
      const service = await kube.create(`/api/v1/namespaces/${ns}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'handler' }, spec: { ports: [{ port: 80 }] } });
      assert.equal(service.status, 201, JSON.stringify(service.body));
      await waitForReady(kube, TRIGGERS(ns, 'to-service'), 'True', wait.timeoutMs);
      const t = (await kube.get(TRIGGERS(ns, 'to-service'))).body;
      assert.equal(t.status.subscriberUri, `http://handler.${ns}.svc.cluster.local/events`);
    });

    test('deleting a Trigger deletes its consumer group before the object goes', async () => {
      const name = 'to-service';
      assert.ok(calls.initGroup.has(group(name)), 'the group was positioned');
      if (kind.name === 'kafka') assert.ok((await kafkaGroups()).includes(group(name)), 'the group exists on Kafka');
      const deleted = await kube.delete(TRIGGERS(ns, name));
      assert.equal(deleted.status, 200);
      await waitGone(kube, TRIGGERS(ns, name), wait.timeoutMs);
      assert.ok(calls.deleteGroup.has(group(name)), 'the group was deleted before the finalizer was removed');
      if (kind.name === 'kafka') assert.ok(!(await kafkaGroups()).includes(group(name)), 'the group is gone from Kafka');
    });

    test("deleting the Broker deletes its topic and its Triggers' consumer groups through the finalizer", async () => {
      const deleted = await kube.delete(BROKERS(ns, 'orders'));
      assert.equal(deleted.status, 200);
      // The API server keeps it (deletionTimestamp set) until the controller removed its finalizer.
      assert.ok(deleted.body.metadata.deletionTimestamp, 'the finalizer holds the Broker');
      await waitGone(kube, BROKERS(ns, 'orders'), wait.timeoutMs);
      assert.equal(await log.describeTopic(topic), undefined, 'the topic is deleted');
      assert.ok(calls.deleteTopic.has(topic));
      for (const name of ['created', 'all']) assert.ok(calls.deleteGroup.has(group(name)), `group of ${name} deleted`);
      if (kind.name === 'kafka') {
        const groups = await kafkaGroups();
        for (const name of ['created', 'all']) assert.ok(!groups.includes(group(name)), `group of ${name} gone from Kafka`);
      }
      // The Triggers stay, not Ready: their broker is gone.
      const ready = await waitForReady(kube, TRIGGERS(ns, 'all'), 'False', wait.timeoutMs);
      assert.equal(ready.reason, 'BrokerDoesNotExist');
    });
  });
}
