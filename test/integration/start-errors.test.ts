import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { manifestsFolder, runCli, startBroker } from './start-cli.js';

/**
 * What a user sees when `start` or `get` cannot do its job: one line on stderr naming the
 * problem, a non-zero exit code, never a stack trace.
 */

const memory = { KAFKA_BOOTSTRAP_SERVERS: '' };

function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}

async function takenPort(t: { after(fn: () => unknown): void }): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

describe('kafka-broker start: start-up errors', () => {
  test('a missing manifests folder', async () => {
    const result = await runCli(['start', '--manifests', '/nonexistent/manifests'], memory);
    assert.equal(result.code, 1);
    assertOneLine(result.stderr, /^kafka-broker start: manifests folder "\/nonexistent\/manifests" does not exist$/);
  });

  test('no --manifests, or an unknown flag', async () => {
    const missing = await runCli(['start'], memory);
    assert.equal(missing.code, 1);
    assertOneLine(missing.stderr, /--manifests <dir> is required/);
    const unknown = await runCli(['start', '--manifests', '.', '--prot', '1'], memory);
    assert.equal(unknown.code, 1);
    assertOneLine(unknown.stderr, /^kafka-broker: unknown flag --prot; did you mean --port\? \(see kafka-broker start --help\)$/);
  });

  test('the ingress port is taken', async (t) => {
    const folder = await manifestsFolder(t);
    const port = await takenPort(t);
    const result = await runCli(['start', '--manifests', folder.dir, '--port', String(port), '--admin-port', '0'], memory);
    assert.equal(result.code, 1);
    assertOneLine(result.stderr, new RegExp(`^kafka-broker start: ingress: .*port ${port} is already in use; choose another with --port$`));
  });

  test('the admin port is taken', async (t) => {
    const folder = await manifestsFolder(t);
    const port = await takenPort(t);
    const result = await runCli(['start', '--manifests', folder.dir, '--port', '0', '--admin-port', String(port)], memory);
    assert.equal(result.code, 1);
    assertOneLine(result.stderr, /admin API: .*already in use; choose another with --admin-port$/);
  });

  test('Kafka unreachable at start', async (t) => {
    const folder = await manifestsFolder(t);
    // Port 1 on loopback: nothing listens there.
    const result = await runCli(['start', '--manifests', folder.dir, '--port', '0', '--admin-port', '0', '--kafka', '127.0.0.1:1'], memory);
    assert.equal(result.code, 1);
    assertOneLine(result.stderr, /^kafka-broker start: cannot reach Kafka at 127\.0\.0\.1:1 \(from --kafka\)/);
    const fromEnv = await runCli(['start', '--manifests', folder.dir, '--port', '0', '--admin-port', '0'], { KAFKA_BOOTSTRAP_SERVERS: 'not a list' });
    assert.equal(fromEnv.code, 1);
    assertOneLine(fromEnv.stderr, /KAFKA_BOOTSTRAP_SERVERS must be host:port/);
  });

  test('says it runs in memory, and exits 0 on SIGINT', async (t) => {
    const folder = await manifestsFolder(t);
    const broker = await startBroker(t, { manifests: folder.dir, env: memory });
    assert.match(broker.stderr(), /kafka-broker: ingress http:\/\/127\.0\.0\.1:\d+\s+admin http:\/\/127\.0\.0\.1:\d+\s+in-memory event log \(dev mode: events do not survive a restart\)/);
    const ready = await fetch(`${broker.ingressUrl}/readyz`);
    assert.equal(ready.status, 200, 'ready once the manifests are loaded');
    assert.equal(await broker.stop('SIGINT'), 0);
  });
});

describe('kafka-broker get: errors', () => {
  test('no admin API at the address', async () => {
    // Port 1: nothing listens there and no test process can take it, unlike a port that was free a moment ago.
    const result = await runCli(['get', 'brokers', '--server', 'http://127.0.0.1:1']);
    assert.equal(result.code, 1);
    assertOneLine(result.stderr, /cannot reach the admin API at http:\/\/127\.0\.0\.1:\d+/);
  });

  test('an unknown kind, a bad output format', async () => {
    const kind = await runCli(['get', 'pods']);
    assert.equal(kind.code, 1);
    assertOneLine(kind.stderr, /unknown kind "pods" \(one of brokers, triggers/);
    const output = await runCli(['get', 'brokers', '-o', 'xml']);
    assert.equal(output.code, 1);
    assertOneLine(output.stderr, /-o must be table, wide, json or yaml, got "xml"/);
  });
});
