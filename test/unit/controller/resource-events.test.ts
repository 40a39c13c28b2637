import assert from 'node:assert/strict';
import { test } from 'node:test';
import { awaitingDataPlane, statusEvents } from '../../../controller/resource-events.js';
import type { ObjectStatus } from '../../../controller/status.js';
import type { KnObject } from '../../../controller/resources.js';

const ready = (status: 'True' | 'False', reason?: string, message?: string): ObjectStatus =>
  ({ observedGeneration: 1, conditions: [{ type: 'Ready', status, lastTransitionTime: '2026-12-05T00:00:00Z', ...(reason === undefined ? {} : { reason }), ...(message === undefined ? {} : { message }) }] }) as ObjectStatus;

const BEHIND = ready('False', 'DataPlaneNotAvailable', '0 of 1 ingress processes have applied contract generation 1');
const TRIGGER_BEHIND = ready('False', 'BrokerNotReady', 'broker "default" is not ready: DataPlaneNotAvailable: 0 of 1 ingress processes have applied contract generation 1');

/** `cause`: the reason at the root of a Trigger's BrokerNotReady (DesiredState.readyCauses). */
const cases: { name: string; before: ObjectStatus | undefined; after: ObjectStatus; cause?: string; awaiting: boolean }[] = [
  { name: 'a new broker whose data plane has yet to serve it', before: undefined, after: BEHIND, awaiting: true },
  { name: 'a new trigger whose broker waits for the data plane', before: undefined, after: TRIGGER_BEHIND, cause: 'DataPlaneNotAvailable', awaiting: true },
  { name: 'still waiting, never Ready', before: BEHIND, after: BEHIND, awaiting: true },
  { name: 'a Ready broker whose data plane fell behind', before: ready('True'), after: BEHIND, awaiting: false },
  { name: 'a Ready trigger whose broker\'s data plane fell behind', before: ready('True'), after: TRIGGER_BEHIND, cause: 'DataPlaneNotAvailable', awaiting: false },
  { name: 'a new broker not Ready for another reason', before: undefined, after: ready('False', 'TopicNotReady', 'no topic'), awaiting: false },
  { name: 'a trigger whose broker is not Ready for another reason', before: undefined, after: ready('False', 'BrokerNotReady', 'broker "default" is not ready: TopicNotReady'), cause: 'TopicNotReady', awaiting: false },
  // Only the cause counts: a message that mentions the data plane is text for a reader.
  { name: 'a trigger whose message names DataPlaneNotAvailable but no cause is given', before: undefined, after: TRIGGER_BEHIND, awaiting: false },
  { name: 'Ready', before: undefined, after: ready('True'), awaiting: false },
];

for (const { name, before, after, cause, awaiting } of cases) {
  test(`awaitingDataPlane: ${name}`, () => {
    assert.equal(awaitingDataPlane(before, after, cause), awaiting);
  });
}

test('no Warning Event while a new object waits for the data plane; one when a Ready one falls behind', () => {
  const object = { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { namespace: 'ns', name: 'b', uid: 'u1' } } as KnObject;
  assert.deepEqual(statusEvents(object, undefined, BEHIND, true), []);
  const fell = statusEvents(object, ready('True'), BEHIND, false);
  assert.equal(fell.length, 1);
  assert.equal(fell[0]!.type, 'Warning');
  assert.equal(fell[0]!.reason, 'DataPlaneNotAvailable');
});

test('a new trigger whose broker waits for the data plane gets no Warning Event; with another cause it does', () => {
  const object = { apiVersion: 'eventing.knative.dev/v1', kind: 'Trigger', metadata: { namespace: 'ns', name: 't', uid: 'u2' } } as KnObject;
  assert.deepEqual(statusEvents(object, undefined, TRIGGER_BEHIND, false, 'DataPlaneNotAvailable'), []);
  assert.deepEqual(statusEvents(object, undefined, TRIGGER_BEHIND, false, 'TopicNotReady').map((e) => [e.type, e.reason]), [['Warning', 'BrokerNotReady']]);
});
