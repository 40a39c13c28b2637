import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { silentLogger } from '../../core/logger.js';
import { answer, decodeRequest, startSubscriber, type Subscriber } from '../helpers/servers.js';
import { suiteTeardown } from '../helpers/suite.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import {
  brokerManifest, manifestsFolder, readyOf, startBroker, triggerManifest,
  type BrokerProcess, type KnList, type ManifestsFolder,
} from './start-cli.js';

/**
 * `kafka-broker start` end to end, as a user runs it: a real process on a folder of manifests,
 * events POSTed over HTTP, subscribers as real HTTP servers — once on the in-memory log and once
 * on Kafka. The scenario (numbered hops):
 *
 *   test ──1 POST /<ns>/default──▶ ingress ──2 append──▶ topic ──3 consume──▶ dispatcher
 *        ◀──────────────6 get -o json──── admin        4 filter, deliver ──▶ subscriber paths
 *                                                        5 reply ──▶ ingress (hop 1 again)
 */

const kafkaServers = process.env['KAFKA_BOOTSTRAP_SERVERS'];
const kinds = [
  // The in-memory log is quick, but each `get` the waits run is a node process: seconds apiece on a busy CI machine.
  { name: 'memory', env: { KAFKA_BOOTSTRAP_SERVERS: '' }, timeoutMs: 60_000 },
  { name: 'kafka', env: { KAFKA_BOOTSTRAP_SERVERS: kafkaServers }, timeoutMs: 90_000 },
] as const;

