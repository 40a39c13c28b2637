import assert from 'node:assert/strict';
import { desiredCases, broker, condition, configMap, knObject, observed, trigger, type DesiredCase } from '../fixtures.js';

/** Brokers through computeDesired, case by case: admission, topic, contract resource, address and status. */

const T = 'knative-broker-default-b';
const B = 'Broker/default/b';
const TR = 'Trigger/default/t';

const cases: DesiredCase[] = [
  {
    name: 'a new broker wants its topic and is not Ready until the topic is seen',
    objects: [broker('b')],
    check: (d) => {
      assert.deepEqual(d.topics, [{ name: T, owner: B, external: false, spec: { partitions: 10, replicationFactor: 1 } }]);
      assert.deepEqual(d.resources, []);
      assert.deepEqual(condition(d.statuses.get(B), 'TopicReady'), { status: 'Unknown', reason: 'TopicPending', message: `creating topic ${T}` });
      assert.equal(condition(d.statuses.get(B), 'Ready')?.status, 'Unknown');
      assert.equal(d.statuses.get(B)?.address, undefined);
    },
  },
  {
    name: 'a broker whose topic is ready is in the contract, addressable and Ready, with Knative delivery defaults',
    objects: [broker('b')],
    observed: observed({ [T]: { owner: B } }),
    check: (d) => {
      assert.equal(d.resources.length, 1);
      const r = d.resources[0]!;
      assert.deepEqual(r.ingress, { path: '/default/b', contentMode: 'binary' });
      assert.deepEqual(r.topics, [T]);
      assert.equal(r.kind, 'Broker');
      assert.deepEqual(r.egressConfig, { retry: 10, backoffPolicy: 'exponential', backoffDelayMs: 200, timeoutMs: null, deadLetter: null, retryAfterMaxMs: null });
      const status = d.statuses.get(B)!;
      assert.deepEqual(status.address, { url: 'http://127.0.0.1:8080/default/b' });
      assert.deepEqual(condition(status, 'Ready'), { status: 'True' });
      assert.deepEqual(condition(status, 'TopicReady'), { status: 'True', reason: 'TopicCreated', message: `topic ${T} (10 partitions)` });
      assert.deepEqual(condition(status, 'DeadLetterSinkResolved')?.reason, 'DeadLetterSinkNotConfigured');
      assert.deepEqual(status.conditions.map((c) => c.type), ['Addressable', 'DataPlaneAvailable', 'DeadLetterSinkResolved', 'Ready', 'TopicReady']);
      assert.equal(status.observedGeneration, 1);
      // The defaults are visible on the object, as the webhook would have written them.
      assert.deepEqual((d.objects.get(B)?.spec as { delivery: unknown }).delivery, { retry: 10, backoffPolicy: 'exponential', backoffDelay: 'PT0.2S' });
    },
  },
  {
    name: 'observedGeneration follows the object generation',
    objects: [broker('b', {}, { generation: 7 })],
    check: (d) => assert.equal(d.statuses.get(B)?.observedGeneration, 7),
  },
  {
    name: 'a broker without the class annotation gets the default class (Kafka) and is reconciled',
    objects: [knObject('eventing.knative.dev/v1', 'Broker', 'b', { spec: {} })],
    check: (d) => {
      assert.equal(d.topics.length, 1);
      assert.equal(d.objects.get(B)?.metadata.annotations['eventing.knative.dev/broker.class'], 'Kafka');
    },
  },
  {
    name: 'a broker of another class and its triggers are left alone: no topic, no status',
    objects: [broker('b', {}, { annotations: { 'eventing.knative.dev/broker.class': 'MTChannelBasedBroker' } }), trigger('t', { broker: 'b' })],
    check: (d) => {
      assert.deepEqual(d.topics, []);
      assert.equal(d.statuses.size, 0);
      assert.match(d.ignored.get(B)!, /MTChannelBasedBroker/);
      assert.match(d.ignored.get(TR)!, /class "MTChannelBasedBroker"/);
    },
  },
  {
    name: 'an external topic is checked, not created; missing, it is reported and the broker is not Ready',
    objects: [broker('b', {}, { annotations: { 'kafka.eventing.knative.dev/external.topic': 'orders' } })],
    observed: observed({ orders: { state: 'missing', owner: B, external: true } as never }),
    check: (d) => {
      assert.deepEqual(d.topics, [{ name: 'orders', owner: B, external: true, spec: { partitions: 10, replicationFactor: 1 } }]);
      assert.deepEqual(condition(d.statuses.get(B), 'TopicReady'), { status: 'False', reason: 'TopicNotPresentOrInvalid', message: 'external topic orders does not exist' });
      assert.deepEqual(condition(d.statuses.get(B), 'Ready')?.reason, 'TopicNotPresentOrInvalid');
      assert.deepEqual(d.resources, []);
    },
  },
  {
    name: 'an external topic that exists serves the broker and is reported as external',
    objects: [broker('b', {}, { annotations: { 'kafka.eventing.knative.dev/external.topic': 'orders' } })],
    observed: observed({ orders: { partitions: 3, owner: B, external: true } }),
    check: (d) => {
      assert.deepEqual(d.resources[0]?.topics, ['orders']);
      assert.equal(condition(d.statuses.get(B), 'TopicReady')?.reason, 'ExternalTopic');
    },
  },
  {
    name: 'spec.config names a ConfigMap: its default.topic.* settings shape the topic',
    objects: [broker('b', { config: { apiVersion: 'v1', kind: 'ConfigMap', name: 'kafka-config' } }), configMap('kafka-config', { 'default.topic.partitions': '3', 'default.topic.replication.factor': '2' })],
    check: (d) => assert.deepEqual(d.topics[0]?.spec, { partitions: 3, replicationFactor: 2 }),
  },
  {
    name: 'spec.config names a ConfigMap that is not there: the defaults apply',
    objects: [broker('b', { config: { apiVersion: 'v1', kind: 'ConfigMap', name: 'kafka-broker-config', namespace: 'knative-eventing' } })],
    check: (d) => assert.deepEqual(d.topics[0]?.spec, { partitions: 10, replicationFactor: 1 }),
  },
  {
    name: 'a ConfigMap with a bad partition count is reported on TopicReady',
    objects: [broker('b', { config: { apiVersion: 'v1', kind: 'ConfigMap', name: 'c' } }), configMap('c', { 'default.topic.partitions': 'ten' })],
    check: (d) => {
      assert.deepEqual(d.topics, []);
      assert.equal(condition(d.statuses.get(B), 'TopicReady')?.reason, 'InvalidTopicConfig');
      assert.match(condition(d.statuses.get(B), 'Ready')!.message!, /default\.topic\.partitions must be a whole number/);
    },
  },
  {
    name: 'invalid delivery settings refuse the broker, naming every bad field',
    objects: [broker('b', { delivery: { retry: -1, backoffDelay: '5s', backoffPolicy: 'random' } })],
    check: (d) => {
      assert.deepEqual(d.topics, []);
      const ready = condition(d.statuses.get(B), 'Ready')!;
      assert.equal(ready.status, 'False');
      assert.equal(ready.reason, 'ValidationFailed');
      assert.match(ready.message!, /spec\.delivery\.retry/);
      assert.match(ready.message!, /spec\.delivery\.backoffDelay/);
      assert.match(ready.message!, /spec\.delivery\.backoffPolicy/);
      assert.equal(condition(d.statuses.get(B), 'TopicReady')?.status, 'Unknown');
    },
  },
  {
    name: 'a misspelt spec field is an error, as with kubectl --validate=strict',
    objects: [broker('b', { delivry: {} })],
    check: (d) => assert.match(condition(d.statuses.get(B), 'Ready')!.message!, /unknown field: spec\.delivry/),
  },
  {
    name: 'the broker class is immutable: a changed class is refused and the previous version stays the baseline',
    objects: [broker('b', {}, { annotations: { 'eventing.knative.dev/broker.class': 'Other' } })],
    previous: new Map([[B, broker('b')]]),
    observed: observed({ [T]: { owner: B } }),
    check: (d) => {
      const ready = condition(d.statuses.get(B), 'Ready')!;
      assert.equal(ready.reason, 'ImmutableFieldChanged');
      assert.match(ready.message!, /broker\.class/);
      assert.equal(d.admitted.get(B)?.metadata.annotations['eventing.knative.dev/broker.class'], 'Kafka');
      assert.deepEqual(d.obsoleteTopics, [], 'the broker still exists: its topic is kept');
    },
  },
  {
    name: 'two brokers whose topic names collide: the second in key order reports the conflict',
    objects: [broker('b-c', {}, { namespace: 'a' }), broker('c', {}, { namespace: 'a-b' })],
    check: (d) => {
      assert.equal(d.topics.length, 1);
      assert.equal(condition(d.statuses.get('Broker/a/b-c'), 'TopicReady')?.reason, 'TopicNameConflict');
      assert.equal(condition(d.statuses.get('Broker/a-b/c'), 'TopicReady')?.reason, 'TopicPending');
    },
  },
  {
    name: 'with the data plane unavailable the broker is not Ready',
    objects: [broker('b')],
    observed: observed({ [T]: { owner: B } }, {}, { available: false, message: 'no dispatcher' }),
    check: (d) => {
      assert.deepEqual(condition(d.statuses.get(B), 'DataPlaneAvailable'), { status: 'False', reason: 'DataPlaneNotAvailable', message: 'no dispatcher' });
      assert.equal(condition(d.statuses.get(B), 'Ready')?.status, 'False');
    },
  },
  {
    name: "a broker's dead-letter sink is resolved and becomes its resource's default",
    objects: [broker('b', { delivery: { retry: 2, deadLetterSink: { uri: 'http://dls.example/' } } })],
    observed: observed({ [T]: { owner: B } }),
    check: (d) => {
      assert.equal(d.resources[0]?.egressConfig?.deadLetter, 'http://dls.example/');
      assert.equal(d.resources[0]?.egressConfig?.retry, 2);
      assert.equal(d.statuses.get(B)?.deadLetterSinkUri, 'http://dls.example/');
    },
  },
];

desiredCases('computeDesired: Broker', cases, { checkContract: true });
