import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ObservedState } from '../../../controller/apply-topics.js';
import { adoptFinalizing, releasedKeys } from '../../../controller/finalizers.js';
import { knObject } from './fixtures.js';

describe('finalizing objects', () => {
  const broker = (name: string, annotations: Record<string, string> = {}) => knObject('eventing.knative.dev/v1', 'Broker', name, { spec: {} }, { namespace: 'ns', annotations });
  const trigger = (name: string) => knObject('eventing.knative.dev/v1', 'Trigger', name, { spec: { broker: 'b' } }, { namespace: 'ns' });

  test("a restarted controller adopts a deleted Broker's topic and a deleted Trigger's group, by name", () => {
    const observed = new ObservedState();
    assert.equal(adoptFinalizing([broker('b'), trigger('t')], [], observed), 2);
    assert.deepEqual(observed.topics.get('knative-broker-ns-b'), { state: 'ready', partitions: 0, owner: 'Broker/ns/b', external: false });
    assert.deepEqual(observed.groups.get('knative-trigger-ns-t'), { state: 'ready', topic: '', owner: 'Trigger/ns/t' });
    assert.deepEqual(releasedKeys([broker('b'), trigger('t')], observed), [], 'not released while they own something');
    observed.topics.delete('knative-broker-ns-b');
    assert.deepEqual(releasedKeys([broker('b'), trigger('t')], observed), ['Broker/ns/b']);
  });

  test('an external topic is never adopted; a name a live object claims is not either', () => {
    const observed = new ObservedState();
    assert.equal(adoptFinalizing([broker('ext', { 'kafka.eventing.knative.dev/external.topic': 'orders' })], [], observed), 0);
    // `ns/b-x`'s topic name would be claimed by a live broker named the same way.
    assert.equal(adoptFinalizing([broker('b')], [broker('b')], observed), 0);
    assert.deepEqual(releasedKeys([broker('ext')], observed), ['Broker/ns/ext']);
  });

  test('what was observed already stays as it is (with its real owner)', () => {
    const observed = new ObservedState();
    observed.groups.set('knative-trigger-ns-t', { state: 'ready', topic: 'knative-broker-ns-b', owner: 'Trigger/ns/t' });
    assert.equal(adoptFinalizing([trigger('t')], [], observed), 0);
    assert.equal(observed.groups.get('knative-trigger-ns-t')?.topic, 'knative-broker-ns-b');
  });
});
