import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { DeadLetterList } from '../../dispatcher/dead-letters/index.js';
import { startExampleSubscriber } from '../helpers/example-subscriber.js';
import { waitUntil } from '../helpers/wait.js';
import { ROOT, runCli, runCommand, startBroker, type KnList } from './start-cli.js';

/**
 * examples/dead-letters as its README walks through it, on the in-memory log: the manifests as
 * shipped (a copy, with the subscriber on a free port instead of 8081), examples/subscriber.mjs
 * and examples/send-event.sh, then list, show, the subscriber fixed in trigger.yaml, and replay.
 */

test('examples/dead-letters: a refund is dead-lettered, listed, shown and, once the subscriber is fixed, replayed', { timeout: 300_000 }, async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kb-dead-letters-example-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(path.join(ROOT, 'examples', 'dead-letters'), dir, { recursive: true });
  const subscriber = await startExampleSubscriber(t, (free) => spawn(process.execPath, [path.join(ROOT, 'examples', 'subscriber.mjs'), String(free)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  const port = subscriber.port;
  const triggerFile = path.join(dir, 'trigger.yaml');
  await writeFile(triggerFile, (await readFile(triggerFile, 'utf8')).replaceAll('127.0.0.1:8081', `127.0.0.1:${port}`));

  const broker = await startBroker(t, { manifests: dir, env: { KAFKA_BOOTSTRAP_SERVERS: '' } });
  const wait = { timeoutMs: 30_000, intervalMs: 100 };
  const ready = async (kind: string): Promise<KnList> => JSON.parse((await broker.get(kind, '-o', 'json')).stdout) as KnList;
  await waitUntil(async () => (await ready('kafkasinks')).items[0]?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
    && (await ready('triggers')).items[0]?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), { ...wait, message: 'the sink and the trigger Ready' });
  const deadLetters = (...args: string[]) => runCli(['dead-letters', ...args, '--server', broker.adminUrl]);

  // 1. Send a refund.
  const sent = await runCommand(path.join(ROOT, 'examples', 'send-event.sh'), ['binary', 'com.example.refund'], { env: { BROKER_URL: `${broker.ingressUrl}/default/default` } });
  assert.match(sent.stdout, /HTTP 202/);
  await waitUntil(() => (subscriber.output().match(/\/fail\/refunds .* -> answered 500/g) ?? []).length === 2, { ...wait, message: 'two failed attempts' });

  // 2. List.
  const list = await waitUntil(async () => {
    const parsed = JSON.parse((await deadLetters('list', '-o', 'json')).stdout) as DeadLetterList;
    return parsed.items.length === 1 ? parsed : undefined;
  }, { ...wait, message: 'the dead letter' });
  const [item] = list.items;
  assert.equal(item!.type, 'com.example.refund');
  assert.deepEqual(item!.failedFor, { kind: 'Trigger', namespace: 'default', name: 'refunds' });
  assert.equal(item!.errorCode, 500);
  const table = await deadLetters('list');
  assert.match(table.stdout, new RegExp(`\\n${item!.id}\\s+com\\.example\\.refund\\s+/shop\\s+trigger/default/refunds\\s+http://127\\.0\\.0\\.1:${port}/fail/refunds\\s+500\\s`));

  // 3. Show.
  const shown = await deadLetters('show', item!.id);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /\nData \(12 bytes\):\n {2}\{"order":42\}\n/);

  // 5. Fix the subscriber in trigger.yaml, then replay: it goes to the trigger as it is now.
  await writeFile(triggerFile, (await readFile(triggerFile, 'utf8')).replace('/fail/refunds', '/refunds'));
  await waitUntil(async () => (await ready('triggers')).items[0]?.status?.subscriberUri === `http://127.0.0.1:${port}/refunds`, { ...wait, message: 'the fixed subscriber' });
  const replayed = await deadLetters('replay', item!.id);
  assert.equal(replayed.code, 0, replayed.stderr);
  assert.match(replayed.stdout, new RegExp(`^${item!.id} \\(default/dead-letters/\\d/0\\): delivered to Trigger default/refunds at http://127\\.0\\.0\\.1:${port}/refunds\\n$`));
  await waitUntil(() => new RegExp(`/refunds  type=com\\.example\\.refund source=/shop id=${item!.id} amount=250  data=\\{"order":42\\}\\n`).test(subscriber.output()), { ...wait, message: 'the replayed refund at /refunds' });
  const fixedLines = subscriber.output().split('\n').filter((line) => /^\S+ \/refunds {2}/.test(line));
  assert.equal(fixedLines.length, 1);
  assert.doesNotMatch(fixedLines[0]!, /knativeerror/);
  assert.equal((await deadLetters('replay', item!.id)).code, 1, 'again: --force needed');
});
