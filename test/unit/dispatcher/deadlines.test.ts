import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { Deadlines, type DeadlineList, type Expiring } from '../../../dispatcher/deadlines.js';

/** A waiter that records when it expired, on the test's own clock. */
class Waiter implements Expiring {
  deadlineAt = 0;
  deadlinePrev: Expiring | undefined;
  deadlineNext: Expiring | undefined;
  deadlineList: DeadlineList | undefined;
  expiredAt: number | undefined;
  expirations = 0;

  constructor(
    readonly name: string,
    private readonly clock: { now: number },
    private readonly order: string[],
  ) {}

  expire(): void {
    this.expirations++;
    this.expiredAt = this.clock.now;
    this.order.push(this.name);
  }
}

/** Deadlines on a clock the test moves; real timers fire, the clock says whose time is up. */
function setup(): { deadlines: Deadlines; clock: { now: number }; order: string[]; waiter: (name: string) => Waiter } {
  const clock = { now: 0 };
  const order: string[] = [];
  return { deadlines: new Deadlines(() => clock.now), clock, order, waiter: (name) => new Waiter(name, clock, order) };
}

describe('deadlines', () => {
  test('waiters expire in deadline order, each once, across lengths', async () => {
    const { deadlines, clock, order, waiter } = setup();
    const a = waiter('a');
    const b = waiter('b');
    const c = waiter('c');
    deadlines.add(a, 20);
    deadlines.add(c, 5);
    clock.now = 1;
    deadlines.add(b, 20);
    clock.now = 100;
    await sleep(40);
    assert.deepEqual(order, ['c', 'a', 'b']);
    assert.deepEqual([a.expirations, b.expirations, c.expirations], [1, 1, 1]);
  });

  test('a removed waiter never expires; the others still do', async () => {
    const cases: { readonly name: string; readonly remove: readonly string[]; readonly expired: readonly string[] }[] = [
      { name: 'the head', remove: ['a'], expired: ['b', 'c'] },
      { name: 'the middle', remove: ['b'], expired: ['a', 'c'] },
      { name: 'the tail', remove: ['c'], expired: ['a', 'b'] },
      { name: 'all of them', remove: ['a', 'b', 'c'], expired: [] },
    ];
    for (const { name, remove, expired } of cases) {
      const { deadlines, clock, order, waiter } = setup();
      const waiters = new Map(['a', 'b', 'c'].map((n) => [n, waiter(n)]));
      for (const w of waiters.values()) deadlines.add(w, 10);
      for (const n of remove) deadlines.remove(waiters.get(n)!);
      // Removing twice, or a waiter that has expired, changes nothing.
      for (const n of remove) deadlines.remove(waiters.get(n)!);
      clock.now = 50;
      await sleep(30);
      assert.deepEqual(order, expired, name);
    }
  });

  test('a timer that fires before the deadline (on the clock) waits again rather than expiring early', async () => {
    const { deadlines, clock, order, waiter } = setup();
    const a = waiter('a');
    deadlines.add(a, 10);
    clock.now = 5; // the timer fires, but only half the time has passed
    await sleep(30);
    assert.deepEqual(order, []);
    clock.now = 10;
    await sleep(30);
    assert.deepEqual(order, ['a']);
    assert.equal(a.expiredAt, 10);
  });

  test('an empty list holds no timer (the process may exit)', async () => {
    const { deadlines, waiter } = setup();
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const a = waiter('a');
    deadlines.add(a, 60_000);
    assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before + 1);
    deadlines.remove(a);
    assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, before);
  });

  test('a waiter of the same length added while expiring does not delay the next one due', async () => {
    const { deadlines, clock, order, waiter } = setup();
    const a = waiter('a');
    const b = waiter('b');
    const c = waiter('c');
    // a's expiry adds c (as a retry's next attempt would) and moves the clock to b's deadline.
    a.expire = () => {
      order.push('a');
      deadlines.add(c, 1000);
      clock.now = 1500;
    };
    deadlines.add(a, 1000);
    clock.now = 500;
    deadlines.add(b, 1000); // due at 1500, half a length after a
    clock.now = 1000;
    try {
      while (order.length === 0) await sleep(10);
      // b is due 500 ms (real) after a fired; a timer armed for c's whole length would take 1000 ms.
      await sleep(750);
      assert.deepEqual(order, ['a', 'b']);
    } finally {
      // c is never due on the test's clock: removed, it leaves no timer behind.
      deadlines.remove(b);
      deadlines.remove(c);
    }
  });

  test('a waiter added again after it expired expires again', async () => {
    const { deadlines, clock, order, waiter } = setup();
    const a = waiter('a');
    deadlines.add(a, 5);
    clock.now = 10;
    await sleep(20);
    deadlines.add(a, 5);
    clock.now = 20;
    await sleep(20);
    assert.deepEqual(order, ['a', 'a']);
  });
});
