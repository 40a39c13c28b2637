// The fault suite's short version (`npm test`): scenarios 1, 3 and 5 with a few hundred events,
// failing on any acknowledged event lost. 1 and 5 run on the tests' Kafka; 3 restarts Kafka, so
// it starts its own. `npm run faults` runs all eight at full size (test/faults/run.ts).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { kafkaBootstrapServers } from '../helpers/kafka.js';
import { startOwnInfra } from './infra.js';
import { SCENARIOS, SHORT } from './scenarios.js';
import { formatReport, type ReportRow } from './tally.js';
import type { Infra } from './world.js';

const log = (line: string): void => {
  if (process.env['FAULTS_VERBOSE'] === '1') process.stderr.write(`${line}\n`);
};
const workDir = await mkdtemp(path.join(tmpdir(), 'kafka-broker-faults-short-'));
after(() => (process.env['FAULTS_KEEP'] === '1' ? undefined : rm(workDir, { recursive: true, force: true })));
const shared: Infra = { kafka: kafkaBootstrapServers().join(','), workDir, log };

function scenario(key: string): (typeof SCENARIOS)[number] {
  const found = SCENARIOS.find((s) => s.key === key);
  assert.ok(found, key);
  return found;
}

function assertNothingLost(row: ReportRow): void {
  process.stderr.write(`${formatReport([row])}\n`);
  assert.ok(row.tally.acknowledged > 0, 'the producers got acknowledgements');
  assert.equal(row.tally.lost, 0, `acknowledged events lost: ${row.tally.lostSample.join(', ')}`);
}

test('1. SIGKILL of a dispatcher, repeated: nothing acknowledged is lost', { timeout: 240_000 }, async () => {
  assertNothingLost(await scenario('dispatcher-kill').run(shared, SHORT));
});

test('5. failing, slow and stalled subscribers: nothing lost, healthy triggers keep flowing', { timeout: 240_000 }, async () => {
  const row = await scenario('subscriber-faults').run(shared, SHORT);
  assertNothingLost(row);
  assert.ok(row.tally.longestGapMs < SHORT.faultMs, `healthy triggers stalled for ${row.tally.longestGapMs} ms while one subscriber was stalled`);
});

test('3. Kafka stopped and restarted under load: nothing acknowledged is lost', { timeout: 300_000 }, async (t) => {
  const own = await startOwnInfra({ proxy: false, log, heapMb: 384 });
  t.after(() => own.close());
  assertNothingLost(await scenario('kafka-restart').run(own, SHORT));
});
