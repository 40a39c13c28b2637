import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as c from '../../../controller/conditions.js';

describe('conditions', () => {
  test('Ready is True when every dependent is True', () => {
    const conditions = c.withReady(['A', 'B'], [{ type: 'A', status: 'True' }, { type: 'B', status: 'True' }]);
    assert.deepEqual(conditions.find((x) => x.type === 'Ready'), { type: 'Ready', status: 'True' });
  });

  test('Ready copies the first False dependent, even after an Unknown one', () => {
    const conditions = c.withReady(['A', 'B'], [{ type: 'A', status: 'Unknown', reason: 'Wait' }, { type: 'B', status: 'False', reason: 'Broken', message: 'why' }]);
    assert.deepEqual(conditions.find((x) => x.type === 'Ready'), { type: 'Ready', status: 'False', reason: 'Broken', message: 'why' });
  });

  test('a dependent nobody set is Unknown, and so is Ready', () => {
    const conditions = c.withReady(['A', 'B'], [{ type: 'A', status: 'True' }]);
    assert.equal(conditions.find((x) => x.type === 'B')?.status, 'Unknown');
    assert.equal(conditions.find((x) => x.type === 'Ready')?.status, 'Unknown');
  });

  test('a True Ready can carry a message (warnings)', () => {
    const ready = c.withReady(['A'], [{ type: 'A', status: 'True' }], 'warning: x').find((x) => x.type === 'Ready');
    assert.deepEqual(ready, { type: 'Ready', status: 'True', reason: 'ReadyWithWarnings', message: 'warning: x' });
  });

  test('refused: every dependent Unknown, Ready False with the field errors', () => {
    const conditions = c.refusedConditions(['A'], 'ValidationFailed', [{ path: 'spec.x', message: 'missing field(s)' }, { path: 'spec.y', message: 'unknown field' }]);
    assert.deepEqual(conditions.find((x) => x.type === 'Ready'), { type: 'Ready', status: 'False', reason: 'ValidationFailed', message: 'missing field(s): spec.x; unknown field: spec.y' });
    assert.equal(conditions.find((x) => x.type === 'A')?.status, 'Unknown');
  });

  test('lastTransitionTime is kept while a condition stays the same, and moves when it changes', () => {
    const first = c.stampTransitions(undefined, { observedGeneration: 1, conditions: [{ type: 'A', status: 'Unknown' }, { type: 'B', status: 'True' }] }, 't1');
    const second = c.stampTransitions(first, { observedGeneration: 1, conditions: [{ type: 'A', status: 'True' }, { type: 'B', status: 'True' }] }, 't2');
    assert.deepEqual(second.conditions.map((x) => x.lastTransitionTime), ['t2', 't1']);
  });
});
