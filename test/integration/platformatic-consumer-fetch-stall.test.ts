import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsumedRecord } from '../../core/event-log/port.js';
import { consumerTopic } from '../helpers/platformatic-consumer.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Issue 17: a partition whose buffered records are still being handed out must not wait for a
 * Fetch of the other (idle) partitions, which sits at the broker for its whole wait (250 ms):
 * Kafka answers one request at a time per connection, so the next Fetch queues behind it. Records
 * appended to the busy partition meanwhile are handed out as soon as its buffer runs dry.
 */
test('records appended to a partition with buffered records come out when its buffer runs dry, not a fetch wait later', { timeout: 120_000 }, async (t) => {
  const { topic, writer, consume } = await consumerTopic(t, 'plt-stall', { partitions: 2 });

  // Two records out at a time, held until released; then everything is done as it comes.
  let holding = true;
  const held: ConsumedRecord[] = [];
  /** When each record was handed out. */
  const seen = new Map<string, number>();
  await consume({
    maxInFlight: 2,
    onRecord: (record) => {
      const value = record.value!.toString();
      seen.set(value, performance.now());
      if (holding) held.push(record);
      else record.done();
    },
  });

  const waits: number[] = [];
  for (let round = 0; round < 3; round++) {
    holding = true;
    held.length = 0;
    // Five records on partition 0 in one batch: two go out, three stay buffered, and the
    // consumer fetches again while partition 1 has nothing to give.
    await writer.send({ topic, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ partition: 0, value: `r${round}-${i}` })) });
    await waitUntil(() => held.length === 2, { message: `two records of round ${round} out` });
    await sleep(300);
    const last = `r${round}-last`;
    await writer.send({ topic, acks: -1, messages: [{ partition: 0, value: last }] });
    // Four fetch waits: whatever fetch was waiting when it was appended has answered, even on a
    // busy machine.
    await sleep(1000);
    const released = performance.now();
    holding = false;
    for (const record of held.splice(0)) record.done();
    const at = await waitUntil(() => seen.get(last), { intervalMs: 5, message: `${last} handed out` });
    waits.push(at - released);
  }
  // It was fetched while the others were buffered, and comes out with them at the release. Were
  // only the idle partition asked for, each wait would be what is left of its 250 ms fetch.
  assert.ok(waits.every((ms) => ms < 20), `handed out ${waits.map((ms) => ms.toFixed(1)).join(', ')} ms after the buffer could run dry`);
});
