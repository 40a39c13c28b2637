import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseContract } from '../../../../core/contract/parse.js';
import { CONTRACT_VERSION } from '../../../../core/contract/types.js';
import { computeDesired } from '../../../../controller/desired.js';
import { admitSource, defaultSourceGroup, KEY_TYPE_LABEL } from '../../../../controller/kinds/kafka-source.js';
import type { KnObject, ObjectKey } from '../../../../controller/resources.js';
import type { Observed, ReconcileSettings } from '../../../../controller/state.js';
import { broker, condition, knObject, observed, settings, trigger } from '../fixtures.js';

/**
 * KafkaSource in the controller: admission with Knative's defaults, then its topics (checked,
 * never created), its consumer group at spec.initialOffset, its egress and its status.
 */

const K = 'KafkaSource/default/src';
const kafka: ReconcileSettings = { ...settings, kafkaBootstrapServers: ['kafka-0.local:9092'] };

const source = (spec: Record<string, unknown> = {}, labels: Record<string, string> = {}, version = 'v1beta1'): KnObject => {
  const object = knObject(`sources.knative.dev/${version}`, 'KafkaSource', 'src', {
    spec: { topics: ['orders'], bootstrapServers: ['kafka-0.local:9092'], sink: { uri: 'http://sink.example/' }, ...spec },
  });
  return { ...object, metadata: { ...object.metadata, labels } };
};

const desired = (objects: readonly KnObject[], seen: Observed = observed(), s: ReconcileSettings = settings, previous: ReadonlyMap<ObjectKey, KnObject> = new Map()) =>
  computeDesired(objects, previous, seen, s);

describe('KafkaSource admission', () => {
  test("Knative's defaults: a group named for the object, one consumer, latest, ordered, string keys", () => {
    const admitted = admitSource(source());
    assert.ok(admitted.ok);
    const { consumerGroup, initialOffset, ordering, keyType, object } = admitted.value;
    assert.equal(consumerGroup, defaultSourceGroup(object.metadata.uid));
    assert.match(consumerGroup, /^knative-kafka-source-/);
    assert.deepEqual([initialOffset, ordering, keyType], ['latest', 'ordered', 'string']);
    assert.equal((object.spec as Record<string, unknown>)['consumers'], 1);
  });

  test('bad fields are named one by one', () => {
    const bad = admitSource(source({ topics: [], bootstrapServers: undefined, initialOffset: 'middle', ordering: 'sorted', consumers: 0, sink: {}, ceOverrides: { extensions: { Team: 'x', id: 'y' } }, extra: 1 }, { [KEY_TYPE_LABEL]: 'uuid' }));
    assert.ok(!bad.ok);
    assert.deepEqual(bad.errors.map((e) => e.path).sort(), [
      `metadata.labels[${KEY_TYPE_LABEL}]`, 'spec.bootstrapServers', 'spec.ceOverrides.extensions.Team', 'spec.ceOverrides.extensions.id',
      'spec.consumers', 'spec.extra', 'spec.initialOffset', 'spec.ordering', 'spec.sink', 'spec.topics',
    ]);
  });

  test('the key-type label, ceOverrides (as a list) and comma-separated entries are read', () => {
    const admitted = admitSource(source({ topics: ['a,b', 'a'], ceOverrides: { extensions: { team: 'billing', constructor: 'x' } } }, { [KEY_TYPE_LABEL]: 'byte-array' }));
    assert.ok(admitted.ok);
    assert.deepEqual(admitted.value.topics, ['a', 'b']);
    assert.equal(admitted.value.keyType, 'byte-array');
    assert.deepEqual(admitted.value.overrides, [{ name: 'constructor', value: 'x' }, { name: 'team', value: 'billing' }]);
  });
});

