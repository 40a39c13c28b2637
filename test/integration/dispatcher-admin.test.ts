import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { REPLAY_EXTENSION } from '../../dispatcher/dispatch.js';
import { kafkaBootstrapServers } from '../helpers/kafka.js';
import { kafkaLog, makeEvent, startScenario, startSubscriber, uniqueEgress } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * `kafka-broker dispatcher --admin-port`: the standalone dispatcher serves rewind, the record of
 * rewinds, tail and the live view behind its admin guard (a bearer token), as `start` does.
 */
const CLI = path.join(fileURLToPath(new URL('../../', import.meta.url)), 'bin', 'kafka-broker.js');
const TOKEN = 'dispatcher-admin-token-0123456789';

/** Reads an SSE stream until `done(text)` holds, then lets it go. */
async function readStream(response: Response, done: (text: string) => boolean, timeoutMs = 30_000): Promise<string> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + timeoutMs;
  try {
    while (!done(text)) {
      if (Date.now() > deadline) throw new Error(`the stream did not show what was expected: ${text}`);
      const { value, done: ended } = await reader.read();
      if (ended) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text;
}

test('the dispatcher process serves rewind, its record, tail and the live view behind its token', { timeout: 180_000 }, async (t) => {
  const subscriber = await startSubscriber(t);
  const egress = uniqueEgress('standalone', { destination: subscriber.url });
  const s = await startScenario(t, kafkaLog, { egresses: [egress], startDispatcher: false });
  const dir = await mkdtemp(path.join(tmpdir(), 'kb-dispatcher-admin-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const contractFile = path.join(dir, 'contract.json');
  await writeFile(contractFile, JSON.stringify(s.contracts.current()));
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, `${TOKEN}\n`);
  await chmod(tokenFile, 0o600);

  const child = spawn(process.execPath, [CLI, 'dispatcher', '--contract-file', contractFile, '--health-port', '0', '--admin-port', '0', '--admin-token-file', tokenFile, '--host', '127.0.0.1'], {
    env: { ...process.env, KAFKA_BOOTSTRAP_SERVERS: kafkaBootstrapServers().join(','), LOG_LEVEL: 'warn', DISPATCHER_COMMIT_INTERVAL_MS: '100' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.after(async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  });
  await waitUntil(() => /admin (http:\/\/\S+),/.test(stderr) || child.exitCode !== null, { timeoutMs: 60_000, message: 'the dispatcher started' });
  const admin = /admin (http:\/\/\S+),/.exec(stderr)?.[1];
  assert.ok(admin !== undefined, stderr);
  const bearer = { authorization: `Bearer ${TOKEN}` };

  await s.send([1, 2, 3].map((i) => makeEvent({ id: `e-${i}` })));
  await waitUntil(() => subscriber.ids().length === 3, { timeoutMs: 60_000, message: 'delivered by the dispatcher process' });

  const rewind = `${admin}/triggers/default/${egress.reference.name}/rewind`;
  const body = JSON.stringify({ to: 'earliest' });
  // Without the token, or from another site: refused, nothing moves.
  assert.equal((await fetch(rewind, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 401);
  assert.equal((await fetch(rewind, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://evil.example', ...bearer }, body })).status, 403);
  assert.equal((await fetch(rewind, { method: 'POST', headers: { 'content-type': 'text/plain', ...bearer }, body })).status, 415);
  const answer = await fetch(rewind, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer }, body });
  const result = (await answer.json()) as { redelivered: number; skipped: number };
  assert.equal(answer.status, 200, JSON.stringify(result));
  assert.equal(result.redelivered, 3);
  await waitUntil(() => subscriber.events().filter((e) => String(e.attributes[REPLAY_EXTENSION]) === 'true').length === 3, { timeoutMs: 60_000, message: 'the three re-delivered, marked' });

  const records = await fetch(`${admin}/triggers/default/${egress.reference.name}/rewinds`, { headers: bearer });
  const items = ((await records.json()) as { items: { who: string; to: string; redelivered: number }[] }).items;
  assert.deepEqual(items.map((r) => [r.who, r.to, r.redelivered]), [['admin', 'earliest', 3]]);
  assert.equal((await fetch(`${admin}/triggers/default/${egress.reference.name}/rewinds`)).status, 401);

  // Tail: the last events of the broker, as server-sent events; the same guard.
  const tailUrl = `${admin}/tail/default/${s.broker.reference.name}?n=3`;
  assert.equal((await fetch(tailUrl)).status, 401);
  assert.equal((await fetch(tailUrl, { headers: { origin: 'http://evil.example', ...bearer } })).status, 403);
  const stream = await fetch(tailUrl, { headers: bearer });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
  const text = await readStream(stream, (seen) => (seen.match(/^event: cloudevent$/gm) ?? []).length >= 3);
  for (const id of ['e-1', 'e-2', 'e-3']) assert.match(text, new RegExp(`"id":"${id}"`));

  const page = await fetch(`${admin}/tail`, { headers: bearer });
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /new EventSource\(/);
  assert.ok(html.includes(`>default/${s.broker.reference.name}</option>`), 'the broker can be chosen');
  assert.equal((await fetch(`${admin}/healthz`)).status, 200, 'health stays open');
});

test('the dispatcher refuses an admin API it cannot protect, in one line', { timeout: 60_000 }, async () => {
  const run = (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> => new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'dispatcher', '--contract-file', '/nonexistent.json', ...args], {
      env: { ...process.env, KAFKA_BOOTSTRAP_SERVERS: kafkaBootstrapServers().join(','), KAFKA_BROKER_ADMIN_TOKEN: '', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stderr }));
  });
  const cases: [string[], RegExp][] = [
    [['--admin-port', '0'], /the admin API needs a token: give --admin-token-file <file> or set KAFKA_BROKER_ADMIN_TOKEN/],
    [['--admin-port', '0', '--admin-host', '0.0.0.0', '--no-admin-auth'], /would listen on 0\.0\.0\.0 without authentication/],
    [['--admin-token-file', '/x'], /--admin-token-file needs --admin-port/],
  ];
  for (const [args, expected] of cases) {
    const { code, stderr } = await run(args);
    assert.equal(code, 1, stderr);
    assert.match(stderr, expected);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
  }
});
