import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeDesired } from '../../../controller/desired.js';
import { broker, condition, desiredCases, knObject, observed, settings, trigger, type DesiredCase } from './fixtures.js';

/**
 * computeDesired as a whole: what no single kind decides (deletions, kinds left alone, order).
 * Each kind's cases are in kinds/<kind>.test.ts.
 */

const T = 'knative-broker-default-b';
const G = 'knative-trigger-default-t';
const B = 'Broker/default/b';
const TR = 'Trigger/default/t';

const cases: DesiredCase[] = [
  {
    name: "a gone trigger's group and a gone broker's topic are obsolete; external topics never are",
    objects: [],
    observed: observed({ [T]: { owner: B }, orders: { owner: 'Broker/default/ext', external: true } }, { [G]: { topic: T, owner: TR } }),
    check: (d) => {
      assert.deepEqual(d.obsoleteGroups, [G]);
      assert.deepEqual(d.obsoleteTopics, [T]);
    },
  },
  {
    name: "an invalid broker keeps its topic (it still exists) and its triggers wait",
    objects: [broker('b', { delivery: { retry: 'x' } }), trigger('t', { broker: 'b' })],
    observed: observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: TR } }),
    check: (d) => {
      assert.deepEqual(d.obsoleteTopics, []);
      assert.deepEqual(d.obsoleteGroups, []);
      assert.deepEqual(d.resources, []);
      assert.equal(condition(d.statuses.get(TR), 'BrokerReady')?.reason, 'BrokerNotReady');
      assert.match(condition(d.statuses.get(TR), 'BrokerReady')!.message!, /ValidationFailed/);
    },
  },
  {
    name: 'kinds this controller does not handle are listed as ignored',
    objects: [knObject('serving.knative.dev/v1', 'Service', 'svc', { spec: {} })],
    check: (d) => {
      assert.match(d.ignored.get('Service/default/svc')!, /not handled/);
      assert.equal(d.statuses.size, 0);
    },
  },
];

desiredCases('computeDesired: deletions and other kinds', cases, { checkContract: true });

describe('computeDesired', () => {
  test('is deterministic whatever the order of the objects', () => {
    const objects = [broker('b'), broker('a'), trigger('t2', { broker: 'a' }), trigger('t1', { broker: 'b' })];
    const seen = observed(
      { 'knative-broker-default-a': { owner: 'Broker/default/a' }, [T]: { owner: B } },
      { 'knative-trigger-default-t1': { topic: T, owner: 'Trigger/default/t1' }, 'knative-trigger-default-t2': { topic: 'knative-broker-default-a', owner: 'Trigger/default/t2' } },
    );
    const one = computeDesired(objects, new Map(), seen, settings);
    const two = computeDesired([...objects].reverse(), new Map(), seen, settings);
    assert.deepEqual(one.resources, two.resources);
    assert.deepEqual(one.resources.map((r) => r.reference.name), ['a', 'b']);
  });
});
