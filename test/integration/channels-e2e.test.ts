import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { silentLogger } from '../../core/logger.js';
import { answer, decodeRequest, startSubscriber, type Subscriber } from '../helpers/servers.js';
import { suiteTeardown } from '../helpers/suite.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { manifestsFolder, readyOf, startBroker, type BrokerProcess, type ManifestsFolder } from './start-cli.js';

/**
 * Channels and Subscriptions through `kafka-broker start`, as a user runs them: a real process on
 * a folder of manifests, events POSTed to the channel's address, subscribers as real HTTP servers
 * — once on the in-memory log and once on Kafka. The scenario (numbered hops):
 *
 *   test ──1 POST /channels/<ns>/events──▶ ingress ──2 append──▶ channel topic
 *        ┌─────────────3 one consumer group per Subscription────────┘
 *        ├─▶ first, second          every event, each on its own
 *        ├─▶ flaky ──retries──▶ dead-letter sink (held open: flaky is stuck, the others are not)
 *        └─▶ replier ──4 reply──▶ spec.reply = Channel "answers" ──▶ answers subscriber
 *   ordered channel (3 partitions) ──▶ an ordered Subscription: per-partition order kept
 *   5 get channels|subscriptions|kafkachannels|inmemorychannels -o json: status, subscribers
 */

const kafkaServers = process.env['KAFKA_BOOTSTRAP_SERVERS'];
const kinds = [
  // The in-memory log is quick, but each `get` the waits run is a node process: seconds apiece on a busy CI machine.
  { name: 'memory', env: { KAFKA_BOOTSTRAP_SERVERS: '' }, timeoutMs: 60_000, backing: 'InMemoryChannel' },
  { name: 'kafka', env: { KAFKA_BOOTSTRAP_SERVERS: kafkaServers }, timeoutMs: 90_000, backing: 'KafkaChannel' },
] as const;

const MESSAGING = 'messaging.knative.dev/v1';
const channelRef = (name: string) => ({ apiVersion: MESSAGING, kind: 'Channel', name });
const channelManifest = (ns: string, name: string, spec?: object): object => ({ apiVersion: MESSAGING, kind: 'Channel', metadata: { name, namespace: ns }, ...(spec === undefined ? {} : { spec }) });
const subscriptionManifest = (ns: string, name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}): object => ({
  apiVersion: MESSAGING, kind: 'Subscription', metadata: { name, namespace: ns, annotations }, spec: { channel: channelRef('events'), ...spec },
});

interface Item {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid: string; readonly ownerReferences?: readonly { kind: string; name: string }[] };
  readonly status?: {
    readonly conditions?: readonly { type: string; status: string; reason?: string; message?: string }[];
    readonly address?: { url: string };
    readonly channel?: { kind: string; name: string };
    readonly subscribers?: readonly { uid: string; observedGeneration: number; ready: string; message?: string }[];
    readonly physicalSubscription?: { subscriberUri?: string; replyUri?: string; deadLetterSinkUri?: string };
  };
}

