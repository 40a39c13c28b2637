import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsumedRecord } from '../../core/event-log/port.js';
import { kafkaEventLog } from '../helpers/kafka.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';

// A rolling change of --kafka-client has members of both client libraries in one group for a
// while: they must join it together (the same group protocol) and split its partitions.
test('a kafkajs member and a @platformatic/kafka member share one group without double delivery', { timeout: 120_000 }, async (t) => {
  const kafkajs = kafkaEventLog(t, 'mixed-kafkajs', 'kafkajs');
  const platformatic = kafkaEventLog(t, 'mixed-platformatic', 'platformatic');
  const topic = uniqueName('mixed');
  await kafkajs.ensureTopic(topic, { partitions: 4, replicationFactor: 1 });
  const groupId = uniqueName('mixed-group');
  const a: ConsumedRecord[] = [];
  const b: ConsumedRecord[] = [];
  const ca = await kafkajs.consume({ groupId, topics: [topic], start: 'earliest', onRecord: (r) => { a.push(r); r.done(); } });
  const cb = await platformatic.consume({ groupId, topics: [topic], start: 'earliest', onRecord: (r) => { b.push(r); r.done(); } });
  t.after(async () => {
    await ca.close();
    await cb.close();
  });
  let probes = 0;
  await waitUntil(async () => {
    await kafkajs.append(topic, [0, 1, 2, 3].map(() => ({ value: Buffer.from(`probe-${probes++}`) })));
    return new Set([...a, ...b].map((r) => r.partition)).size === 4 && a.length > 0 && b.length > 0;
  }, { timeoutMs: 60_000, intervalMs: 500, message: 'both members consuming' });
  // The last probes may still be on their way: wait for every one, or they would count below.
  const probesIn = (): number => new Set([...a, ...b].map((r) => r.value?.toString('utf8') ?? '').filter((v) => v.startsWith('probe-'))).size;
  await waitUntil(() => probesIn() === probes, { timeoutMs: 30_000, message: `all ${probes} probes` });
  a.length = 0;
  b.length = 0;
  await platformatic.append(topic, Array.from({ length: 40 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) })));
  await waitUntil(() => a.length + b.length >= 40, { timeoutMs: 30_000, message: '40 records' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const values = [...a, ...b].map((r) => r.value?.toString('utf8'));
  assert.equal(new Set(values).size, 40);
  assert.equal(values.length, 40);
  const owned = new Set(a.map((r) => r.partition));
  assert.ok(b.every((r) => !owned.has(r.partition)), 'no partition has two owners');
  // Keys survive either way: the kafkajs member reads what the platformatic producer wrote.
  assert.ok([...a, ...b].every((r) => r.key?.toString('utf8') === `k${r.value?.toString('utf8').slice(1)}`));
});
