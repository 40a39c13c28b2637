import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { warmUpEventsOf } from '../../../bin/commands/start.js';
import { WARM_UP_ROUNDS, warmUp } from '../../../bin/warm-up.js';

/** Sockets and servers open in this process, by kind. */
function openNetHandles(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap' || kind === 'TCPServerWrap').length;
}

test('the warm-up delivers every event through its private data path and leaves nothing open', async () => {
  const before = openNetHandles();
  const result = await warmUp(301);
  assert.equal(result.events, 301);
  assert.equal(result.rounds, WARM_UP_ROUNDS);
  assert.ok(result.ms > 0);
  // Servers and connections are closed when it returns; their handles go within moments.
  for (let waited = 0; openNetHandles() > before && waited < 2000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(openNetHandles(), before);
});

test('the warm-up runs in two rounds (each on new instances), fewer when there are fewer events', async () => {
  assert.equal(WARM_UP_ROUNDS, 2);
  assert.deepEqual({ ...(await warmUp(1)), ms: 0 }, { events: 1, rounds: 1, ms: 0 });
  assert.deepEqual({ ...(await warmUp(2)), ms: 0 }, { events: 2, rounds: 2, ms: 0 });
});

test('a warm-up stopped before it starts sends nothing', async () => {
  const stop = new AbortController();
  stop.abort();
  assert.deepEqual({ ...(await warmUp(100, stop.signal)), ms: 0 }, { events: 0, rounds: 0, ms: 0 });
});

test('a warm-up of no events does nothing', async () => {
  assert.deepEqual(await warmUp(0), { events: 0, rounds: 0, ms: 0 });
});

test('WARM_UP_EVENTS: a whole number from 0, unset or empty for the default', () => {
  const cases: [string | undefined, number | RegExp][] = [
    [undefined, 3000],
    ['', 3000],
    [' 500 ', 500],
    ['0', 0],
    ['100000', 100_000],
    ['100001', /WARM_UP_EVENTS must be a whole number from 0 to 100000, got "100001"$/],
    ['-1', /got "-1"/],
    ['1.5', /got "1.5"/],
    ['many', /got "many"/],
  ];
  for (const [raw, expected] of cases) {
    if (typeof expected === 'number') assert.equal(warmUpEventsOf(raw), expected, String(raw));
    else assert.throws(() => warmUpEventsOf(raw), expected, String(raw));
  }
});

test('start refuses a bad WARM_UP_EVENTS in one line', () => {
  const run = spawnSync(process.execPath, ['bin/kafka-broker.js', 'start', '--manifests', 'examples/quickstart'], {
    encoding: 'utf8', env: { ...process.env, WARM_UP_EVENTS: 'lots', KAFKA_BOOTSTRAP_SERVERS: '' },
  });
  assert.notEqual(run.status, 0);
  assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  assert.match(run.stderr, /WARM_UP_EVENTS must be a whole number/);
});
