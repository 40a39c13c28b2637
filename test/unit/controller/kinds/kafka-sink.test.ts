import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeDesired } from '../../../../controller/desired.js';
import { admitSink, sameCluster } from '../../../../controller/kinds/kafka-sink.js';
import type { KnObject, ObjectKey } from '../../../../controller/resources.js';
import type { Observed, ReconcileSettings } from '../../../../controller/state.js';
import { broker, condition, knObject, observed, settings, trigger } from '../fixtures.js';

/**
 * KafkaSink in the controller: admission as Knative Kafka's webhook does it, then the sink's
 * topic, contract resource, address and status, and the sink as a dead-letter sink `ref`.
 */

const S = 'KafkaSink/default/s';
const kafka: ReconcileSettings = { ...settings, kafkaBootstrapServers: ['kafka-0.local:9092', 'kafka-1.local:9092'] };

const sink = (name: string, spec: Record<string, unknown> = {}, meta: { generation?: number } = {}): KnObject =>
  knObject('eventing.knative.dev/v1alpha1', 'KafkaSink', name, { spec: { topic: `dl-${name}`, bootstrapServers: ['kafka-0.local:9092'], ...spec } }, meta);

const desired = (objects: readonly KnObject[], seen: Observed = observed(), s: ReconcileSettings = settings, previous: ReadonlyMap<ObjectKey, KnObject> = new Map()) =>
  computeDesired(objects, previous, seen, s);

describe('KafkaSink admission', () => {
  test('contentMode defaults to binary (the CRD default), visible on the object', () => {
    const admitted = admitSink(sink('s'), undefined);
    assert.ok(admitted.ok);
    assert.equal(admitted.value.contentMode, 'binary');
    assert.equal((admitted.value.object.spec as Record<string, unknown>)['contentMode'], 'binary');
    assert.equal(admitted.value.numPartitions, null);
  });

  test('topic and bootstrapServers are required; bad values are named field by field', () => {
    const missing = admitSink(knObject('eventing.knative.dev/v1alpha1', 'KafkaSink', 's', { spec: {} }), undefined);
    assert.ok(!missing.ok);
    assert.deepEqual(missing.errors.map((e) => e.path), ['spec.topic', 'spec.bootstrapServers']);
    const bad = admitSink(sink('s', { topic: 'no spaces', numPartitions: 0, replicationFactor: 1.5, contentMode: 'json', bootstrapServers: 'a:1', extra: 1 }), undefined);
    assert.ok(!bad.ok);
    assert.equal(bad.reason, 'ValidationFailed');
    assert.deepEqual(bad.errors.map((e) => e.path).sort(), ['spec.bootstrapServers', 'spec.contentMode', 'spec.extra', 'spec.numPartitions', 'spec.replicationFactor', 'spec.topic']);
  });

  test('topic, numPartitions and replicationFactor are immutable', () => {
    const before = sink('s', { numPartitions: 3, replicationFactor: 1 });
    const changed = admitSink(sink('s', { topic: 'other', numPartitions: 3, replicationFactor: 1 }), before);
    assert.ok(!changed.ok);
    assert.equal(changed.reason, 'ImmutableFieldChanged');
    assert.deepEqual(changed.errors.map((e) => e.path), ['spec.topic']);
    assert.ok(admitSink(sink('s', { numPartitions: 3, replicationFactor: 1, contentMode: 'structured' }), before).ok, 'contentMode may change');
  });

  test('spec.auth.secret.ref.name is the name of a Secret; other shapes are refused field by field', () => {
    const ok = admitSink(sink('s', { auth: { secret: { ref: { name: 'creds' } } } }), undefined);
    assert.ok(ok.ok);
    assert.equal(ok.value.authSecret, 'creds');
    const cases: [unknown, string][] = [
      ['creds', 'spec.auth'],
      [{ secret: 'creds' }, 'spec.auth.secret'],
      [{ secret: { ref: ['creds'] } }, 'spec.auth.secret.ref'],
      [{ secret: { ref: { name: '../etc' } } }, 'spec.auth.secret.ref.name'],
      [{ secret: { ref: { name: 'creds', namespace: 'other' } } }, 'spec.auth.secret.ref.namespace'],
      [{ sasl: {} }, 'spec.auth.sasl'],
    ];
    for (const [auth, path] of cases) {
      const refused = admitSink(sink('s', { auth }), undefined);
      assert.ok(!refused.ok, JSON.stringify(auth));
      assert.deepEqual(refused.errors.map((e) => e.path), [path], JSON.stringify(auth));
    }
  });

  test('in memory, spec.auth is reported as not used (ReadyWithWarnings)', () => {
    const d = desired([sink('s', { auth: { secret: { ref: { name: 'creds' } } } })], observed({ 'dl-s': { owner: S } }));
    assert.deepEqual(condition(d.statuses.get(S), 'Ready')?.reason, 'ReadyWithWarnings');
    assert.equal(condition(d.statuses.get(S), 'Ready')!.message, 'warning: not used: the in-memory event log has no Kafka credentials: spec.auth');
    assert.equal(d.topics[0]?.cluster, undefined);
  });
});

