import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const run = (...args: string[]) => spawnSync(process.execPath, ['bin/kafka-broker.js', ...args], { encoding: 'utf8' });

test('kafka-broker --help lists the commands and exits 0', () => {
  const result = run('--help');
  assert.equal(result.status, 0);
  assert.match(result.stdout, /Usage: kafka-broker <command>/);
});

test('kafka-broker --version prints the package version', () => {
  const result = run('--version');
  assert.equal(result.status, 0);
  assert.match(result.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('an unknown command is one line on stderr and exit code 1', () => {
  const result = run('frobnicate');
  assert.equal(result.status, 1);
  assert.equal(result.stderr.trim().split('\n').length, 1);
  assert.match(result.stderr, /unknown command frobnicate \(see kafka-broker --help\)/);
});

test('an unknown flag is one line with a did-you-mean, not parseArgs\' message', () => {
  const result = run('start', '--manifests', '.', '--prot', '1');
  assert.equal(result.status, 1);
  assert.equal(result.stderr, 'kafka-broker: unknown flag --prot; did you mean --port? (see kafka-broker start --help)\n');
  const get = run('get', 'brokers', '--sever', 'x');
  assert.equal(get.stderr, 'kafka-broker: unknown flag --sever; did you mean --server? (see kafka-broker get --help)\n');
  const far = run('get', 'brokers', '--frobnicate');
  assert.equal(far.stderr, 'kafka-broker: unknown flag --frobnicate (see kafka-broker get --help)\n');
  const missing = run('start', '--port');
  assert.equal(missing.stderr, 'kafka-broker: flag --port needs a value (see kafka-broker start --help)\n');
});

test('an unknown command or kind gets a did-you-mean', () => {
  assert.equal(run('strat').stderr, 'kafka-broker: unknown command strat; did you mean start? (see kafka-broker --help)\n');
  assert.equal(run('--verison').stderr, 'kafka-broker: unknown flag --verison; did you mean --version? (see kafka-broker --help)\n');
  const kind = run('describe', 'trigers', 'x');
  assert.equal(kind.status, 1);
  assert.match(kind.stderr, /^kafka-broker describe: unknown kind "trigers"; did you mean triggers\? \(one of brokers, triggers/);
});

test('--log-format takes json or pretty', () => {
  const format = run('ingress', '--contract-file', 'x', '--kafka', '127.0.0.1:1', '--log-format', 'prety');
  assert.equal(format.status, 1);
  assert.equal(format.stderr, 'kafka-broker ingress: --log-format must be json or pretty, got "prety"; did you mean pretty?\n');
});

test('every command that reads the admin API says so in its help, with KAFKA_BROKER_ADMIN_URL', () => {
  for (const command of ['get', 'describe', 'dead-letters']) {
    const result = run(command, '--help');
    assert.equal(result.status, 0, command);
    assert.match(result.stdout, /--server <url> .*\$KAFKA_BROKER_ADMIN_URL/s, command);
  }
});
