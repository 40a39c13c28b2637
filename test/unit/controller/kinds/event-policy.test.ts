import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseContract } from '../../../../core/contract/parse.js';
import { CONTRACT_VERSION } from '../../../../core/contract/types.js';
import { computeDesired } from '../../../../controller/desired.js';
import { admitEventPolicy, selects } from '../../../../controller/kinds/event-policy.js';
import type { KnObject } from '../../../../controller/resources.js';
import type { ReconcileSettings } from '../../../../controller/state.js';
import { broker, condition, knObject, observed, settings } from '../fixtures.js';

const policy = (name: string, spec: unknown, namespace = 'default'): KnObject => knObject('eventing.knative.dev/v1alpha1', 'EventPolicy', name, { spec }, { namespace });
const labelled = (object: KnObject, labels: Record<string, string>): KnObject => ({ ...object, metadata: { ...object.metadata, labels } });
const BROKER_REF = { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker' };
const withOidc = (mode: 'allow-all' | 'allow-same-namespace' | 'deny-all' = 'allow-same-namespace'): ReconcileSettings => ({ ...settings, oidc: { defaultMode: mode } });

describe('EventPolicy admission', () => {
  const cases: [string, unknown, string | undefined][] = [
    ['subjects and a ref target', { to: [{ ref: { ...BROKER_REF, name: 'b' } }], from: [{ sub: 'system:serviceaccount:ns:*' }] }, undefined],
    ['no from', { to: [] }, 'missing field(s): spec.from'],
    ['both ref and sub', { from: [{ sub: 'a', ref: { apiVersion: 'v1', kind: 'X', name: 'x' } }] }, 'expected exactly one of: ref, sub: spec.from[0]'],
    ['* in the middle', { from: [{ sub: 'system:*:x' }] }, `invalid value: "system:*:x" ('*' is allowed only at the end): spec.from[0].sub`],
    ['ref without a name', { to: [{ ref: { ...BROKER_REF } }], from: [{ sub: 'a' }] }, 'missing field(s): spec.to[0].ref.name'],
    ['unknown field', { from: [{ sub: 'a' }], sender: [] }, 'unknown field: spec.sender'],
    ['bad operator', { to: [{ selector: { ...BROKER_REF, matchExpressions: [{ key: 'k', operator: 'Like' }] } }], from: [{ sub: 'a' }] }, 'expected key and operator In, NotIn, Exists or DoesNotExist: spec.to[0].selector.matchExpressions[0]'],
    ['filters', { from: [{ sub: 'a' }], filters: [{ exact: { type: 't' } }, { not: { cesql: "source LIKE '/x/%'" } }] }, undefined],
    ['filters: an unknown dialect', { from: [{ sub: 'a' }], filters: [{ regex: { type: '.*' } }] }, "unknown filter dialect 'regex': expected one of exact, prefix, suffix, all, any, not, cesql: spec.filters[0].regex"],
    ['filters: CESQL that does not parse', { from: [{ sub: 'a' }], filters: [{ cesql: 'type = ' }] }, 'invalid CESQL expression: unexpected end of expression: expected a value at column 8 in "type = ": spec.filters[0].cesql'],
    ['filters: not a list', { from: [{ sub: 'a' }], filters: { exact: { type: 't' } } }, 'must be a list of filters, found an object: spec.filters'],
  ];
  for (const [name, spec, error] of cases) {
    test(name, () => {
      const admission = admitEventPolicy(policy('p', spec));
      if (error === undefined) assert.equal(admission.ok, true);
      else assert.deepEqual(!admission.ok && admission.errors.map((e) => `${e.message}: ${e.path}`), [error]);
    });
  }
});

describe('which brokers a policy selects', () => {
  const b = labelled(broker('b'), { team: 'a', tier: 'gold' });
  const cases: [string, unknown, KnObject, boolean][] = [
    ['no `to`: every broker of its namespace', {}, b, true],
    ['not another namespace', {}, broker('b', {}, { namespace: 'other' }), false],
    ['ref by name', { to: [{ ref: { ...BROKER_REF, name: 'b' } }] }, b, true],
    ['ref to another broker', { to: [{ ref: { ...BROKER_REF, name: 'c' } }] }, b, false],
    ['ref to another kind', { to: [{ ref: { apiVersion: 'messaging.knative.dev/v1', kind: 'Channel', name: 'b' } }] }, b, false],
    ['matchLabels', { to: [{ selector: { ...BROKER_REF, matchLabels: { team: 'a' } } }] }, b, true],
    ['matchLabels mismatch', { to: [{ selector: { ...BROKER_REF, matchLabels: { team: 'b' } } }] }, b, false],
    ['In', { to: [{ selector: { ...BROKER_REF, matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'silver'] }] } }] }, b, true],
    ['NotIn', { to: [{ selector: { ...BROKER_REF, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }] } }] }, b, false],
    ['Exists', { to: [{ selector: { ...BROKER_REF, matchExpressions: [{ key: 'team', operator: 'Exists' }] } }] }, b, true],
    ['DoesNotExist', { to: [{ selector: { ...BROKER_REF, matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] } }] }, b, false],
    ['a label named like an Object method is not a label', { to: [{ selector: { ...BROKER_REF, matchExpressions: [{ key: 'toString', operator: 'Exists' }] } }] }, b, false],
  ];
  for (const [name, spec, target, expected] of cases) {
    test(name, () => {
      const admission = admitEventPolicy(policy('p', { from: [{ sub: 'a' }], ...(spec as object) }));
      assert.ok(admission.ok);
      assert.equal(selects(admission.value, target), expected);
    });
  }
});

