import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { assertCommands, docCommands, type DocCommands } from '../helpers/docs.js';
import { startExampleSubscriber } from '../helpers/example-subscriber.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { ROOT, runCommand, startBroker } from './start-cli.js';

/**
 * Runs the commands of docs/channels.md on examples/channels, as a user types them, and checks
 * that they show what the page says — on the in-memory log and on Kafka. What a test cannot do
 * verbatim is changed in `adapt`: fixed ports become free ones (8080 ingress, 9090 admin, 8081
 * subscriber), the manifests are a copy with the subscriber's port changed, and on Kafka the
 * namespace `default` becomes a unique one so that runs on a shared Kafka never meet.
 */

const DOC = path.join(ROOT, 'docs', 'channels.md');
const EXPECTED_COMMANDS: readonly (string | RegExp)[] = [
  'npx kafka-broker start --manifests examples/channels',
  'node examples/subscriber.mjs',
  /^curl -i -X POST http:\/\/127\.0\.0\.1:8080\/channels\/default\/orders /,
  'npx kafka-broker get channels',
  'npx kafka-broker get subscriptions',
  'npx kafka-broker get inmemorychannels',
];

async function readDoc(): Promise<DocCommands> {
  return docCommands(await readFile(DOC, 'utf8'));
}

const kafkaServers = process.env['KAFKA_BOOTSTRAP_SERVERS'];

describe('docs/channels.md on examples/channels', { timeout: 600_000 }, () => {
  test('the page lists exactly the commands this test runs', async () => {
    const { commands } = await readDoc();
    assertCommands(commands, EXPECTED_COMMANDS);
  });

  for (const variant of ['memory', 'kafka'] as const) {
    test(`steps 1 to 4, on ${variant === 'memory' ? 'the in-memory log' : 'Kafka'}`, async (t) => {
      if (variant === 'kafka' && !kafkaServers) throw new Error('KAFKA_BOOTSTRAP_SERVERS is not set: run with `npm test`, or start Kafka with `npm run kafka`');
      // In memory too each `get` is a node process, seconds apiece on a busy CI machine.
      const timeoutMs = variant === 'kafka' ? 90_000 : 60_000;
      const { commands, outputs } = await readDoc();
      const ns = variant === 'kafka' ? uniqueName('channels-doc') : 'default';
      // 2. node examples/subscriber.mjs: first here, since the manifests name its port.
      // `exec`: the signal that stops it reaches node, not only the shell.
      const subscriber = await startExampleSubscriber(t, (port) => spawn('sh', ['-c', `exec ${commands[1]!}`], { cwd: ROOT, env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] }));
      const subscriberPort = subscriber.port;
      const manifests = await mkdtemp(path.join(tmpdir(), 'kb-channels-'));
      t.after(() => rm(manifests, { recursive: true, force: true }));
      await cp(path.join(ROOT, 'examples', 'channels'), manifests, { recursive: true });
      for (const file of await readdir(manifests)) {
        const text = await readFile(path.join(manifests, file), 'utf8');
        await writeFile(path.join(manifests, file), text.replaceAll('127.0.0.1:8081', `127.0.0.1:${subscriberPort}`).replaceAll('namespace: default', `namespace: ${ns}`));
      }

      // 1. npx kafka-broker start --manifests examples/channels (the copy, on free ports)
      assert.match(commands[0]!, /^npx kafka-broker start --manifests examples\/channels$/);
      const broker = await startBroker(t, { manifests, env: { KAFKA_BOOTSTRAP_SERVERS: variant === 'kafka' ? kafkaServers : '' } });
      const ingressPort = new URL(broker.ingressUrl).port;
      const adminUrl = broker.adminUrl;
      const adapt = (text: string): string =>
        text.replaceAll('127.0.0.1:8080', `127.0.0.1:${ingressPort}`).replaceAll('127.0.0.1:8081', `127.0.0.1:${subscriberPort}`).replaceAll('/channels/default/', `/channels/${ns}/`);

      const printed = (): string => subscriber.output();
      const env = { KAFKA_BROKER_ADMIN_URL: adminUrl };
      const get = async (command: string): Promise<string> => {
        const result = await runCommand('sh', ['-c', command], { env });
        assert.equal(result.code, 0, result.stderr);
        return result.stdout;
      };
      await waitUntil(async () => get(commands[4]!).then((out) => out.trim().split('\n').slice(1).every((row) => /\sTrue\s/.test(row))), { timeoutMs, intervalMs: 200, message: 'both subscriptions Ready' });

      // 3. curl: 202, and both subscriptions get the event, as the page shows (timestamps aside).
      const curl = await runCommand('sh', ['-c', adapt(commands[2]!)]);
      assert.equal(curl.code, 0, curl.stderr);
      assert.match(curl.stdout, /^HTTP\/1\.1 202 Accepted/);
      const shown = outputs[0]!.trim().split('\n').map((line) => line.replace(/^\S+ /, ''));
      assert.equal(shown.length, 2);
      await waitUntil(() => shown.every((line) => printed().includes(line)), { timeoutMs, message: `the subscriber printing:\n${shown.join('\n')}` });

      // 4. get channels / subscriptions / the backing kind (inmemorychannels; kafkachannels on Kafka)
      const channels = await get(commands[3]!);
      const backing = variant === 'kafka' ? 'KafkaChannel' : 'InMemoryChannel';
      const url = `http://127.0.0.1:${ingressPort}/channels/${ns}/orders`;
      const [header] = outputs[1]!.trim().split('\n');
      assert.equal(channels.split('\n')[0]!.replace(/\s+/g, ' '), header!.replace(/\s+/g, ' '));
      assert.match(channels, new RegExp(`\\n${ns}\\s+orders\\s+${backing}\\s+True\\s+2/2\\s+${url.replaceAll('.', '\\.')}\\s+\\d[\\dsmhdy]*\\n$`));
      const subscriptions = await get(commands[4]!);
      assert.match(subscriptions, new RegExp(`\\n${ns}\\s+audit\\s+Channel/orders\\s+True\\s+http://127\\.0\\.0\\.1:${subscriberPort}/audit\\s+\\d[\\dsmhdy]*\\n`));
      const backingCommand = variant === 'kafka' ? commands[5]!.replace('inmemorychannels', 'kafkachannels') : commands[5]!;
      assert.match(await get(backingCommand), new RegExp(`\\n${ns}\\s+orders\\s+True\\s+2/2\\s+${url.replaceAll('.', '\\.')}\\s+\\d[\\dsmhdy]*\\n$`));

      assert.equal(await broker.stop('SIGTERM'), 0);
    });
  }
});