for (const kind of kinds) {
  describe(`kafka-broker start on the ${kind.name} log`, { timeout: 600_000 }, () => {
    if (kind.name === 'kafka' && !kafkaServers) throw new Error('KAFKA_BOOTSTRAP_SERVERS is not set: run with `npm test`, or start Kafka with `npm run kafka`');
    // A namespace per run: on a shared Kafka, topics and groups never meet another run's.
    const ns = uniqueName(`e2e-${kind.name}`);
    const topic = `knative-broker-${ns}-default`;
    const wait = { timeoutMs: kind.timeoutMs, intervalMs: 50 };
    let folder: ManifestsFolder;
    let sub: Subscriber;
    let broker: BrokerProcess;
    /** Failures to answer per event id at /flaky; Infinity = always fail. */
    const failFor = new Map<string, number>();
    const attempts = new Map<string, number>();
    const sentIds = new Set<string>();
    let counter = 0;

    const uri = (path: string): string => `${sub.url}${path}`;
    const idsAt = (path: string): string[] =>
      sub.requests.filter((r) => r.url === path).flatMap((r) => decodeRequest(r)).map((e) => String(e.attributes['id']));
    const send = async (type: string, extensions: Record<string, string> = {}, id = `${kind.name}-${++counter}`): Promise<string> => {
      const headers: Record<string, string> = {
        'ce-specversion': '1.0', 'ce-id': id, 'ce-source': extensions['source'] ?? '/shop', 'ce-type': type, 'content-type': 'application/json',
      };
      for (const [name, value] of Object.entries(extensions)) if (name !== 'source') headers[`ce-${name}`] = value;
      const response = await fetch(`${broker.ingressUrl}/${ns}/default`, { method: 'POST', headers, body: JSON.stringify({ id }) });
      assert.equal(response.status, 202, await response.text());
      sentIds.add(id);
      return id;
    };
    const triggers = async (): Promise<KnList> => JSON.parse((await broker.get('triggers', '-n', ns, '-o', 'json')).stdout) as KnList;
    const allReady = async (names: readonly string[]): Promise<boolean> => {
      const list = await triggers();
      return names.every((n) => readyOf(list.items.find((i) => i.metadata.name === n))?.status === 'True');
    };

    const filterTriggers = {
      legacy: { filter: { attributes: { type: 'com.example.order.created' } } },
      exact: { filters: [{ exact: { type: 'com.example.order.created' } }] },
      prefix: { filters: [{ prefix: { type: 'com.example.order.' } }] },
      suffix: { filters: [{ suffix: { subject: '.png' } }] },
      all: { filters: [{ all: [{ exact: { type: 'com.example.file.uploaded' } }, { suffix: { subject: '.png' } }] }] },
      any: { filters: [{ any: [{ exact: { type: 'com.example.order.created' } }, { exact: { type: 'com.example.file.uploaded' } }] }] },
      not: { filters: [{ not: { prefix: { source: '/test' } } }] },
      cesql: { filters: [{ cesql: 'EXISTS amount AND INT(amount) > 100' }] },
    } as const;

    // Teardown in reverse order of set-up, once the suite is done.
    const t = suiteTeardown();

    before(async () => {
      folder = await manifestsFolder(t);
      sub = await startSubscriber(t);
      sub.respond((request, response) => {
        const id = decodeRequest(request)[0]?.attributes['id'];
        if (request.url === '/flaky' && typeof id === 'string') {
          const n = (attempts.get(id) ?? 0) + 1;
          attempts.set(id, n);
          return answer(response, n <= (failFor.get(id) ?? 0) ? 500 : 200);
        }
        if (request.url === '/replier' && typeof id === 'string') {
          // A reply in binary mode: a new event that re-enters the broker.
          return answer(response, 200, { 'ce-specversion': '1.0', 'ce-id': `answer-${id}`, 'ce-source': '/replier', 'ce-type': 'com.example.answer', 'content-type': 'text/plain' }, 'forty-two');
        }
        return answer(response, 200);
      });
      await folder.write('broker.yaml', [brokerManifest(ns, 'default', { delivery: { retry: 2, backoffPolicy: 'linear', backoffDelay: 'PT0.05S' } })]);
      await folder.write('triggers.yaml', [
        ...Object.entries(filterTriggers).map(([name, spec]) => triggerManifest(ns, name, { ...spec, subscriber: { uri: uri(`/${name}`) } })),
        triggerManifest(ns, 'flaky', {
          filters: [{ exact: { type: 'com.example.flaky' } }],
          subscriber: { uri: uri('/flaky') },
          delivery: { retry: 2, backoffPolicy: 'linear', backoffDelay: 'PT0.05S', deadLetterSink: { uri: uri('/dls') } },
        }),
        triggerManifest(ns, 'replier', { filters: [{ exact: { type: 'com.example.question' } }], subscriber: { uri: uri('/replier') } }),
        triggerManifest(ns, 'answers', { filters: [{ exact: { type: 'com.example.answer' } }], subscriber: { uri: uri('/answers') } }),
        triggerManifest(ns, 'witness', { filters: [{ exact: { type: 'com.example.late' } }], subscriber: { uri: uri('/witness') } }),
      ]);
      broker = await startBroker(t, { manifests: folder.dir, env: kind.env });
      await waitUntil(() => allReady([...Object.keys(filterTriggers), 'flaky', 'replier', 'answers', 'witness']), { ...wait, message: 'every trigger Ready' });
    });

    test('get -o json lists Ready brokers and triggers with the broker address; the table reads like kubectl', async () => {
      const brokers = JSON.parse((await broker.get('brokers', '-n', ns, '-o', 'json')).stdout) as KnList;
      assert.equal(brokers.apiVersion, 'v1');
      assert.equal(brokers.kind, 'List');
      assert.equal(brokers.items.length, 1);
      assert.equal(readyOf(brokers.items[0])?.status, 'True');
      assert.equal(brokers.items[0]!.status?.address?.url, `${broker.ingressUrl}/${ns}/default`);
      const list = await triggers();
      assert.equal(list.items.length, 12);
      for (const item of list.items) {
        assert.equal(readyOf(item)?.status, 'True', item.metadata.name);
        assert.deepEqual(item.status?.conditions?.map((c) => c.type), ['BrokerReady', 'DeadLetterSinkResolved', 'Ready', 'SubscriberResolved', 'SubscriptionReady']);
      }
      const table = await broker.get('triggers', '-n', ns);
      assert.equal(table.code, 0);
      const [header, ...rows] = table.stdout.trimEnd().split('\n');
      assert.match(header!, /^NAME\s+BROKER\s+READY\s+REASON\s+SUBSCRIBER\s+LAG\s+AGE$/);
      assert.ok(rows.some((r) => /^cesql\s+default\s+True\s+http:\/\/127\.0\.0\.1:\d+\/cesql\s+\d+\s+\d+s$/.test(r)), table.stdout);
    });

    test('each filter dialect routes correctly', async () => {
      const e1 = await send('com.example.order.created', { amount: '250' });
      const e2 = await send('com.example.order.cancelled', { source: '/test/a', amount: '10' });
      const e3 = await send('com.example.file.uploaded', { subject: 'cat.png' });
      const e4 = await send('com.example.file.uploaded', { source: '/test/b', subject: 'cat.jpg' });
      const mine = new Set([e1, e2, e3, e4]);
      const expected: Record<keyof typeof filterTriggers, string[]> = {
        legacy: [e1], exact: [e1], prefix: [e1, e2], suffix: [e3], all: [e3], any: [e1, e3, e4], not: [e1, e3], cesql: [e1],
      };
      const got = (name: string): string[] => idsAt(`/${name}`).filter((id) => mine.has(id)).sort();
      await waitUntil(() => Object.entries(expected).every(([name, ids]) => ids.every((id) => got(name).includes(id))), { ...wait, message: 'every expected delivery' });
      for (const [name, ids] of Object.entries(expected)) assert.deepEqual(got(name), [...ids].sort(), `trigger ${name}`);
    });

    test('retries and dead letters work through the whole path', async () => {
      const doomed = `${kind.name}-doomed-${++counter}`;
      const recovers = `${kind.name}-recovers-${++counter}`;
      failFor.set(doomed, Infinity);
      failFor.set(recovers, 2);
      await send('com.example.flaky', {}, doomed);
      await send('com.example.flaky', {}, recovers);
      await waitUntil(() => idsAt('/dls').includes(doomed), { ...wait, message: 'the dead letter' });
      await waitUntil(() => attempts.get(recovers) === 3, { ...wait, message: 'the third attempt' });
      assert.equal(attempts.get(doomed), 3, '1 attempt + 2 retries, then the dead-letter sink');
      const dead = sub.requests.filter((r) => r.url === '/dls').flatMap((r) => decodeRequest(r)).find((e) => e.attributes['id'] === doomed)!;
      assert.equal(String(dead.attributes['knativeerrorcode']), '500');
      assert.equal(dead.attributes['knativeerrordest'], uri('/flaky'));
      assert.ok(!idsAt('/dls').includes(recovers), 'a delivery that succeeds on a retry is not dead-lettered');
    });

    test('a reply re-enters the broker and reaches a second trigger', async () => {
      const question = await send('com.example.question');
      await waitUntil(() => idsAt('/answers').includes(`answer-${question}`), { ...wait, message: 'the reply at the second trigger' });
      const reply = sub.requests.filter((r) => r.url === '/answers').flatMap((r) => decodeRequest(r)).find((e) => e.attributes['id'] === `answer-${question}`)!;
      assert.equal(reply.attributes['source'], '/replier');
      assert.equal(reply.data?.toString(), 'forty-two');
    });

    test('a trigger file added while running starts receiving; removed, the trigger stops', async () => {
      await folder.write('late.yaml', [triggerManifest(ns, 'late', { filters: [{ exact: { type: 'com.example.late' } }], subscriber: { uri: uri('/late') } })]);
      await waitUntil(() => allReady(['late']), { ...wait, message: 'the new trigger Ready' });
      const first = await send('com.example.late');
      await waitUntil(() => idsAt('/late').includes(first), { ...wait, message: 'the new trigger receiving' });
      await folder.remove('late.yaml');
      await waitUntil(async () => !(await triggers()).items.some((i) => i.metadata.name === 'late'), { ...wait, message: 'the trigger gone' });
      const second = await send('com.example.late');
      await waitUntil(() => idsAt('/witness').includes(second), { ...wait, message: 'the witness trigger receiving' });
      assert.ok(!idsAt('/late').includes(second), 'a removed trigger receives nothing more');
    });

    test('a broken manifest is reported (file, document, line) and on status; the rest keep working', async () => {
      await folder.write('broken.yaml', 'apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: oops\n');
      await folder.write('bad-filter.yaml', [triggerManifest(ns, 'bad-filter', { filters: [{ cesql: "type = 'a' AND (" }], subscriber: { uri: uri('/bad') } })]);
      const bad = await waitUntil(async () => {
        const item = (await triggers()).items.find((i) => i.metadata.name === 'bad-filter');
        return readyOf(item)?.status === 'False' ? readyOf(item) : undefined;
      }, { ...wait, message: 'the invalid trigger reported' });
      assert.equal(bad.reason, 'ValidationFailed');
      assert.match(bad.message!, /spec\.filters\[0\]\.cesql/);
      assert.match(bad.message!, /column \d+/);
      const { problems } = await broker.admin<{ problems: { source: string; document?: number; line?: number; message: string }[] }>('/problems');
      const problem = problems.find((p) => p.source === 'broken.yaml');
      assert.ok(problem !== undefined, JSON.stringify(problems));
      assert.equal(problem.document, 1);
      assert.equal(typeof problem.line, 'number');
      assert.match(broker.stderr(), /manifest problem: broken\.yaml, document 1, line \d+/);
      const table = await broker.get('triggers', '-n', ns);
      assert.match(table.stdout, /bad-filter\s+default\s+False\s+ValidationFailed/);
      const id = await send('com.example.order.created', { amount: '5' });
      await waitUntil(() => idsAt('/exact').includes(id), { ...wait, message: 'the other triggers still delivering' });
      await folder.remove('broken.yaml');
      await folder.remove('bad-filter.yaml');
    });

    test("removing the broker removes it from the ingress and deletes its topic; SIGTERM exits cleanly", async () => {
      await folder.remove('triggers.yaml');
      await folder.remove('broker.yaml');
      await waitUntil(async () => (await fetch(`${broker.ingressUrl}/${ns}/default`, { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-source': '/x', 'ce-type': 'x' } })).status === 404, { ...wait, message: 'the broker gone from the ingress' });
      if (kind.name === 'kafka') {
        const log = new KafkaEventLog({ brokers: kafkaServers!.split(','), clientId: 'e2e-check', logger: silentLogger() });
        t.after(() => log.close());
        await waitUntil(async () => (await log.describeTopic(topic)) === undefined, { ...wait, message: `topic ${topic} deleted` });
      }
      assert.equal(await broker.stop('SIGTERM'), 0);
      assert.match(broker.stderr(), /shutting down/);
      assert.doesNotMatch(broker.stderr(), /"level":50/, 'no error was logged');
    });
  });
}
