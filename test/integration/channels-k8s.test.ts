// Channels and Subscriptions in Kubernetes mode, end to end in one process: Knative objects
// applied to a real kube-apiserver (with etcd), the controller reconciling them and writing their
// status, and a data plane fetching its contract from the controller over HTTP — on the in-memory
// log, then on the real Kafka.
//
//   test ──1 create Channel, Subscriptions──▶ kube-apiserver ──2 watch──▶ controller ──3 topic, groups──▶ log
//        ◀─────────5 status (Ready, subscribers)── kube-apiserver ◀──4 status── controller ──contract──▶ data plane
//   test ──6 POST /channels/<ns>/<name>──▶ ingress ──▶ topic ──▶ dispatcher ──7 every event──▶ each subscriber
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
  SYSTEM_NAMESPACE, create, ensureNamespace, waitForReady, waitGone, watchedLog, type LogCalls, type RunningController,
  startInProcessBroker,
} from './k8s-harness.js';

const kube = await startTestKube();
await ensureNamespace(kube, SYSTEM_NAMESPACE);

const kinds = [
  { name: 'memory', open: (): EventLog => new MemoryEventLog(), servers: (): string[] => [], timeoutMs: 30_000, backing: 'InMemoryChannel' },
  {
    name: 'kafka',
    open: (): EventLog => new KafkaEventLog({ brokers: kafkaBootstrapServers(), clientId: 'channels-k8s-test', logger: silentLogger() }),
    servers: (): string[] => kafkaBootstrapServers(),
    timeoutMs: 90_000,
    backing: 'KafkaChannel',
  },
] as const;

const MESSAGING = 'messaging.knative.dev/v1';
const path = (ns: string, plural: string, name?: string, version = 'v1'): string =>
  `/apis/messaging.knative.dev/${version}/namespaces/${ns}/${plural}${name === undefined ? '' : `/${name}`}`;
const subscription = (ns: string, name: string, channel: Record<string, string>, subscriberUri: string): Record<string, unknown> => ({
  apiVersion: MESSAGING, kind: 'Subscription', metadata: { name, namespace: ns }, spec: { channel, subscriber: { uri: subscriberUri } },
});

