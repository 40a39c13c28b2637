import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { ConsumedRecord, OffsetReset } from '../../core/event-log/port.js';
import { kafkaBootstrapServers, kafkaEventLog } from '../helpers/kafka.js';
import { watchGroupsJoinedBy } from '../helpers/kafka-groups.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';

/**
 * Issue 14, item 7 on real Kafka: a group whose committed offset the log no longer holds (the
 * head was deleted, as retention does) resumes at the earliest record left — not at the end,
 * which would skip everything still retained — and the skipped range is reported from data.
 * Also item 9's rule that reading a topic creates no consumer group.
 */

const WAIT = { timeoutMs: 45_000 };

function rawAdmin(t: { after(fn: () => Promise<void>): void }): ReturnType<Kafka['admin']> {
  const admin = new Kafka({ clientId: 'offset-reset-test', brokers: kafkaBootstrapServers(), logLevel: logLevel.NOTHING }).admin();
  t.after(() => admin.disconnect());
  return admin;
}

test('a committed offset behind the log start resumes at the earliest record and reports [committed, log start)', { timeout: 120_000 }, async (t) => {
  const log = kafkaEventLog(t, 'offset-reset');
  const admin = rawAdmin(t);
  await admin.connect();
  const topic = uniqueName('reset');
  const groupId = uniqueName('reset-group');
  await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
  // The group's position is fixed at offset 0, as the controller does for a new trigger.
  await log.initGroup(groupId, topic, 'earliest');
  await log.append(topic, Array.from({ length: 10 }, (_, i) => ({ value: Buffer.from(String(i)) })));
  // Truncate the head up to offset 6 while the group's commit is at 0 (kafkajs needs the topic's metadata first).
  await admin.fetchTopicMetadata({ topics: [topic] });
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '6' }] });
  const [range] = await admin.fetchTopicOffsets(topic);
  assert.equal(range?.low, '6');

  const records: ConsumedRecord[] = [];
  const resets: OffsetReset[] = [];
  const consumer = await log.consume({
    groupId,
    topics: [topic],
    start: 'latest',
    onRecord: (r) => {
      records.push(r);
      r.done();
    },
    onOffsetReset: (reset) => resets.push(reset),
  });
  t.after(() => consumer.close());
  await waitUntil(() => records.length >= 4 && resets.length >= 1, { ...WAIT, message: 'the 4 retained records and the reset report' });
  assert.deepEqual(records.map((r) => r.offset), ['6', '7', '8', '9'], 'every retained record is delivered');
  assert.deepEqual(resets, [{ groupId, topic, partition: 0, from: '0', to: '6', reason: 'out-of-range' }]);
});

test('a new group at latest still starts at the end, with no reset reported', { timeout: 120_000 }, async (t) => {
  const log = kafkaEventLog(t, 'offset-reset-new');
  const topic = uniqueName('reset-new');
  await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
  await log.append(topic, [{ value: Buffer.from('old') }]);
  const records: ConsumedRecord[] = [];
  const resets: OffsetReset[] = [];
  const consumer = await log.consume({
    groupId: uniqueName('reset-new-group'), topics: [topic], start: 'latest',
    onRecord: (r) => {
      records.push(r);
      r.done();
    },
    onOffsetReset: (reset) => resets.push(reset),
  });
  t.after(() => consumer.close());
  await log.append(topic, [{ value: Buffer.from('new') }]);
  await waitUntil(() => records.length >= 1, { ...WAIT, message: 'the new record' });
  assert.deepEqual(records.map((r) => r.value?.toString()), ['new']);
  assert.deepEqual(resets, []);
});

test('reading a topic creates no consumer group', { timeout: 120_000 }, async (t) => {
  const log = kafkaEventLog(t, 'read-no-group');
  const admin = rawAdmin(t);
  await admin.connect();
  const topic = uniqueName('read-groups');
  await log.ensureTopic(topic, { partitions: 3, replicationFactor: 1 });
  await log.append(topic, Array.from({ length: 30 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(String(i)) })));
  const before = new Set((await admin.listGroups()).groups.map((g) => g.groupId));
  const watch = watchGroupsJoinedBy(admin, 'read-no-group');
  const held = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const seen = new Set<string>();
  for await (const record of log.read(topic)) seen.add(`${record.partition}/${record.offset}`);
  let limited = 0;
  for await (const record of log.read(topic, { limit: 5 })) if (record.value !== null) limited++;
  const joined = await watch.stop();
  // Other runs share this Kafka: of the groups that appeared, none may have been joined by us.
  const appeared = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => !before.has(g));
  const ours = appeared.length === 0 ? [] : (await admin.describeGroups(appeared)).groups.filter((g) => g.members.some((m) => m.clientId.startsWith('read-no-group'))).map((g) => g.groupId);
  assert.ok(held >= 30);
  assert.equal(seen.size, held, 'every record the topic holds, once');
  assert.equal(limited, 5);
  assert.deepEqual([...joined, ...ours], [], 'no group was joined or left behind by the reads');
});