describe('KafkaSink reconcile (in memory)', () => {
  test('a new sink wants its topic (created in memory whatever the spec says) and is not Ready until it is seen', () => {
    const d = desired([sink('s')]);
    assert.deepEqual(d.topics, [{ name: 'dl-s', owner: S, external: false, spec: { partitions: 10, replicationFactor: 1 } }]);
    assert.deepEqual(d.resources, []);
    assert.deepEqual(condition(d.statuses.get(S), 'TopicReady'), { status: 'Unknown', reason: 'TopicPending', message: 'creating topic dl-s' });
    assert.equal(condition(d.statuses.get(S), 'Ready')?.status, 'Unknown');
    assert.equal(d.statuses.get(S)?.address, undefined);
  });

  test('once its topic is seen, the sink is in the contract at /sinks/<ns>/<name>, addressable and Ready', () => {
    const d = desired([sink('s', { contentMode: 'structured', numPartitions: 2, replicationFactor: 1 })], observed({ 'dl-s': { owner: S, partitions: 2 } }));
    assert.equal(d.resources.length, 1);
    const r = d.resources[0]!;
    assert.equal(r.kind, 'KafkaSink');
    assert.deepEqual(r.topics, ['dl-s']);
    assert.deepEqual(r.ingress, { path: '/sinks/default/s', contentMode: 'structured' });
    assert.deepEqual(r.egresses, []);
    assert.equal(r.egressConfig, null);
    assert.deepEqual(r.reference, { kind: 'KafkaSink', namespace: 'default', name: 's', uid: r.uid });
    const status = d.statuses.get(S)!;
    assert.deepEqual(status.address, { url: 'http://127.0.0.1:8080/sinks/default/s' });
    assert.deepEqual(status.conditions.map((c) => c.type), ['Addressable', 'DataPlaneAvailable', 'Ready', 'TopicReady']);
    assert.deepEqual(condition(status, 'Ready'), { status: 'True' });
    assert.match(condition(status, 'TopicReady')!.message!, /in-memory event log; spec\.bootstrapServers is not used/);
    assert.deepEqual(d.topics[0]?.spec, { partitions: 2, replicationFactor: 1 });
  });

  test('a sink that wants a broker’s topic is refused on TopicReady, not shared', () => {
    const d = desired([broker('b'), sink('s', { topic: 'knative-broker-default-b' })]);
    assert.deepEqual(condition(d.statuses.get(S), 'TopicReady'), {
      status: 'False', reason: 'TopicNameConflict', message: 'topic knative-broker-default-b is already owned by Broker/default/b; choose another spec.topic',
    });
    assert.equal(d.topics.filter((t) => t.owner === S).length, 0);
  });
});

