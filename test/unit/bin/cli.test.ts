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
  assert.match(result.stderr, /unknown command 'frobnicate'/);
});