describe('KafkaSource desired state', () => {
  test('its topics are checked, never created; missing ones say so on ConnectionEstablished', () => {
    const first = desired([source()], observed(), kafka);
    assert.deepEqual(first.topics.map((t) => [t.name, t.external]), [['orders', true]]);
    assert.equal(condition(first.statuses.get(K), 'ConnectionEstablished')?.status, 'Unknown');
    const missing = desired([source()], { ...observed(), topics: new Map([['orders', { state: 'missing', owner: K, external: true }]]) }, kafka);
    const c = condition(missing.statuses.get(K), 'ConnectionEstablished');
    assert.deepEqual([c?.status, c?.reason], ['False', 'TopicsNotPresentOrInvalid']);
    assert.match(c?.message ?? '', /orders do not exist/);
    assert.equal(condition(missing.statuses.get(K), 'Ready')?.reason, 'TopicsNotPresentOrInvalid');
    assert.equal(missing.groups.length, 0);
    assert.equal(missing.resources.length, 0);
  });

  test('another cluster in bootstrapServers is refused on its status', () => {
    const other = desired([source({ bootstrapServers: ['elsewhere:9092'] })], observed(), kafka);
    assert.equal(condition(other.statuses.get(K), 'ConnectionEstablished')?.reason, 'BootstrapServersNotSupported');
    assert.equal(other.topics.length, 0);
  });

  test('topics there: the group is positioned at initialOffset, then the egress enters the contract', () => {
    const group = 'g';
    const topicsSeen = observed({ orders: { external: true, owner: K }, audit: { external: true, owner: K } });
    const positioning = desired([source({ consumerGroup: group, topics: ['orders', 'audit'], initialOffset: 'earliest' })], topicsSeen, kafka);
    assert.deepEqual(positioning.groups, [{ group, topic: 'orders', owner: K, start: 'earliest', moreTopics: ['audit'] }]);
    assert.equal(condition(positioning.statuses.get(K), 'InitialOffsetsCommitted')?.status, 'Unknown');
    assert.equal(positioning.resources.length, 0);

    const ready = desired([source({ consumerGroup: group, topics: ['orders', 'audit'], initialOffset: 'earliest', ordering: 'unordered' }, { [KEY_TYPE_LABEL]: 'int' })],
      observed({ orders: { external: true, owner: K }, audit: { external: true, owner: K } }, { [group]: { topic: 'orders', owner: K } }), kafka);
    const status = ready.statuses.get(K)!;
    assert.equal(condition(status, 'Ready')?.status, 'True');
    assert.equal(status.sinkUri, 'http://sink.example/');
    assert.equal(status.consumers, 1);
    assert.deepEqual(ready.resources.map((r) => [r.kind, r.topics, r.ingress]), [['KafkaSource', ['orders', 'audit'], null]]);
    const egress = ready.resources[0]!.egresses[0]!;
    assert.deepEqual([egress.consumerGroup, egress.destination, egress.reply.kind, egress.deliveryOrder], [group, 'http://sink.example/', 'discard', 'unordered']);
    assert.deepEqual(egress.recordConversion, { kind: 'kafka-source', namespace: 'default', name: 'src', keyType: 'int', overrides: [] });
    // The contract with it parses (the dispatcher's view).
    parseContract({ version: CONTRACT_VERSION, generation: 1, resources: ready.resources });
    assert.deepEqual(ready.obsoleteGroups, []);
  });

  test('a sink ref to a Broker resolves to its ingress; triggers on that broker route what the source sends', () => {
    const objects = [broker('default'), trigger('t', { broker: 'default' }), source({ sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default' } } })];
    const group = defaultSourceGroup(objects[2]!.metadata.uid);
    const state = desired(objects, observed({ 'knative-broker-default-default': {}, orders: { external: true, owner: K } }, { [group]: { topic: 'orders', owner: K } }));
    assert.equal(state.statuses.get(K)?.sinkUri, 'http://127.0.0.1:8080/default/default');
    assert.equal(state.resources.find((r) => r.kind === 'KafkaSource')?.egresses[0]?.destination, 'http://127.0.0.1:8080/default/default');
  });

  test('an unresolvable sink or dead-letter sink keeps it out of the contract', () => {
    const state = desired([source({ sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'nope' } } })], observed({ orders: { external: true, owner: K } }));
    assert.equal(condition(state.statuses.get(K), 'SinkProvided')?.reason, 'SinkNotFound');
    assert.equal(state.groups.length, 0);
  });

  test('deleted, its consumer group goes (as Knative deletes it): a re-created source starts at initialOffset again', () => {
    const gone = desired([], observed({ orders: { external: true, owner: K } }, { g: { topic: 'orders', owner: K } }));
    assert.deepEqual(gone.obsoleteGroups, ['g']);
    assert.deepEqual(gone.obsoleteTopics, [], 'the topics are not ours');
  });

  test('v1 is read like v1beta1', () => {
    const state = desired([source({}, {}, 'v1')], observed({ orders: { external: true, owner: K } }));
    assert.ok(state.statuses.has(K));
    assert.equal(state.ignored.size, 0);
  });
});
