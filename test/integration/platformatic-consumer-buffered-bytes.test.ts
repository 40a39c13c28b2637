import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PlatformaticGroupConsumer } from '../../core/event-log/platformatic/consumer.js';
import { consumerTopic } from '../helpers/platformatic-consumer.js';
import { waitUntil } from '../helpers/wait.js';

/** The consumer's fetched-and-not-handed-out records (its own state, read for the bound). */
function bufferedBytes(consumer: PlatformaticGroupConsumer): number {
  const partitions = (consumer as unknown as { partitions: Map<string, { buffer: { value: Buffer }[]; next: number }> }).partitions;
  let bytes = 0;
  for (const { buffer, next } of partitions.values()) for (let i = next; i < buffer.length; i++) bytes += buffer[i]!.value.length;
  return bytes;
}

/**
 * Every partition is fetched while few records wait in buffers, also one whose buffer still holds
 * some: with large records the count alone bounds no memory (a few times maxInFlight of them), so
 * the bytes buffered bound the fetching too.
 */
test('large records: what waits in the buffers stays within a few fetches\' bytes, whatever the record count bound', { timeout: 120_000 }, async (t) => {
  const { topic, writer, consume } = await consumerTopic(t, 'plt-bytes');

  // 60 records of 200 KiB (12 MiB), each its own batch; 10 out at a time, none done: the count
  // bound alone (4 x maxInFlight = 40 records, 8 MiB) would fetch far past the bytes bound.
  const value = Buffer.alloc(200 * 1024, 'x');
  for (let i = 0; i < 60; i++) await writer.send({ topic, acks: -1, messages: [{ value }] });
  const { consumer, records: held } = await consume({ maxInFlight: 10 });
  await waitUntil(() => held.length === 10, { message: 'ten records out' });
  // Records are buffered past those out (waited for: a busy machine can be slow to fetch them)...
  await waitUntil(() => bufferedBytes(consumer) > 0, { message: 'records buffered past those out' });
  // ...and after several fetch waits (250 ms each), in which the loop fetches whatever it would, no more than the bound.
  await sleep(2000);
  const bytes = bufferedBytes(consumer);
  assert.ok(bytes <= 5.5 * 1024 * 1024, `${(bytes / 1024 / 1024).toFixed(1)} MiB buffered`);
  for (const record of held) record.done();
});