for (const kind of kinds) {
  describe(`channels in Kubernetes mode on the ${kind.name} log`, { timeout: 600_000 }, () => {
    const ns = uniqueName(`k8s-ch-${kind.name}`).toLowerCase();
    const wait = { timeoutMs: kind.timeoutMs, intervalMs: 100 };
    let log: EventLog;
    let calls: LogCalls;
    let running: RunningController;
    let contracts: HttpContractSource;
    let ingress: RunningIngress;
    let dispatcher: RunningDispatcher;
    let subscriber: RecordingServer;
    let counter = 0;

    const idsAt = (p: string): string[] => receivedIds(subscriber, p);
    const send = async (channel: string): Promise<string> => {
      const id = `${kind.name}-${++counter}`;
      const response = await postEvent(`${ingress.url}/channels/${ns}/${channel}`, id, 'com.example.order');
      assert.equal(response.status, 202, await response.text());
      return id;
    };
    const egressesOf = (channel: string): string[] =>
      contracts.current()?.resources.find((r) => r.reference.namespace === ns && r.reference.name === channel)?.egresses.map((e) => e.reference.name) ?? [];

    before(async () => {
      await ensureNamespace(kube, ns);
      ({ log, calls } = watchedLog(kind.open()));
      subscriber = await startRecordingServer();
      ({ ingress, running, contracts, dispatcher } = await startInProcessBroker(kube, log, { kafkaBootstrapServers: kind.servers() }));
    });

    after(async () => {
      await dispatcher?.close();
      await ingress?.close();
      await contracts?.close();
      await running?.close();
      await subscriber?.close();
      await log?.close();
    });

    test('a Channel and two Subscriptions are reconciled: Ready, the backing channel, the address, subscribers ready', async () => {
      await create(kube, path(ns, 'channels'), { apiVersion: MESSAGING, kind: 'Channel', metadata: { name: 'events', namespace: ns } });
      const first = await create(kube, path(ns, 'subscriptions'), subscription(ns, 'first', { apiVersion: MESSAGING, kind: 'Channel', name: 'events' }, `${subscriber.url}/first`));
      const second = await create(kube, path(ns, 'subscriptions'), subscription(ns, 'second', { apiVersion: MESSAGING, kind: 'Channel', name: 'events' }, `${subscriber.url}/second`));

      for (const name of ['first', 'second']) await waitForReady(kube, path(ns, 'subscriptions', name), 'True', wait.timeoutMs);
      await waitForReady(kube, path(ns, 'channels', 'events'), 'True', wait.timeoutMs);
      const channel = await waitUntil(async () => {
        const { body } = await kube.get(path(ns, 'channels', 'events'));
        return body.status?.subscribers?.length === 2 && body.status.subscribers.every((s: { ready: string }) => s.ready === 'True') ? body : undefined;
      }, { ...wait, message: 'the Channel listing both subscribers ready' });
      assert.equal(channel.status.address.url, `${ingress.url}/channels/${ns}/events`);
      assert.equal(channel.status.channel.kind, kind.backing);
      assert.deepEqual(channel.status.subscribers.map((s: { uid: string }) => s.uid).sort(), [first.metadata.uid, second.metadata.uid].sort());
      assert.ok(channel.metadata.finalizers.includes(FINALIZER));
      // The default channel template is written into the Channel's spec in memory, not on the API server (no webhook here).
      assert.equal(channel.spec, undefined);

      const sub = (await kube.get(path(ns, 'subscriptions', 'first'))).body;
      assert.deepEqual(sub.status.physicalSubscription, { subscriberUri: `${subscriber.url}/first` });
      assert.deepEqual(sub.status.conditions.map((c: { type: string }) => c.type), ['AddedToChannel', 'ChannelReady', 'Ready', 'ReferencesResolved']);
      assert.ok(sub.metadata.finalizers.includes(FINALIZER));
      assert.ok(calls.initGroup.has(`kafka.${ns}.events.${first.metadata.uid}`), "the subscription's group was positioned");
    });

    test('events sent to the channel reach both subscriptions', async () => {
      await waitUntil(() => egressesOf('events').length === 2, { ...wait, message: 'the data plane with both egresses' });
      const ids = [await send('events'), await send('events')];
      await waitUntil(() => ids.every((id) => idsAt('/first').includes(id) && idsAt('/second').includes(id)), { ...wait, message: 'every event at both' });
    });

    test('a Subscription to a channel that does not exist yet becomes Ready when the channel appears', async () => {
      await create(kube, path(ns, 'subscriptions'), subscription(ns, 'early', { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', name: 'later' }, `${subscriber.url}/early`));
      const waiting = await waitForReady(kube, path(ns, 'subscriptions', 'early'), 'False', wait.timeoutMs);
      assert.equal(waiting.reason, 'ChannelDoesNotExist');
      const created = await create(kube, path(ns, 'kafkachannels', undefined, 'v1beta1'), { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', metadata: { name: 'later', namespace: ns }, spec: { numPartitions: 2 } });
      assert.equal(created.spec.replicationFactor, 1, "the CRD's default");
      await waitForReady(kube, path(ns, 'subscriptions', 'early'), 'True', wait.timeoutMs);
      await waitForReady(kube, path(ns, 'kafkachannels', 'later', 'v1beta1'), 'True', wait.timeoutMs);
      assert.deepEqual(await log.describeTopic(`knative-messaging-kafka.${ns}.later`), { name: `knative-messaging-kafka.${ns}.later`, partitions: 2 });
      await waitUntil(() => egressesOf('later').length === 1, { ...wait, message: 'the data plane with the new egress' });
      const id = await send('later');
      await waitUntil(() => idsAt('/early').includes(id), { ...wait, message: 'the event at the early subscription' });
    });

    test("deleting a Subscription deletes its consumer group before the object goes; the other keeps receiving", async () => {
      const uid = (await kube.get(path(ns, 'subscriptions', 'second'))).body.metadata.uid as string;
      const deleted = await kube.delete(path(ns, 'subscriptions', 'second'));
      assert.equal(deleted.status, 200);
      await waitGone(kube, path(ns, 'subscriptions', 'second'), wait.timeoutMs);
      assert.ok(calls.deleteGroup.has(`kafka.${ns}.events.${uid}`), 'the group was deleted before the finalizer was removed');
      await waitUntil(async () => (await kube.get(path(ns, 'channels', 'events'))).body.status?.subscribers?.length === 1, { ...wait, message: 'the Channel listing one subscriber' });
      const id = await send('events');
      await waitUntil(() => idsAt('/first').includes(id), { ...wait, message: 'the event at first' });
      assert.ok(!idsAt('/second').includes(id));
    });

    test("deleting the Channel removes it from the ingress and deletes its backing channel's topic", async () => {
      const topic = `knative-messaging-kafka.${ns}.events`;
      assert.notEqual(await log.describeTopic(topic), undefined);
      const deleted = await kube.delete(path(ns, 'channels', 'events'));
      assert.equal(deleted.status, 200);
      await waitGone(kube, path(ns, 'channels', 'events'), wait.timeoutMs);
      await waitUntil(async () => (await log.describeTopic(topic)) === undefined, { ...wait, message: `topic ${topic} deleted` });
      await waitUntil(async () => (await fetch(`${ingress.url}/channels/${ns}/events`, {
        method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-source': '/x', 'ce-type': 'x' },
      })).status === 404, { ...wait, message: 'the channel gone from the ingress' });
      const waiting = await waitForReady(kube, path(ns, 'subscriptions', 'first'), 'False', wait.timeoutMs);
      assert.equal(waiting.reason, 'ChannelDoesNotExist');
    });
  });
}
