import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { diffContracts, isEmptyDiff } from '../../../../core/contract/diff.js';
import { parseContract, parseContractJson } from '../../../../core/contract/parse.js';
import { InProcessContractSource } from '../../../../core/contract/source.js';
import { makeBroker, makeContract, makeEgress, makeEgressConfig } from '../../../helpers/builders.js';

const valid = makeContract([
  makeBroker('default', [
    makeEgress('all'),
    makeEgress('orders', {
      filter: { kind: 'all', filters: [{ kind: 'exact', attributes: { type: 'order.created' } }, { kind: 'not', filter: { kind: 'cesql', expression: "source LIKE 'test%'" } }] },
      deliveryOrder: 'ordered',
      egressConfig: makeEgressConfig({ retry: 3, deadLetter: 'http://dls.example/' }),
    }),
  ]),
]);

describe('parseContract', () => {
  test('accepts a valid contract and returns it unchanged', () => {
    assert.deepEqual(parseContract(JSON.parse(JSON.stringify(valid))), valid);
  });

  const mutate = (fn: (c: Record<string, any>) => void): unknown => {
    const copy = JSON.parse(JSON.stringify(valid));
    fn(copy);
    return copy;
  };

  const cases: { name: string; input: unknown; field: RegExp }[] = [
    { name: 'wrong version', input: mutate((c) => (c.version = 'v0')), field: /^invalid contract: version:/ },
    { name: 'negative generation', input: mutate((c) => (c.generation = -1)), field: /generation/ },
    { name: 'unknown filter kind', input: mutate((c) => (c.resources[0].egresses[1].filter.filters[0].kind = 'regex')), field: /resources\[0\]\.egresses\[1\]\.filter\.filters\[0\]\.kind/ },
    { name: 'bad attribute name', input: mutate((c) => (c.resources[0].egresses[1].filter.filters[0].attributes = { Type: 'x' })), field: /attributes\.Type: attribute names/ },
    { name: 'unknown reply strategy', input: mutate((c) => (c.resources[0].egresses[0].reply = { kind: 'broker' })), field: /egresses\[0\]\.reply\.kind/ },
    { name: 'destination not a URL', input: mutate((c) => (c.resources[0].egresses[0].destination = 'not a url')), field: /egresses\[0\]\.destination/ },
    { name: 'negative retry', input: mutate((c) => (c.resources[0].egresses[1].egressConfig.retry = -1)), field: /egressConfig\.retry/ },
    { name: 'unknown field', input: mutate((c) => (c.resources[0].extra = 1)), field: /resources\[0\]: Unrecognized key/ },
    { name: 'duplicate consumer group', input: mutate((c) => (c.resources[0].egresses[1].consumerGroup = c.resources[0].egresses[0].consumerGroup)), field: /egresses\[1\]\.consumerGroup: duplicate group/ },
    { name: 'no topics', input: mutate((c) => (c.resources[0].topics = [])), field: /resources\[0\]\.topics/ },
    { name: 'a cluster without servers', input: mutate((c) => (c.resources[0].cluster = { bootstrapServers: [], authSecret: null })), field: /resources\[0\]\.cluster\.bootstrapServers/ },
    {
      name: 'a Secret name that would leave --kafka-auth-root',
      input: mutate((c) => (c.resources[0].cluster = { bootstrapServers: ['k:9092'], authSecret: { namespace: '..', name: 'x' } })),
      field: /resources\[0\]\.cluster\.authSecret\.namespace: a Kubernetes name/,
    },
  ];
  for (const { name, input, field } of cases) {
    test(`rejects ${name}, naming the field`, () => {
      assert.throws(() => parseContract(input), (error: { code: string; message: string }) => {
        assert.equal(error.code, 'CONTRACT_INVALID');
        assert.match(error.message, field);
        return true;
      });
    });
  }

  test('keeps a resource\'s own cluster: servers and the Secret reference, no secret values', () => {
    const cluster = { bootstrapServers: ['b1:9093', 'b2:9093'], authSecret: { namespace: 'knative-eventing', name: 'kafka-auth' } };
    const withCluster = makeContract([makeBroker('b', [], { cluster })]);
    assert.deepEqual(parseContract(JSON.parse(JSON.stringify(withCluster))).resources[0]?.cluster, cluster);
  });

  test('rejects text that is not JSON', () => {
    assert.throws(() => parseContractJson('{'), /invalid contract: not JSON/);
  });
});

describe('diffContracts', () => {
  test('from nothing, everything is added', () => {
    const diff = diffContracts(undefined, valid);
    assert.equal(diff.resources.added.length, 1);
    assert.equal(diff.egresses.added.length, 2);
  });

  test('an equal contract with a new generation is an empty diff', () => {
    assert.ok(isEmptyDiff(diffContracts(valid, { ...valid, generation: 2 })));
  });

  test('a changed filter changes only that egress', () => {
    const next = makeContract([makeBroker('default', [makeEgress('all'), makeEgress('orders', { filter: null })])], 2);
    const diff = diffContracts(valid, next);
    assert.deepEqual(diff.egresses.changed.map((c) => c.after.egress.reference.name), ['orders']);
    assert.equal(diff.egresses.added.length + diff.egresses.removed.length, 0);
    assert.equal(diff.resources.changed.length, 0, 'the resource itself (ingress, topics) did not change');
  });

  test('a removed trigger is removed; a changed broker delivery changes every egress that inherits it', () => {
    const next = makeContract([makeBroker('default', [makeEgress('all')], { egressConfig: makeEgressConfig({ retry: 5 }) })], 2);
    const diff = diffContracts(valid, next);
    assert.deepEqual(diff.egresses.removed.map((e) => e.egress.reference.name), ['orders']);
    assert.deepEqual(diff.egresses.changed.map((c) => c.after.egress.reference.name), ['all']);
  });
});

describe('InProcessContractSource', () => {
  test('tells subscribers of newer generations only', () => {
    const source = new InProcessContractSource();
    const seen: number[] = [];
    source.subscribe((c) => seen.push(c.generation));
    source.publish(makeContract([], 1));
    source.publish(makeContract([], 1));
    source.publish(makeContract([], 3));
    source.publish(makeContract([], 2));
    assert.deepEqual(seen, [1, 3]);
    const late: number[] = [];
    source.subscribe((c) => late.push(c.generation));
    assert.deepEqual(late, [3]);
  });
});

test('an egress may carry a rewind request; it is checked, and it is not a change of the egress', () => {
  const rewind = { id: 'abc', kind: 'rewind' as const, to: 'earliest', who: 'kubectl-annotate' };
  const plain = makeContract([makeBroker('b', [makeEgress('t')])], 1);
  const asked = makeContract([makeBroker('b', [makeEgress('t', { rewind })])], 2);
  assert.deepEqual(parseContract(JSON.parse(JSON.stringify(asked))).resources[0]!.egresses[0]!.rewind, rewind);
  const bad = JSON.parse(JSON.stringify(asked)) as { resources: { egresses: { rewind: Record<string, unknown> }[] }[] };
  bad.resources[0]!.egresses[0]!.rewind['kind'] = 'explode';
  assert.throws(() => parseContract(bad), /rewind\.kind/);
  assert.ok(isEmptyDiff(diffContracts(plain, asked)), 'the running egress is not restarted');
});