for (const kind of kinds) {
  describe(`channels and subscriptions through kafka-broker start on the ${kind.name} log`, { timeout: 600_000 }, () => {
    if (kind.name === 'kafka' && !kafkaServers) throw new Error('KAFKA_BOOTSTRAP_SERVERS is not set: run with `npm test`, or start Kafka with `npm run kafka`');
    // A namespace per run: on a shared Kafka, topics and groups never meet another run's.
    const ns = uniqueName(`ch-${kind.name}`);
    const wait = { timeoutMs: kind.timeoutMs, intervalMs: 50 };
    let folder: ManifestsFolder;
    let sub: Subscriber;
    let broker: BrokerProcess;
    let counter = 0;
    /** While set, the dead-letter sink holds its answers until it resolves. */
    let deadLetterGate: Promise<void> | undefined;
    const flakyAttempts = new Map<string, number>();
    let orderedInFlight = new Map<string, number>();
    /** While set, the ordered subscriber holds every request until it resolves. */
    let orderedGate: Promise<void> | undefined;
    let orderedOverlap = 0;

    const uri = (path: string): string => `${sub.url}${path}`;
    const eventsAt = (path: string) => sub.requests.filter((r) => r.url === path).flatMap((r) => decodeRequest(r));
    const idsAt = (path: string): string[] => eventsAt(path).map((e) => String(e.attributes['id']));
    const send = async (channel: string, type: string, extensions: Record<string, string> = {}): Promise<string> => {
      const id = `${kind.name}-${++counter}`;
      const headers: Record<string, string> = { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/test', 'ce-type': type, 'content-type': 'application/json' };
      for (const [name, value] of Object.entries(extensions)) headers[`ce-${name}`] = value;
      const response = await fetch(`${broker.ingressUrl}/channels/${ns}/${channel}`, { method: 'POST', headers, body: JSON.stringify({ id }) });
      assert.equal(response.status, 202, await response.text());
      return id;
    };
    const list = async (plural: string): Promise<Item[]> => {
      const result = await broker.get(plural, '-n', ns, '-o', 'json');
      assert.equal(result.code, 0, result.stderr);
      return (JSON.parse(result.stdout) as { items: Item[] }).items;
    };
    const allReady = async (plural: string, names: readonly string[]): Promise<boolean> => {
      const items = await list(plural);
      return names.every((n) => readyOf(items.find((i) => i.metadata.name === n))?.status === 'True');
    };

    const t = suiteTeardown();

    before(async () => {
      folder = await manifestsFolder(t);
      sub = await startSubscriber(t);
      sub.respond(async (request, response) => {
        const event = decodeRequest(request)[0];
        const id = String(event?.attributes['id']);
        switch (request.url) {
          case '/flaky': {
            flakyAttempts.set(id, (flakyAttempts.get(id) ?? 0) + 1);
            return answer(response, event?.attributes['type'] === 'com.example.doomed' ? 500 : 200);
          }
          case '/dls':
            await deadLetterGate;
            return answer(response, 200);
          case '/replier':
            if (event?.attributes['type'] !== 'com.example.question') return answer(response, 200);
            return answer(response, 200, { 'ce-specversion': '1.0', 'ce-id': `answer-${id}`, 'ce-source': '/replier', 'ce-type': 'com.example.answer', 'content-type': 'text/plain' }, 'forty-two');
          case '/chatty':
            // Without spec.reply a subscriber's reply is discarded.
            return answer(response, 200, { 'ce-specversion': '1.0', 'ce-id': `noise-${id}`, 'ce-source': '/chatty', 'ce-type': 'com.example.noise' }, '');
          case '/ordered': {
            const key = String(event?.attributes['partitionkey']);
            const inFlight = (orderedInFlight.get(key) ?? 0) + 1;
            orderedInFlight.set(key, inFlight);
            orderedOverlap = Math.max(orderedOverlap, inFlight);
            await orderedGate;
            // A random pause: an unordered subscription would let later events overtake.
            await sleep(Math.floor(Math.random() * 25));
            orderedInFlight.set(key, orderedInFlight.get(key)! - 1);
            return answer(response, 200);
          }
          default:
            return answer(response, 200);
        }
      });
      await folder.write('channels.yaml', [
        // No template: the backing kind follows the log (InMemoryChannel in memory, KafkaChannel on Kafka).
        channelManifest(ns, 'events'),
        channelManifest(ns, 'answers'),
        { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', metadata: { name: 'ordered', namespace: ns }, spec: { numPartitions: 3 } },
      ]);
      await folder.write('subscriptions.yaml', [
        subscriptionManifest(ns, 'first', { subscriber: { uri: uri('/first') } }),
        subscriptionManifest(ns, 'second', { subscriber: { uri: uri('/second') } }),
        subscriptionManifest(ns, 'flaky', {
          subscriber: { uri: uri('/flaky') },
          delivery: { retry: 2, backoffPolicy: 'linear', backoffDelay: 'PT0.05S', deadLetterSink: { uri: uri('/dls') } },
        }),
        subscriptionManifest(ns, 'replier', { subscriber: { uri: uri('/replier') }, reply: { ref: channelRef('answers') } }),
        subscriptionManifest(ns, 'chatty', { subscriber: { uri: uri('/chatty') } }),
        subscriptionManifest(ns, 'answers', { channel: channelRef('answers'), subscriber: { uri: uri('/answers') } }),
        subscriptionManifest(ns, 'in-order', { channel: { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', name: 'ordered' }, subscriber: { uri: uri('/ordered') } }, {
          'kafka.eventing.knative.dev/delivery.order': 'ordered',
        }),
      ]);
      broker = await startBroker(t, { manifests: folder.dir, env: kind.env });
      await waitUntil(() => allReady('subscriptions', ['first', 'second', 'flaky', 'replier', 'chatty', 'answers', 'in-order']), { ...wait, message: 'every subscription Ready' });
    });

    test('status: the Channel mirrors its generated backing channel, which lists every subscriber ready', async () => {
      const channels = await list('channels');
      const events = channels.find((c) => c.metadata.name === 'events')!;
      assert.equal(readyOf(events)?.status, 'True');
      assert.deepEqual(events.status?.channel, { apiVersion: kind.backing === 'KafkaChannel' ? 'messaging.knative.dev/v1beta1' : MESSAGING, kind: kind.backing, name: 'events', namespace: ns });
      assert.equal(events.status?.address?.url, `${broker.ingressUrl}/channels/${ns}/events`);
      const subscriptions = await list('subscriptions');
      const onEvents = subscriptions.filter((s) => ['first', 'second', 'flaky', 'replier', 'chatty'].includes(s.metadata.name));
      assert.deepEqual(
        [...(events.status?.subscribers ?? [])].sort((a, b) => a.uid.localeCompare(b.uid)),
        onEvents.map((s) => ({ uid: s.metadata.uid, observedGeneration: 1, ready: 'True' })).sort((a, b) => a.uid.localeCompare(b.uid)),
      );

      const backing = (await list(kind.backing === 'KafkaChannel' ? 'kafkachannels' : 'inmemorychannels')).find((c) => c.metadata.name === 'events')!;
      assert.equal(readyOf(backing)?.status, 'True');
      assert.deepEqual(backing.metadata.ownerReferences?.map((o) => `${o.kind}/${o.name}`), ['Channel/events']);
      assert.deepEqual(backing.status?.subscribers, events.status?.subscribers);
      const topic = backing.status?.conditions?.find((c) => c.type === 'TopicReady');
      assert.equal(topic?.status, 'True');
      assert.match(topic!.message!, new RegExp(`knative-messaging-kafka\\.${ns}\\.events`));

      for (const s of subscriptions) {
        assert.deepEqual(s.status?.conditions?.map((c) => c.type), ['AddedToChannel', 'ChannelReady', 'Ready', 'ReferencesResolved'], s.metadata.name);
      }
      const replier = subscriptions.find((s) => s.metadata.name === 'replier')!;
      assert.deepEqual(replier.status?.physicalSubscription, { subscriberUri: uri('/replier'), replyUri: `${broker.ingressUrl}/channels/${ns}/answers` });
      assert.equal(subscriptions.find((s) => s.metadata.name === 'flaky')?.status?.physicalSubscription?.deadLetterSinkUri, uri('/dls'));

      const table = await broker.get('channels', '-n', ns);
      const [header, ...rows] = table.stdout.trimEnd().split('\n');
      assert.match(header!, /^NAME\s+BACKING\s+READY\s+REASON\s+SUBSCRIBERS\s+URL\s+AGE$/);
      assert.ok(rows.some((r) => new RegExp(`^events\\s+${kind.backing}\\s+True\\s+5/5\\s+http://\\S+/channels/${ns}/events\\s+\\d+s$`).test(r)), table.stdout);
      const subTable = await broker.get('subscriptions', '-n', ns);
      assert.ok(subTable.stdout.split('\n').some((r) => /^first\s+Channel\/events\s+True\s+http:\/\/127\.0\.0\.1:\d+\/first\s+\d+s$/.test(r)), subTable.stdout);
    });

    test('two subscriptions both receive every event', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await send('events', 'com.example.order'));
      for (const path of ['/first', '/second']) {
        await waitUntil(() => ids.every((id) => idsAt(path).includes(id)), { ...wait, message: `every event at ${path}` });
        assert.equal(idsAt(path).filter((id) => ids.includes(id)).length, ids.length, `each event once at ${path}`);
      }
    });

    test('a failing subscriber retries and dead-letters without holding back the other subscriptions', async () => {
      let release!: () => void;
      deadLetterGate = new Promise((resolve) => (release = resolve));
      try {
        const doomed = await send('events', 'com.example.doomed');
        // The flaky subscription is now stuck on its dead-letter sink, which does not answer yet ...
        await waitUntil(() => idsAt('/dls').includes(doomed), { ...wait, message: 'the dead letter on its way' });
        assert.equal(flakyAttempts.get(doomed), 3, '1 attempt + 2 retries before the dead-letter sink');
        // ... and the other subscriptions keep receiving.
        const later = await send('events', 'com.example.order');
        await waitUntil(() => idsAt('/first').includes(later) && idsAt('/second').includes(later), { ...wait, message: 'the next event at the other subscriptions' });
        assert.ok(idsAt('/first').includes(doomed), 'the other subscriptions got the doomed event too');
      } finally {
        release();
        deadLetterGate = undefined;
      }
      const dead = eventsAt('/dls').find((e) => e.attributes['type'] === 'com.example.doomed')!;
      assert.equal(String(dead.attributes['knativeerrorcode']), '500');
      assert.equal(dead.attributes['knativeerrordest'], uri('/flaky'));
    });

    test("a subscriber's reply goes to spec.reply (another Channel); without spec.reply it is discarded", async () => {
      const question = await send('events', 'com.example.question');
      await waitUntil(() => idsAt('/answers').includes(`answer-${question}`), { ...wait, message: 'the reply at the answers channel' });
      const reply = eventsAt('/answers').find((e) => e.attributes['id'] === `answer-${question}`)!;
      assert.equal(reply.attributes['source'], '/replier');
      assert.equal(reply.data?.toString(), 'forty-two');
      await waitUntil(() => idsAt('/chatty').includes(question), { ...wait, message: 'the question at chatty' });
      assert.ok(!idsAt('/answers').some((id) => id.startsWith('noise-')), "chatty's replies are discarded");
    });

    test('a subscription added while running starts receiving; removed, it stops', async () => {
      await folder.write('late.yaml', [subscriptionManifest(ns, 'late', { subscriber: { uri: uri('/late') } })]);
      await waitUntil(() => allReady('subscriptions', ['late']), { ...wait, message: 'the new subscription Ready' });
      await waitUntil(async () => (await list('channels')).find((c) => c.metadata.name === 'events')?.status?.subscribers?.length === 6, { ...wait, message: 'the channel listing it' });
      const first = await send('events', 'com.example.order');
      await waitUntil(() => idsAt('/late').includes(first), { ...wait, message: 'the new subscription receiving' });
      await folder.remove('late.yaml');
      await waitUntil(async () => !(await list('subscriptions')).some((s) => s.metadata.name === 'late'), { ...wait, message: 'the subscription gone' });
      const second = await send('events', 'com.example.order');
      await waitUntil(() => idsAt('/first').includes(second), { ...wait, message: 'the other subscriptions receiving' });
      // Give a stray delivery the time the first took to arrive before concluding there is none.
      await sleep(500);
      assert.ok(!idsAt('/late').includes(second), 'a removed subscription receives nothing more');
      assert.equal((await list('channels')).find((c) => c.metadata.name === 'events')?.status?.subscribers?.length, 5);
    });

    test('an ordered subscription keeps the order of each partition', async () => {
      const keys = ['alpha', 'beta', 'gamma'];
      const sent = new Map<string, string[]>(keys.map((k) => [k, []]));
      orderedInFlight = new Map();
      // Held until everything is sent: an unordered subscription would now get many events of a
      // partition at once, and their random pauses would reorder them.
      let release!: () => void;
      orderedGate = new Promise((resolve) => (release = resolve));
      try {
        for (let i = 0; i < 8; i++) {
          for (const key of keys) sent.get(key)!.push(await send('ordered', 'com.example.sequenced', { partitionkey: key }));
        }
      } finally {
        release();
        orderedGate = undefined;
      }
      const all = [...sent.values()].flat();
      await waitUntil(() => all.every((id) => idsAt('/ordered').includes(id)), { ...wait, message: 'every ordered event' });
      for (const key of keys) {
        const arrived = eventsAt('/ordered').filter((e) => e.attributes['partitionkey'] === key).map((e) => String(e.attributes['id']));
        assert.deepEqual(arrived, sent.get(key), `partition key ${key}`);
      }
      assert.equal(orderedOverlap, 1, 'one event at a time per partition');
    });

    test('removing the channels deletes their topics; SIGTERM exits cleanly', async () => {
      await folder.remove('subscriptions.yaml');
      await folder.remove('channels.yaml');
      const gone = async (): Promise<boolean> =>
        (await fetch(`${broker.ingressUrl}/channels/${ns}/events`, { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-source': '/x', 'ce-type': 'x' } })).status === 404;
      await waitUntil(gone, { ...wait, message: 'the channel gone from the ingress' });
      assert.deepEqual(await list('inmemorychannels'), []);
      assert.deepEqual(await list('kafkachannels'), []);
      if (kind.name === 'kafka') {
        const log = new KafkaEventLog({ brokers: kafkaServers!.split(','), clientId: 'channels-e2e-check', logger: silentLogger() });
        t.after(() => log.close());
        for (const name of ['events', 'answers', 'ordered']) {
          await waitUntil(async () => (await log.describeTopic(`knative-messaging-kafka.${ns}.${name}`)) === undefined, { ...wait, message: `topic of ${name} deleted` });
        }
      }
      assert.equal(await broker.stop('SIGTERM'), 0);
      assert.doesNotMatch(broker.stderr(), /"level":50/, 'no error was logged');
    });
  });
}
