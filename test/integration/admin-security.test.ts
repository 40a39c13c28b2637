import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import type { DeadLetterList } from '../../dispatcher/dead-letters/index.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http.js';
import { waitUntil } from '../helpers/wait.js';
import { deadLetterWorld, logKinds, type DeadLetterWorld } from './dead-letters-world.js';
import { adminHeaders, manifestsFolder, runCli, startBroker, TEST_STATE_HOME } from './start-cli.js';

/**
 * The admin API of `kafka-broker start` as an attacker and an operator meet it (issue 15): a real
 * process with a dead letter in its KafkaSink, on the in-memory log.
 */

describe('the admin API of kafka-broker start', { timeout: 300_000 }, () => {
  let w: DeadLetterWorld;
  let evil: RecordingServer;
  const teardown: (() => unknown)[] = [];
  after(async () => {
    for (const fn of teardown.reverse()) await fn();
  });

  before(async () => {
    w = await deadLetterWorld({ after: (fn) => void teardown.push(fn) }, logKinds[0]!);
    evil = await startRecordingServer();
    teardown.push(() => evil.close());
    await w.send('sec-1');
    await waitUntil(async () => {
      const response = await fetch(`${w.broker.adminUrl}/dead-letters/events?sink=${w.ns}/dls`, { headers: adminHeaders() });
      return ((await response.json()) as DeadLetterList).items.length > 0;
    }, { ...w.wait, message: 'the dead letter in the sink' });
  });

  const deadLetter = async (): Promise<DeadLetterList['items'][number]> => {
    const response = await fetch(`${w.broker.adminUrl}/dead-letters/events?sink=${w.ns}/dls`, { headers: adminHeaders() });
    return ((await response.json()) as DeadLetterList).items[0]!;
  };

  test('the CSRF reproduction (a text/plain form POST from evil.example, under its Host) gets a 4xx and replays nothing', async () => {
    const url = new URL('/dead-letters/replay', w.broker.adminUrl);
    const body = JSON.stringify({ all: true, to: `${evil.url}/steal` });
    const attempts: Record<string, string>[] = [
      { 'content-type': 'text/plain', origin: 'http://evil.example', host: 'evil.example' },
      { 'content-type': 'text/plain', origin: 'http://evil.example' },
      { 'content-type': 'application/json', origin: 'http://evil.example' },
      { 'content-type': 'application/json' },
      // Even with the token, never a form or text/plain post, never from another origin.
      { 'content-type': 'text/plain', ...adminHeaders() },
      { 'content-type': 'application/json', origin: 'http://evil.example', ...adminHeaders() },
    ];
    for (const headers of attempts) {
      const response = await request(url, { method: 'POST', headers, body });
      const text = await response.body.text();
      assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${JSON.stringify(headers)}: ${response.statusCode} ${text}`);
    }
    w.failing = false;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(evil.requests, [], 'nothing was sent to the attacker');
    assert.equal((await deadLetter()).replay, null, 'and nothing was replayed');
  });

  test('without the token: 401; the CLI with a wrong one says so in one line', async () => {
    assert.equal((await fetch(`${w.broker.adminUrl}/contract`)).status, 401);
    const wrong = await runCli(['dead-letters', 'list', '--server', w.broker.adminUrl], { KAFKA_BROKER_ADMIN_TOKEN: 'not-the-token-not-the-token' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^kafka-broker dead-letters: the admin API at http:\/\/127\.0\.0\.1:\d+ refused the token: give --token-file <file> or set KAFKA_BROKER_ADMIN_TOKEN .*\n$/);
    const right = await w.deadLetters('list', '--sink', `${w.ns}/dls`);
    assert.equal(right.code, 0, right.stderr);
  });

  test('start wrote its generated token readable by its owner only, and names the file', async () => {
    const file = path.join(TEST_STATE_HOME, 'kafka-broker', 'admin-token');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(path.dirname(file))).mode & 0o777, 0o700);
    assert.match(w.broker.stderr(), new RegExp(`admin token in ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
  });

  test("replay --to may not name the broker's own admin API or ingress; another URL is fine", async () => {
    for (const to of [`${w.broker.adminUrl}/dead-letters/replay`, `${w.broker.ingressUrl}/${w.ns}/default`, 'file:///etc/passwd']) {
      const result = await w.deadLetters('replay', 'sec-1', '--to', to);
      assert.equal(result.code, 1, to);
      assert.match(result.stderr, /^kafka-broker dead-letters: to (may not be the broker's own admin API or ingress|must be an absolute http or https URL)/, to);
    }
    assert.equal((await deadLetter()).replay, null);
    const result = await w.deadLetters('replay', 'sec-1', '--to', `${w.subscriber.url}/pay`);
    assert.equal(result.code, 0, result.stderr);
  });
});

describe('where the admin API listens', { timeout: 120_000 }, () => {
  test('on loopback, even when the ingress listens on every interface (--host 0.0.0.0)', async (t) => {
    const folder = await manifestsFolder(t);
    const broker = await startBroker(t, { manifests: folder.dir, env: { KAFKA_BOOTSTRAP_SERVERS: '' }, args: ['--host', '0.0.0.0'] });
    const adminPort = new URL(broker.adminUrl).port;
    const ingressPort = new URL(broker.ingressUrl).port;
    assert.equal((await fetch(`http://127.0.0.1:${adminPort}/healthz`)).status, 200);
    const external = Object.values(networkInterfaces()).flatMap((l) => l ?? []).find((i) => i.family === 'IPv4' && !i.internal);
    if (external !== undefined) {
      assert.equal((await fetch(`http://${external.address}:${ingressPort}/healthz`)).status, 200, 'the ingress is on every interface');
      await assert.rejects(fetch(`http://${external.address}:${adminPort}/healthz`), 'the admin API is not');
    }
  });

  test('elsewhere it refuses to start without authentication', async (t) => {
    const folder = await manifestsFolder(t);
    const result = await runCli(['start', '--manifests', folder.dir, '--admin-port', '0', '--port', '0', '--admin-host', '0.0.0.0', '--no-admin-auth'], { KAFKA_BROKER_ADMIN_TOKEN: '' });
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'kafka-broker start: the admin API would listen on 0.0.0.0 without authentication; listen on 127.0.0.1 (the default) or give it a token (drop --no-admin-auth)\n');
  });
});