describe('brokers with OIDC on', () => {
  const topics = observed({ 'knative-broker-default-b': {} });
  const ingressOf = (state: ReturnType<typeof computeDesired>) => {
    const contract = parseContract({ version: CONTRACT_VERSION, generation: 1, resources: state.resources });
    return contract.resources[0]!.ingress!;
  };

  test('off: no audience, no senders, the usual conditions', () => {
    const state = computeDesired([broker('b'), policy('p', { from: [{ sub: 'x' }] })], new Map(), topics, settings);
    assert.deepEqual(ingressOf(state), { path: '/default/b', contentMode: 'binary' });
    const status = state.statuses.get('Broker/default/b')!;
    assert.deepEqual(status.address, { url: 'http://127.0.0.1:8080/default/b' });
    assert.equal(condition(status, 'EventPoliciesReady'), undefined);
  });

  test('on, no policy: the audience, and the default mode\'s senders', () => {
    const expected = new Map<string, unknown>([
      ['allow-same-namespace', [{ policy: '(default) allow-same-namespace', subjects: ['system:serviceaccount:default:*'] }]],
      ['allow-all', undefined],
      ['deny-all', []],
    ]);
    for (const [mode, senders] of expected) {
      const state = computeDesired([broker('b')], new Map(), topics, withOidc(mode as 'allow-all'));
      const ingress = ingressOf(state);
      assert.equal(ingress.audience, 'eventing.knative.dev/broker/default/b', mode);
      assert.deepEqual(ingress.senders, senders, mode);
      const status = state.statuses.get('Broker/default/b')!;
      assert.deepEqual(status.address, { url: 'http://127.0.0.1:8080/default/b', audience: 'eventing.knative.dev/broker/default/b' });
      assert.equal(condition(status, 'EventPoliciesReady')?.reason, 'DefaultAuthorizationMode', mode);
      assert.equal(status.policies, undefined);
      assert.equal(condition(status, 'Ready')?.status, 'True');
    }
  });

  test('on, with policies: their subjects (refs resolved), status.policies, status.from', () => {
    const source = knObject('sources.knative.dev/v1', 'PingSource', 'ping', { spec: {} });
    const withIdentity = { ...source, status: { auth: { serviceAccountName: 'ping-oidc' } } } as KnObject;
    const objects = [
      broker('b'),
      broker('c'),
      policy('for-b', { to: [{ ref: { ...BROKER_REF, name: 'b' } }], from: [{ sub: 'system:serviceaccount:team-a:*' }, { ref: { apiVersion: 'sources.knative.dev/v1', kind: 'PingSource', name: 'ping' } }] }),
      policy('missing-ref', { to: [{ ref: { ...BROKER_REF, name: 'c' } }], from: [{ ref: { apiVersion: 'sources.knative.dev/v1', kind: 'PingSource', name: 'gone' } }] }),
      policy('elsewhere', { from: [{ sub: 'x' }] }, 'other'),
      withIdentity,
    ];
    const state = computeDesired(objects, new Map(), observed({ 'knative-broker-default-b': {}, 'knative-broker-default-c': {} }), withOidc('allow-all'));
    const contract = parseContract({ version: CONTRACT_VERSION, generation: 1, resources: state.resources });
    const b = contract.resources.find((r) => r.reference.name === 'b')!.ingress!;
    assert.deepEqual(b.senders, [{ policy: 'default/for-b', subjects: ['system:serviceaccount:team-a:*', 'system:serviceaccount:default:ping-oidc'] }]);
    const c = contract.resources.find((r) => r.reference.name === 'c')!.ingress!;
    assert.deepEqual(c.senders, [{ policy: 'default/missing-ref', subjects: [] }], 'an unresolved reference allows nobody');
    const bStatus = state.statuses.get('Broker/default/b')!;
    assert.deepEqual(bStatus.policies, [{ apiVersion: 'eventing.knative.dev/v1alpha1', name: 'for-b' }]);
    assert.equal(condition(bStatus, 'EventPoliciesReady')?.status, 'True');
    const forB = state.statuses.get('EventPolicy/default/for-b')!;
    assert.deepEqual(forB.from, ['system:serviceaccount:team-a:*', 'system:serviceaccount:default:ping-oidc']);
    assert.equal(condition(forB, 'Ready')?.status, 'True');
    const missing = state.statuses.get('EventPolicy/default/missing-ref')!;
    assert.equal(condition(missing, 'Ready')?.status, 'False');
    assert.match(condition(missing, 'SubjectsResolved')?.message ?? '', /PingSource default\/gone/);
  });

  test('on, with a policy\'s filters: they go into its sender rule as one `all`', () => {
    const objects = [broker('b'), policy('orders', { from: [{ sub: 'system:serviceaccount:default:*' }], filters: [{ prefix: { type: 'com.example.order.' } }] })];
    const ingress = ingressOf(computeDesired(objects, new Map(), topics, withOidc()));
    assert.deepEqual(ingress.senders, [{
      policy: 'default/orders',
      subjects: ['system:serviceaccount:default:*'],
      filter: { kind: 'all', filters: [{ kind: 'prefix', attributes: { type: 'com.example.order.' } }] },
    }]);
  });

  test('HTTPS: the address is https with its CA; the http one stays listed', () => {
    const https: ReconcileSettings = { ...withOidc(), ingressHttps: { url: 'https://127.0.0.1:8443/', caCerts: '-----BEGIN CERTIFICATE-----\n...' } };
    const status = computeDesired([broker('b')], new Map(), topics, https).statuses.get('Broker/default/b')!;
    const audience = 'eventing.knative.dev/broker/default/b';
    assert.deepEqual(status.address, { url: 'https://127.0.0.1:8443/default/b', CACerts: '-----BEGIN CERTIFICATE-----\n...', audience });
    assert.deepEqual(status.addresses, [
      { name: 'https', url: 'https://127.0.0.1:8443/default/b', CACerts: '-----BEGIN CERTIFICATE-----\n...', audience },
      { name: 'http', url: 'http://127.0.0.1:8080/default/b', audience },
    ]);
  });
});
