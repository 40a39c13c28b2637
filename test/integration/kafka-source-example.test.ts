import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { decodeHttp } from '../../core/cloudevents/http-binding.js';
import { answer, startSubscriber } from '../helpers/servers.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { readyOf, ROOT, runCommand, startBroker, type KnList } from './start-cli.js';

/**
 * Runs examples/kafka-source as its README says, on Kafka: a plain producer fills a topic, the
 * broker starts on the quick-start manifests plus the example's, and the records reach the
 * subscriber as CloudEvents through the broker and a trigger. What a test cannot take verbatim is
 * changed in the copy: the namespace and the topic become unique (the Kafka is shared), the
 * bootstrap servers and the subscriber's port become the real ones.
 */

const kafkaServers = process.env['KAFKA_BOOTSTRAP_SERVERS'];

describe('examples/kafka-source on Kafka', { timeout: 300_000 }, () => {
  test('a plain producer\'s records reach the subscriber through the quick-start broker', async (t) => {
    if (!kafkaServers) throw new Error('KAFKA_BOOTSTRAP_SERVERS is not set: run with `npm test`, or start Kafka with `npm run kafka`');
    const ns = uniqueName('ks-example');
    const topic = `${ns}-legacy-orders`;
    const sub = await startSubscriber(t);
    sub.respond(async (_request, response) => answer(response, 200));
    const subscriberHost = new URL(sub.url).host;
    const readme = await readFile(path.join(ROOT, 'examples', 'kafka-source', 'README.md'), 'utf8');
    assert.match(readme, /node examples\/kafka-source\/produce\.mjs 3/);
    assert.match(readme, /cp examples\/quickstart\/\*\.yaml examples\/kafka-source\/\*\.yaml/);

    // 1. The producer (the example's script, on the shared Kafka and a unique topic).
    const produced = await runCommand(process.execPath, ['examples/kafka-source/produce.mjs', '3'], { env: { KAFKA_BOOTSTRAP_SERVERS: kafkaServers, TOPIC: topic } });
    assert.equal(produced.code, 0, produced.stderr);
    assert.match(produced.stdout, new RegExp(`^produced 3 record\\(s\\) to ${topic} `));

    // 2. The quick-start manifests and the example's in one folder, adapted.
    const manifests = await mkdtemp(path.join(tmpdir(), 'kb-kafka-source-'));
    t.after(() => rm(manifests, { recursive: true, force: true }));
    for (const folder of ['quickstart', 'kafka-source']) {
      for (const file of (await readdir(path.join(ROOT, 'examples', folder))).filter((f) => f.endsWith('.yaml'))) {
        await cp(path.join(ROOT, 'examples', folder, file), path.join(manifests, file));
      }
    }
    for (const file of await readdir(manifests)) {
      const text = await readFile(path.join(manifests, file), 'utf8');
      await writeFile(path.join(manifests, file), text
        .replaceAll('namespace: default', `namespace: ${ns}`)
        .replaceAll('127.0.0.1:8081', subscriberHost)
        .replaceAll('- 127.0.0.1:9092', `- ${kafkaServers.split(',')[0]!}`)
        .replaceAll('- legacy-orders', `- ${topic}`));
    }
    const broker = await startBroker(t, { manifests, env: { KAFKA_BOOTSTRAP_SERVERS: kafkaServers } });

    // 3. The records arrive at /legacy-orders, converted.
    const at = () => sub.requests.filter((r) => r.url === '/legacy-orders').flatMap((r) => {
      const decoded = decodeHttp(r.headers, r.body);
      if (!decoded.ok) throw new assert.AssertionError({ message: `an invalid CloudEvent: ${decoded.error.message}` });
      return decoded.events;
    });
    await waitUntil(() => at().length >= 3, { timeoutMs: 90_000, intervalMs: 100, message: '3 events at /legacy-orders' });
    const events = at();
    assert.deepEqual(events.map((e) => e.attributes['key']), ['customer-1', 'customer-2', 'customer-3']);
    assert.deepEqual(events.map((e) => e.attributes['id']), ['partition:0/offset:0', 'partition:0/offset:1', 'partition:0/offset:2']);
    const [first] = events;
    assert.equal(first!.attributes['type'], 'dev.knative.kafka.event');
    assert.equal(first!.attributes['source'], `/apis/v1/namespaces/${ns}/kafkasources/legacy-orders#${topic}`);
    assert.equal(first!.attributes['kafkaheaderxsystem'], 'legacy-shop');
    assert.equal(first!.attributes['origin'], 'legacy');
    assert.equal(first!.attributes['datacontenttype'], 'application/json');
    assert.deepEqual(JSON.parse(first!.data!.toString()), { order: 1, amount: 100 });

    // 4. get kafkasources shows it Ready.
    const list = JSON.parse((await broker.get('kafkasources', '-n', ns, '-o', 'json')).stdout) as KnList;
    assert.equal(readyOf(list.items.find((i) => i.metadata.name === 'legacy-orders'))?.status, 'True');
  });
});
