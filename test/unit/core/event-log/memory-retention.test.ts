import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { memoryLogConfigFromEnv, memoryLogConfigSchema } from '../../../../core/event-log/memory-config.js';
import { MemoryEventLog, type MemoryEventLogOptions } from '../../../../core/event-log/memory.js';
import type { ConsumedRecord, OffsetReset } from '../../../../core/event-log/port.js';
import { waitUntil } from '../../../helpers/wait.js';

/**
 * The in-memory log frees memory: records past the byte or age bound are
 * removed from the head of their partition, offsets keep counting, a group whose position was
 * removed resumes at the earliest record left (and hears of it), and closing reports what it drops.
 */

const record = (bytes: number, key?: string) => ({ key: key === undefined ? null : Buffer.from(key), value: Buffer.alloc(bytes, 0x62) });

function open(t: TestContext, options: MemoryEventLogOptions): MemoryEventLog {
  const log = new MemoryEventLog(options);
  t.after(() => log.close());
  return log;
}

async function offsets(log: MemoryEventLog, topic: string): Promise<string[]> {
  const seen: string[] = [];
  for await (const r of log.read(topic)) seen.push(`${r.partition}:${r.offset}`);
  return seen;
}

describe('in-memory log retention', () => {
  test('defaults: 256 MiB and 24 h, from the environment too', () => {
    assert.deepEqual(memoryLogConfigSchema.parse({}), { retentionBytes: 256 * 1024 * 1024, retentionMs: 86_400_000 });
    assert.equal(memoryLogConfigFromEnv({ EVENT_LOG_MEMORY_RETENTION_BYTES: '2048' }).retentionBytes, 2048);
    assert.throws(() => memoryLogConfigFromEnv({ EVENT_LOG_MEMORY_RETENTION_MS: 'soon' }), /retentionMs/);
  });

  test('bytes: the oldest records over the whole log go first; offsets keep counting', async (t) => {
    const log = open(t, { retentionBytes: 1024 });
    await log.ensureTopic('a', { partitions: 1, replicationFactor: 1 });
    await log.ensureTopic('b', { partitions: 1, replicationFactor: 1 });
    for (let i = 0; i < 5; i++) {
      await log.append('a', [record(300)]);
      await log.append('b', [record(300)]);
    }
    // 10 × 300 bytes appended, 1024 kept: the three newest (a:4, b:3, b:4) are left.
    assert.deepEqual(log.stats(), { records: 3, bytes: 900, removedRecords: 7 });
    assert.deepEqual(await offsets(log, 'a'), ['0:4']);
    assert.deepEqual(await offsets(log, 'b'), ['0:3', '0:4']);
    const [next] = await log.append('a', [record(10)]);
    assert.equal(next?.offset, '5');
  });

  test('age: records older than retentionMs go, on append and on the timer', async (t) => {
    let now = 1_000_000;
    const log = open(t, { retentionMs: 500, now: () => now });
    await log.ensureTopic('a', { partitions: 2, replicationFactor: 1 });
    await log.append('a', [record(10, 'k1'), record(10, 'k2')]);
    now += 400;
    await log.append('a', [record(10, 'k1')]);
    now += 200;
    log.enforceRetention();
    assert.equal(log.stats().records, 1);
    now += 1000;
    // Nothing appended: the timer (every retentionMs / 10 here) removes the last one.
    await waitUntil(() => log.stats().records === 0, { timeoutMs: 15_000, message: 'timer-driven removal' });
    assert.equal(log.stats().bytes, 0);
  });

  test('a group whose position was removed resumes at the earliest record left, and hears the skipped range', async (t) => {
    const log = open(t, { retentionBytes: 1024 });
    await log.ensureTopic('a', { partitions: 1, replicationFactor: 1 });
    await log.initGroup('g', 'a', 'earliest');
    for (let i = 0; i < 10; i++) await log.append('a', [record(300)]);
    const resets: OffsetReset[] = [];
    const got: ConsumedRecord[] = [];
    const consumer = await log.consume({ groupId: 'g', topics: ['a'], onRecord: (r) => got.push(r), onOffsetReset: (r) => resets.push(r) });
    t.after(() => consumer.close());
    await waitUntil(() => got.length === 3, { message: 'the retained records' });
    assert.deepEqual(got.map((r) => r.offset), ['7', '8', '9']);
    assert.deepEqual(resets, [{ groupId: 'g', topic: 'a', partition: 0, from: '0', to: '7', reason: 'retention' }]);
  });

  test('a member falling behind while consuming jumps ahead too (in-flight records stay valid)', async (t) => {
    const log = open(t, { retentionBytes: 1024 });
    await log.ensureTopic('a', { partitions: 1, replicationFactor: 1 });
    await log.initGroup('g', 'a', 'earliest');
    const resets: OffsetReset[] = [];
    const got: ConsumedRecord[] = [];
    const consumer = await log.consume({ groupId: 'g', topics: ['a'], maxInFlight: 1, onRecord: (r) => got.push(r), onOffsetReset: (r) => resets.push(r) });
    t.after(() => consumer.close());
    await log.append('a', [record(300)]);
    await waitUntil(() => got.length === 1, { message: 'first record' });
    for (let i = 0; i < 6; i++) await log.append('a', [record(300)]);
    // Offset 0 is still being delivered; 1..3 were removed before they were handed out.
    assert.equal(got[0]?.value?.length, 300);
    got[0]!.done();
    await waitUntil(() => got.length === 2, { message: 'after the jump' });
    assert.equal(got[1]?.offset, '4');
    assert.deepEqual(resets.map((r) => [r.from, r.to]), [['1', '4']]);
  });

  test('closing warns how many accepted records no group has finished, per topic', async (t) => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const log = new MemoryEventLog({ logger: pino({ level: 'warn' }, sink) });
    await log.ensureTopic('broker', { partitions: 2, replicationFactor: 1 });
    await log.ensureTopic('dead-letters', { partitions: 1, replicationFactor: 1 });
    await log.initGroup('fast', 'broker', 'earliest');
    await log.initGroup('slow', 'broker', 'earliest');
    await log.append('broker', [record(10, 'x'), record(10, 'x'), record(10, 'y'), record(10, 'y'), record(10, 'y')]);
    await log.append('dead-letters', [record(10)]);
    const got: ConsumedRecord[] = [];
    const fast = await log.consume({ groupId: 'fast', topics: ['broker'], onRecord: (r) => { got.push(r); r.done(); } });
    t.after(() => fast.close());
    await waitUntil(() => got.length === 5, { message: 'fast group done' });
    await fast.commit();
    assert.deepEqual(log.undelivered(), [{ topic: 'broker', records: 5 }]);
    await log.close();
    const warnings = lines.filter((l) => l['level'] === 40);
    assert.equal(warnings.length, 1);
    // The slow group has done nothing: all five are undelivered for it; no group reads dead-letters.
    assert.deepEqual(warnings[0]?.['undelivered'], [{ topic: 'broker', records: 5 }]);
    assert.equal(warnings[0]?.['total'], 5);
  });

  test('closing says nothing when every group is done', async (t) => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _e, callback) { lines.push(chunk.toString()); callback(); } });
    const log = new MemoryEventLog({ logger: pino({ level: 'warn' }, sink) });
    t.after(() => log.close());
    await log.ensureTopic('broker', { partitions: 1, replicationFactor: 1 });
    await log.initGroup('g', 'broker', 'earliest');
    await log.append('broker', [record(10)]);
    const consumer = await log.consume({ groupId: 'g', topics: ['broker'], onRecord: (r) => r.done() });
    await waitUntil(async () => { await consumer.commit(); return log.undelivered().length === 0; }, { message: 'committed' });
    await log.close();
    assert.deepEqual(lines, []);
  });
});
