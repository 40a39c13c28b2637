// The scale-down hand-over KEDA relies on, on the tests' Kafka: two `kafka-broker dispatcher`
// processes share each trigger's consumer group (its partitions spread over both); one gets
// SIGTERM while events flow, as when a replica is scaled away. It must finish what it has in
// flight, commit and leave the group; the other takes its partitions. Nothing acknowledged may
// be lost, and duplicates stay within the in-flight window of the egresses that moved.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaBootstrapServers } from '../helpers/kafka.js';
import { until } from './cluster.js';
import { formatReport } from './tally.js';
import { inWorld, type Infra } from './world.js';

const log = (line: string): void => {
  if (process.env['FAULTS_VERBOSE'] === '1') process.stderr.write(`${line}\n`);
};
const workDir = await mkdtemp(path.join(tmpdir(), 'kafka-broker-scale-down-'));
after(() => (process.env['FAULTS_KEEP'] === '1' ? undefined : rm(workDir, { recursive: true, force: true })));
const shared: Infra = { kafka: kafkaBootstrapServers().join(','), workDir, log };

const IN_FLIGHT = 10;
const TRIGGERS = ['t1', 't2'];
const PARTITIONS = 6;

/** Which members of a group hold how many partitions (by client host, the one thing that tells the processes apart here: their member ids). */
async function assignment(groupId: string): Promise<number[]> {
  const admin = new Kafka({ brokers: kafkaBootstrapServers(), clientId: 'scale-down-test', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups[0];
    if (group === undefined || group.state !== 'Stable') return [];
    return group.members.map((m) => {
      const buffer = m.memberAssignment;
      // ConsumerProtocolAssignment: version (2), then [topic (string), [partition (int32)]].
      if (buffer.length < 6) return 0;
      let offset = 2;
      const topics = buffer.readInt32BE(offset);
      offset += 4;
      let partitions = 0;
      for (let t = 0; t < topics; t++) {
        const length = buffer.readInt16BE(offset);
        offset += 2 + length;
        const count = buffer.readInt32BE(offset);
        offset += 4 + 4 * count;
        partitions += count;
      }
      return partitions;
    }).sort();
  } finally {
    await admin.disconnect();
  }
}

test('scale-down: SIGTERM of one of two dispatchers hands its partitions over with nothing lost', { timeout: 300_000 }, async () => {
  const row = await inWorld(shared, 'scale-down', {
    triggers: TRIGGERS.map((name) => ({ name })),
    ingresses: 1,
    dispatchers: 2,
    env: { DISPATCHER_MAX_IN_FLIGHT_PER_EGRESS: String(IN_FLIGHT), CONTROLLER_TOPIC_PARTITIONS: String(PARTITIONS) },
  }, async (world) => {
    const groups = TRIGGERS.map((t) => `knative-trigger-${world.namespace}-${t}`);
    // Both replicas hold part of each group's partitions (KEDA adds replicas for this to help).
    for (const group of groups) {
      await until(async () => {
        const held = await assignment(group);
        return held.length === 2 && held.every((n) => n > 0) && held.reduce((a, b) => a + b, 0) === PARTITIONS;
      }, 60_000, `${group}'s partitions spread over both dispatchers`);
    }

    const producing = world.produce({ count: 600, perSecond: 100 });
    await sleep(2500);
    const stopping = Date.now();
    await world.cluster.terminate('dispatcher-1');
    const stopMs = Date.now() - stopping;
    log(`scale-down: dispatcher-1 exited ${stopMs} ms after SIGTERM`);
    assert.equal(world.cluster.running('dispatcher-1'), false);
    // The survivor holds every partition of each group once the group settled.
    for (const group of groups) {
      await until(async () => {
        const held = await assignment(group);
        return held.length === 1 && held[0] === PARTITIONS;
      }, 60_000, `${group}'s partitions all on the remaining dispatcher`);
    }
    await producing;
    await world.drain(60_000);
    const exitLog = await readFile(path.join(world.dir, 'dispatcher-1.log'), 'utf8');
    // The cluster writes each exit to the process's log: a clean shutdown exits 0.
    assert.match(exitLog, /SIGTERM: shutting down[\s\S]*exit 0\n/, 'dispatcher-1 shut down in order');
    assert.ok(world.cluster.crashes.length === 0, `no process exited on its own: ${world.cluster.crashes.join('; ')}`);
    return world.report();
  });
  process.stderr.write(`${formatReport([row])}\n`);
  assert.ok(row.tally.acknowledged >= 500, `the producers got acknowledgements (${row.tally.acknowledged})`);
  assert.equal(row.tally.lost, 0, `acknowledged events lost: ${row.tally.lostSample.join(', ')}`);
  // At most the records in flight at SIGTERM can be delivered twice; a clean hand-over commits them.
  assert.ok(row.tally.duplicates <= IN_FLIGHT * TRIGGERS.length, `${row.tally.duplicates} duplicates, more than the in-flight window (${IN_FLIGHT} per egress)`);
});
