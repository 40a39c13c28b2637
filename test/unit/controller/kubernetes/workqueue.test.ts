import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { WorkQueue } from '../../../../controller/kubernetes/workqueue.js';
import { waitUntil } from '../../../helpers/wait.js';

/** A processor that records calls and can be held open, key by key. */
function recorder(): { calls: string[]; running: Map<string, number>; maxAtOnce: Map<string, number>; hold: Set<string>; process: (key: string) => Promise<void> } {
  const calls: string[] = [];
  const running = new Map<string, number>();
  const maxAtOnce = new Map<string, number>();
  const hold = new Set<string>();
  return {
    calls, running, maxAtOnce, hold,
    process: async (key) => {
      calls.push(key);
      running.set(key, (running.get(key) ?? 0) + 1);
      maxAtOnce.set(key, Math.max(maxAtOnce.get(key) ?? 0, running.get(key)!));
      while (hold.has(key)) await sleep(2);
      running.set(key, running.get(key)! - 1);
    },
  };
}

test('a key added many times before a worker takes it is processed once', async () => {
  const r = recorder();
  r.hold.add('first');
  const queue = new WorkQueue(r.process, { concurrency: 1 });
  queue.add('first'); // occupies the only worker
  for (let i = 0; i < 5; i++) queue.add('b');
  queue.add('c');
  queue.add('b');
  r.hold.delete('first');
  await queue.idle();
  assert.deepEqual(r.calls, ['first', 'b', 'c']);
});

test('a key added while it is processed is processed again afterwards, never twice at once', async () => {
  const r = recorder();
  r.hold.add('k');
  const queue = new WorkQueue(r.process, { concurrency: 4 });
  queue.add('k');
  await waitUntil(() => r.running.get('k') === 1);
  queue.add('k');
  queue.add('k');
  await sleep(20);
  assert.equal(r.maxAtOnce.get('k'), 1, 'the free workers did not take it');
  r.hold.delete('k');
  await queue.idle();
  assert.deepEqual(r.calls, ['k', 'k']);
  assert.equal(r.maxAtOnce.get('k'), 1);
});

test('different keys are processed in parallel up to the concurrency', async () => {
  const r = recorder();
  for (const k of ['a', 'b', 'c']) r.hold.add(k);
  const queue = new WorkQueue(async (key) => {
    await r.process(key);
  }, { concurrency: 2 });
  for (const k of ['a', 'b', 'c']) queue.add(k);
  await waitUntil(() => r.calls.length === 2);
  const peak = [...r.running.values()].reduce((n, v) => n + v, 0);
  assert.equal(peak, 2);
  assert.equal(queue.length, 3);
  for (const k of ['a', 'b', 'c']) r.hold.delete(k);
  await queue.idle();
  assert.deepEqual(r.calls.sort(), ['a', 'b', 'c']);
});

test('a failing key comes back after a growing delay; a success resets it', async () => {
  const attempts: number[] = [];
  let failUntil = 3;
  const errors: { failures: number; delayMs: number }[] = [];
  const queue = new WorkQueue(async () => {
    attempts.push(Date.now());
    if (attempts.length <= failUntil) throw new Error('409 Conflict');
  }, { concurrency: 1, baseDelayMs: 20, maxDelayMs: 1000, onError: (_key, _error, failures, delayMs) => errors.push({ failures, delayMs }) });
  queue.add('k');
  await waitUntil(() => attempts.length === 4, { message: 'the fourth attempt' });
  assert.deepEqual(errors, [{ failures: 1, delayMs: 20 }, { failures: 2, delayMs: 40 }, { failures: 3, delayMs: 80 }]);
  // Each retry waited its delay, not retried at once. Node can fire a timer early against Date.now()
  // by however long the turn that set it had run (see appender-linger.test.ts), so allow half.
  for (const [i, wait] of [20, 40, 80].entries()) assert.ok(attempts[i + 1]! - attempts[i]! >= wait / 2, `retry ${i + 1} waited ${attempts[i + 1]! - attempts[i]!} ms`);
  await queue.idle();
  assert.equal(queue.failuresOf('k'), 0, 'the success forgot the failures');
  failUntil = 5;
  queue.add('k');
  await waitUntil(() => errors.length === 4);
  assert.deepEqual(errors[3], { failures: 1, delayMs: 20 }, 'back to the first delay');
  await queue.shutdown();
});

test('the delay is capped', () => {
  const queue = new WorkQueue(async () => {}, { concurrency: 1, baseDelayMs: 100, maxDelayMs: 300 });
  assert.deepEqual([1, 2, 3, 4].map(() => queue.addRateLimited('k')), [100, 200, 300, 300]);
  void queue.shutdown();
});

test('shutdown drops waiting keys and waits for the ones in progress', async () => {
  const r = recorder();
  r.hold.add('a');
  const queue = new WorkQueue(r.process, { concurrency: 1 });
  queue.add('a');
  queue.add('b');
  queue.addRateLimited('c');
  await waitUntil(() => r.calls.length === 1);
  let done = false;
  const closing = queue.shutdown().then(() => {
    done = true;
  });
  await sleep(20);
  assert.equal(done, false, 'waits for "a"');
  r.hold.delete('a');
  await closing;
  queue.add('d');
  await sleep(50);
  assert.deepEqual(r.calls, ['a']);
});
