import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WaitingMemory } from '../../../dispatcher/waiting-memory.js';

describe('waiting memory: the dispatcher-wide bound', () => {
  // Each step holds (+n) or releases (-i: the i-th hold) and names the state after it.
  const table: [string, (number | `-${number}`)[], boolean[], number][] = [
    ['under the limit: never over', [400, 500], [false, false], 900],
    ['past the limit: over', [600, 500], [false, true], 1100],
    ['below the limit but above 80 %: still over', [600, 500, 300, '-1', '-0'], [false, true, true, true, false], 300],
    ['released to just above 80 %: still over', [300, 801, '-0'], [false, true, true], 801],
    ['released to 80 % or less: under again', [300, 801, '-1'], [false, true, false], 300],
    ['one event larger than the limit: over while it waits', [5000, '-0'], [true, false], 0],
  ];
  for (const [name, steps, expected, bytesAfter] of table) {
    test(name, () => {
      const memory = new WaitingMemory(1000);
      const releases: (() => void)[] = [];
      const states = steps.map((step) => {
        if (typeof step === 'number') releases.push(memory.hold(step));
        else releases[Number(step.slice(1))]!();
        return memory.isOver();
      });
      assert.deepEqual(states, expected);
      assert.equal(memory.bytes(), bytesAfter);
    });
  }

  test('listeners hear each change once; a release is idempotent', () => {
    const memory = new WaitingMemory(100);
    const heard: boolean[] = [];
    const off = memory.onChange((over) => heard.push(over));
    const release = memory.hold(150);
    memory.hold(10)();
    release();
    release();
    assert.deepEqual(heard, [true, false]);
    assert.equal(memory.bytes(), 0);
    assert.equal(memory.waiting(), 0);
    off();
    memory.hold(150);
    assert.deepEqual(heard, [true, false]);
  });
});