describe('KafkaSink reconcile (Kafka)', () => {
  test('numPartitions and replicationFactor both given: the controller creates the topic', () => {
    const d = desired([sink('s', { numPartitions: 3, replicationFactor: 2 })], observed(), kafka);
    assert.deepEqual(d.topics, [{ name: 'dl-s', owner: S, external: false, spec: { partitions: 3, replicationFactor: 2 } }]);
  });

  test('otherwise the topic must exist (Knative Kafka): a missing one is reported and never created', () => {
    const d = desired([sink('s', { numPartitions: 3 })], observed({ 'dl-s': { state: 'missing', owner: S, external: true } }), kafka);
    assert.deepEqual(d.topics, [{ name: 'dl-s', owner: S, external: true, spec: { partitions: 3, replicationFactor: 1 } }]);
    assert.deepEqual(condition(d.statuses.get(S), 'TopicReady'), { status: 'False', reason: 'TopicNotPresentOrInvalid', message: 'external topic dl-s does not exist' });
    assert.deepEqual(d.resources, []);
    const ready = desired([sink('s')], observed({ 'dl-s': { owner: S, external: true, partitions: 4 } }), kafka);
    assert.equal(condition(ready.statuses.get(S), 'TopicReady')?.reason, 'ExternalTopic');
    assert.equal(ready.resources.length, 1);
  });

  test('the process cluster (any one of its servers) without a Secret: the default path, no cluster of its own', () => {
    const d = desired([sink('s', { bootstrapServers: ['kafka-1.local:9092'] })], observed({ 'dl-s': { owner: S, external: true } }), kafka);
    assert.equal(d.topics[0]?.cluster, undefined);
    assert.equal(d.resources[0] !== undefined && 'cluster' in d.resources[0], false);
  });

  test('another cluster, or a Secret: the topic and the contract resource carry the cluster (servers sorted, Secret in the sink namespace)', () => {
    const auth = { secret: { ref: { name: 'creds' } } };
    const other = desired([sink('s', { bootstrapServers: ['SASL_SSL://b2:9093', 'b1:9093'], numPartitions: 1, replicationFactor: 1, auth })], observed({ 'dl-s': { owner: S } }), kafka);
    const cluster = { bootstrapServers: ['b1:9093', 'b2:9093'], authSecret: { namespace: 'default', name: 'creds' } };
    assert.deepEqual(other.topics, [{ name: 'dl-s', owner: S, external: false, spec: { partitions: 1, replicationFactor: 1 }, cluster }]);
    assert.deepEqual(other.resources[0]?.cluster, cluster);
    assert.equal(condition(other.statuses.get(S), 'Ready')?.status, 'True');
    const ownWithSecret = desired([sink('s', { auth })], observed(), kafka);
    assert.deepEqual(ownWithSecret.topics[0]?.cluster, { bootstrapServers: ['kafka-0.local:9092'], authSecret: { namespace: 'default', name: 'creds' } });
    const plain = desired([sink('s', { bootstrapServers: ['elsewhere:9092'] })], observed(), kafka);
    assert.deepEqual(plain.topics[0]?.cluster, { bootstrapServers: ['elsewhere:9092'], authSecret: null });
  });

  test('a missing or bad Secret: TopicReady False, KafkaAuthSecretInvalid, naming the Secret; no address', () => {
    const error = 'Secret default/creds not found (named by spec.auth.secret.ref.name)';
    const d = desired([sink('s', { auth: { secret: { ref: { name: 'creds' } } } })], observed({ 'dl-s': { state: 'failed', owner: S, external: true, error, code: 'KAFKA_AUTH_INVALID' } }), kafka);
    assert.deepEqual(condition(d.statuses.get(S), 'TopicReady'), { status: 'False', reason: 'KafkaAuthSecretInvalid', message: `cannot use topic dl-s: ${error}` });
    assert.equal(condition(d.statuses.get(S), 'Ready')?.reason, 'KafkaAuthSecretInvalid');
    assert.deepEqual(d.resources, []);
    assert.equal(d.statuses.get(S)?.address, undefined);
  });

  test('bootstrap servers match on any shared server, ignoring case, a scheme and the default port', () => {
    assert.ok(sameCluster(['PLAINTEXT://Kafka-1.local'], ['kafka-0.local:9092', 'kafka-1.local:9092']));
    assert.ok(!sameCluster(['kafka-1.local:9093'], ['kafka-1.local:9092']));
  });
});

describe('KafkaSink as a destination', () => {
  const T = 'knative-broker-default-b';
  const G = 'knative-trigger-default-t';
  const dls = { ref: { apiVersion: 'eventing.knative.dev/v1alpha1', kind: 'KafkaSink', name: 's' } };

  test("a trigger's deadLetterSink ref to a Ready KafkaSink resolves to the sink's address", () => {
    const d = desired(
      [broker('b'), sink('s'), trigger('t', { broker: 'b', delivery: { retry: 1, deadLetterSink: dls } })],
      observed({ [T]: { owner: 'Broker/default/b' }, 'dl-s': { owner: S } }, { [G]: { topic: T } }),
    );
    const status = d.statuses.get('Trigger/default/t')!;
    assert.equal(status.deadLetterSinkUri, 'http://127.0.0.1:8080/sinks/default/s');
    assert.deepEqual(condition(status, 'DeadLetterSinkResolved'), { status: 'True' });
    const egress = d.resources.find((r) => r.kind === 'Broker')!.egresses[0]!;
    assert.equal(egress.egressConfig?.deadLetter, 'http://127.0.0.1:8080/sinks/default/s');
  });

  test("a broker's deadLetterSink ref to a KafkaSink that is not Ready yet says why", () => {
    const d = desired([broker('b', { delivery: { deadLetterSink: dls } }), sink('s')], observed({ [T]: { owner: 'Broker/default/b' } }));
    const resolved = condition(d.statuses.get('Broker/default/b'), 'DeadLetterSinkResolved')!;
    assert.equal(resolved.status, 'False');
    assert.match(resolved.message!, /KafkaSink "s".*has no address: its topic dl-s is not ready/);
    const missing = desired([broker('b', { delivery: { deadLetterSink: { ref: { ...dls.ref, name: 'nope' } } } })], observed({ [T]: { owner: 'Broker/default/b' } }));
    assert.match(condition(missing.statuses.get('Broker/default/b'), 'DeadLetterSinkResolved')!.message!, /KafkaSink "nope".*does not exist/);
  });
});

describe('KafkaSink topics over time', () => {
  test('a refused sink keeps its topic; a removed sink’s owned topic is deleted; an external one never is', () => {
    const seen = observed({ 'dl-s': { owner: S }, 'ext': { owner: 'KafkaSink/default/x', external: true } });
    const previous = new Map([[S, sink('s')]]);
    const refused = desired([sink('s', { topic: 'renamed' })], seen, settings, previous);
    assert.equal(condition(refused.statuses.get(S), 'Ready')?.reason, 'ImmutableFieldChanged');
    assert.deepEqual(refused.obsoleteTopics, []);
    const gone = desired([], seen);
    assert.deepEqual(gone.obsoleteTopics, ['dl-s']);
  });
});
