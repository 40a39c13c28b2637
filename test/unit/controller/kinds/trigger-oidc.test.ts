import assert from 'node:assert/strict';
import { test } from 'node:test';
import { triggerServiceAccount } from '../../../../controller/kinds/trigger.js';
import type { ReconcileSettings } from '../../../../controller/state.js';
import { desiredCases, broker, observed, settings, trigger } from '../fixtures.js';

/** A Trigger's OIDC identity and the audiences of its destinations, with `authentication-oidc` on and off. */

const T = 'knative-broker-default-b';
const G = 'knative-trigger-default-t';
const B = 'Broker/default/b';
const TR = 'Trigger/default/t';
const oidcOn: ReconcileSettings = { ...settings, oidc: { defaultMode: 'allow-same-namespace' } };
const ready = observed({ [T]: { owner: B }, 'knative-broker-default-dls': { owner: 'Broker/default/dls' } }, { [G]: { topic: T, owner: TR } });
const IDENTITY = { namespace: 'default', name: 'oidc-trigger-t' };
const BROKER_REF = { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker' };

desiredCases('Trigger OIDC identity', [
  {
    name: 'off: no identity, no auth in the egress, even with an audience',
    objects: [broker('b'), trigger('t', { broker: 'b', subscriber: { uri: 'http://sink.example/', audience: 'sink' } })],
    observed: ready,
    check: (d) => {
      assert.equal(d.statuses.get(TR)!.auth, undefined);
      assert.equal(d.resources[0]!.egresses[0]!.auth, undefined);
    },
  },
  {
    name: 'on: the identity in status; a subscriber without an audience gets no token',
    objects: [broker('b'), trigger('t', { broker: 'b' })],
    observed: ready,
    settings: oidcOn,
    check: (d) => {
      assert.deepEqual(d.statuses.get(TR)!.auth, { serviceAccountName: 'oidc-trigger-t' });
      assert.equal(d.resources[0]!.egresses[0]!.auth, undefined);
    },
  },
  {
    name: 'on: a uri subscriber\'s audience',
    objects: [broker('b'), trigger('t', { broker: 'b', subscriber: { uri: 'http://sink.example/', audience: 'sink' } })],
    observed: ready,
    settings: oidcOn,
    check: (d) => assert.deepEqual(d.resources[0]!.egresses[0]!.auth, { serviceAccount: IDENTITY, destinationAudience: 'sink' }),
  },
  {
    name: 'on: a broker ref resolves to the broker\'s audience; a dead-letter sink\'s own audience too',
    objects: [
      broker('b'),
      broker('dls'),
      trigger('t', { broker: 'b', subscriber: { ref: { ...BROKER_REF, name: 'dls' } }, delivery: { deadLetterSink: { uri: 'http://dead.example/', audience: 'dead' } } }),
    ],
    observed: ready,
    settings: oidcOn,
    check: (d) => {
      const egress = d.resources.find((r) => r.reference.name === 'b')!.egresses[0]!;
      assert.deepEqual(egress.auth, { serviceAccount: IDENTITY, destinationAudience: 'eventing.knative.dev/broker/default/dls', deadLetterAudience: 'dead' });
    },
  },
  {
    name: 'an audience that is not a non-empty string is refused at admission',
    objects: [broker('b'), trigger('t', { broker: 'b', subscriber: { uri: 'http://sink.example/', audience: 7 } })],
    observed: ready,
    settings: oidcOn,
    check: (d) => assert.match(JSON.stringify(d.statuses.get(TR)!.conditions), /spec\.subscriber\.audience/),
  },
], { checkContract: true });

test('the identity\'s name: oidc-trigger-<name>, cut to a DNS label with a hash when long', () => {
  assert.equal(triggerServiceAccount('orders'), 'oidc-trigger-orders');
  const long = 'a'.repeat(60);
  const name = triggerServiceAccount(long);
  assert.ok(name.length <= 63, name);
  assert.match(name, /^oidc-trigger-a+-[0-9a-f]{10}$/);
  assert.notEqual(triggerServiceAccount(`${long}b`), name, 'distinct names stay distinct');
});
