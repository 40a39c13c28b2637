import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseContract } from '../../../core/contract/parse.js';
import { CONTRACT_VERSION } from '../../../core/contract/types.js';
import { computeDesired } from '../../../controller/desired.js';
import type { KnObject, ObjectKey } from '../../../controller/resources.js';
import type { DesiredState, Observed } from '../../../controller/state.js';
import { broker, condition, configMap, knObject, observed, settings, trigger } from './fixtures.js';

/**
 * computeDesired, case by case: objects + what was observed in, topics / groups / contract /
 * statuses out. Each row names the situation and checks what a user (or the data plane) sees.
 */

const T = 'knative-broker-default-b';
const G = 'knative-trigger-default-t';
const B = 'Broker/default/b';
const TR = 'Trigger/default/t';

interface Case {
  readonly name: string;
  readonly objects: readonly KnObject[];
  readonly observed?: Observed;
  readonly previous?: ReadonlyMap<ObjectKey, KnObject>;
  readonly check: (d: DesiredState) => void;
}

const cases: Case[] = [
  // ---- Brokers ----
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

  // ---- Triggers ----
  {
    name: 'a trigger whose broker does not exist says so and wants no group',
    objects: [trigger('t', { broker: 'b' })],
    check: (d) => {
      assert.deepEqual(condition(d.statuses.get(TR), 'BrokerReady'), { status: 'False', reason: 'BrokerDoesNotExist', message: 'broker "b" does not exist in namespace "default"' });
      assert.equal(condition(d.statuses.get(TR), 'Ready')?.reason, 'BrokerDoesNotExist');
      assert.deepEqual(d.groups, []);
    },
  },
  {
    name: 'a trigger whose broker is not ready yet waits for it',
    objects: [broker('b'), trigger('t', { broker: 'b' })],
    check: (d) => {
      assert.equal(condition(d.statuses.get(TR), 'BrokerReady')?.reason, 'BrokerNotReady');
      assert.deepEqual(d.groups, []);
    },
  },
  {
    name: 'a trigger on a serving broker wants its group positioned, and is not Ready before that',
    objects: [broker('b'), trigger('t', { broker: 'b' })],
    observed: observed({ [T]: { owner: B } }),
    check: (d) => {
      assert.deepEqual(d.groups, [{ group: G, topic: T, owner: TR }]);
      assert.deepEqual(d.resources[0]?.egresses, []);
      assert.equal(condition(d.statuses.get(TR), 'SubscriptionReady')?.reason, 'ConsumerGroupPending');
      assert.equal(condition(d.statuses.get(TR), 'Ready')?.status, 'Unknown');
    },
  },
  {
    name: 'a trigger whose group is positioned is in the contract and Ready',
    objects: [broker('b'), trigger('t', { broker: 'b', filter: { attributes: { type: 'com.example' } } })],
    observed: observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: TR } }),
    check: (d) => {
      const egress = d.resources[0]!.egresses[0]!;
      assert.equal(egress.consumerGroup, G);
      assert.equal(egress.destination, 'http://sink.example/');
      assert.deepEqual(egress.reply, { kind: 'topic' });
      assert.deepEqual(egress.filter, { kind: 'attributes', attributes: { type: 'com.example' } });
      assert.equal(egress.deliveryOrder, 'unordered');
      assert.equal(egress.contentMode, 'binary');
      assert.equal(egress.egressConfig, null, 'no delivery of its own: the broker resource\'s applies');
      assert.equal(egress.reference.kind, 'Trigger');
      const status = d.statuses.get(TR)!;
      assert.deepEqual(condition(status, 'Ready'), { status: 'True' });
      assert.equal(status.subscriberUri, 'http://sink.example/');
      assert.deepEqual(status.conditions.map((c) => c.type), ['BrokerReady', 'DeadLetterSinkResolved', 'Ready', 'SubscriberResolved', 'SubscriptionReady']);
    },
  },
  {
    name: 'a group positioned on another topic (the broker changed topics) is positioned again',
    objects: [broker('b'), trigger('t', { broker: 'b' })],
    observed: observed({ [T]: { owner: B } }, { [G]: { topic: 'old-topic', owner: TR } }),
    check: (d) => {
      assert.deepEqual(d.groups, [{ group: G, topic: T, owner: TR }]);
      assert.equal(d.resources[0]?.egresses.length, 0);
    },
  },
  {
    name: 'a group that could not be positioned is reported',
    objects: [broker('b'), trigger('t', { broker: 'b' })],
    observed: observed({ [T]: { owner: B } }, { [G]: { state: 'failed', topic: T, owner: TR, error: 'boom' } as never }),
    check: (d) => assert.equal(condition(d.statuses.get(TR), 'Ready')?.reason, 'FailedToInitConsumerGroup'),
  },
  {
    name: 'each filter dialect reaches the contract as one `all` of the contract filters',
    objects: [broker('b'), trigger('t', { broker: 'b', filters: [{ exact: { type: 'a' } }, { prefix: { source: '/x' } }, { suffix: { subject: '.png' } }, { not: { exact: { type: 'b' } } }, { any: [{ exact: { type: 'c' } }] }, { cesql: "type LIKE 'a%'" }] })],
    observed: observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: TR } }),
    check: (d) => {
      const filter = d.resources[0]!.egresses[0]!.filter;
      assert.equal(filter?.kind, 'all');
      assert.deepEqual(filter?.kind === 'all' ? filter.filters.map((f) => f.kind) : [], ['exact', 'prefix', 'suffix', 'not', 'any', 'cesql']);
    },
  },
  {
    name: 'a CESQL syntax error refuses the trigger with the position in the expression',
    objects: [broker('b'), trigger('t', { broker: 'b', filters: [{ cesql: "type = 'a' AND AND" }] })],
    observed: observed({ [T]: { owner: B } }),
    check: (d) => {
      const ready = condition(d.statuses.get(TR), 'Ready')!;
      assert.equal(ready.status, 'False');
      assert.equal(ready.reason, 'ValidationFailed');
      assert.match(ready.message!, /spec\.filters\[0\]\.cesql/);
      assert.match(ready.message!, /column \d+/);
      assert.deepEqual(d.groups, []);
      assert.deepEqual(d.resources[0]?.egresses, []);
    },
  },
  {
    name: 'an invalid attribute name in the legacy filter is refused',
    objects: [trigger('t', { broker: 'b', filter: { attributes: { Type: 'x' } } })],
    check: (d) => assert.match(condition(d.statuses.get(TR), 'Ready')!.message!, /spec\.filter\.attributes\.Type/),
  },
  {
    name: 'a trigger without a broker or subscriber is refused with both problems',
    objects: [knObject('eventing.knative.dev/v1', 'Trigger', 't', { spec: { filter: {} } })],
    check: (d) => {
      const message = condition(d.statuses.get(TR), 'Ready')!.message!;
      assert.match(message, /missing field\(s\): spec\.broker/);
      assert.match(message, /missing field\(s\): spec\.subscriber/);
    },
  },
  {
    name: 'a relative subscriber uri without a ref is refused',
    objects: [trigger('t', { broker: 'b', subscriber: { uri: '/path' } })],
    check: (d) => assert.match(condition(d.statuses.get(TR), 'Ready')!.message!, /spec\.subscriber\.uri/),
  },
  {
    name: "a trigger's broker is immutable: a change is refused, the old version stays the baseline, the group is kept",
    objects: [broker('b'), broker('other'), trigger('t', { broker: 'other' }, { generation: 2 })],
    previous: new Map([[TR, trigger('t', { broker: 'b' })]]),
    observed: observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: TR } }),
    check: (d) => {
      const ready = condition(d.statuses.get(TR), 'Ready')!;
      assert.equal(ready.reason, 'ImmutableFieldChanged');
      assert.match(ready.message!, /spec\.broker/);
      assert.equal((d.admitted.get(TR)?.spec as { broker: string }).broker, 'b');
      assert.deepEqual(d.obsoleteGroups, [], 'the trigger still exists: its group and position stay');
      assert.equal(d.statuses.get(TR)?.observedGeneration, 2);
    },
  },
  {
    name: 'a subscriber ref to a serving broker resolves to its address, with a relative uri',
    objects: [broker('b'), broker('next'), trigger('t', { broker: 'b', subscriber: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'next' }, uri: 'extra' } })],
    observed: observed({ [T]: { owner: B }, 'knative-broker-default-next': { owner: 'Broker/default/next' } }, { [G]: { topic: T, owner: TR } }),
    check: (d) => {
      assert.equal(d.statuses.get(TR)?.subscriberUri, 'http://127.0.0.1:8080/default/extra');
      assert.equal(condition(d.statuses.get(TR), 'Ready')?.status, 'True');
    },
  },
  {
    name: 'a subscriber ref to a broker whose topic is not ready is not resolved yet',
    objects: [broker('b'), broker('next'), trigger('t', { broker: 'b', subscriber: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'next' } } })],
    observed: observed({ [T]: { owner: B } }),
    check: (d) => {
      assert.equal(condition(d.statuses.get(TR), 'SubscriberResolved')?.status, 'False');
      assert.match(condition(d.statuses.get(TR), 'SubscriberResolved')!.message!, /has no address/);
      assert.deepEqual(d.groups, []);
    },
  },
  {
    name: 'a subscriber ref to a kind this controller does not know is reported, not a crash',
    objects: [broker('b'), trigger('t', { broker: 'b', subscriber: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'svc' } } })],
    observed: observed({ [T]: { owner: B } }),
    check: (d) => {
      assert.deepEqual(condition(d.statuses.get(TR), 'SubscriberResolved')?.reason, 'SubscriberResolveFailed');
      assert.match(condition(d.statuses.get(TR), 'Ready')!.message!, /only Broker\b.* can be referred to here/);
    },
  },
  {
    name: "a trigger's own delivery is merged over its broker's, field by field",
    objects: [
      broker('b', { delivery: { retry: 5, backoffPolicy: 'linear', backoffDelay: 'PT1S', timeout: 'PT2S' } }),
      trigger('t', { broker: 'b', delivery: { retry: 2, deadLetterSink: { uri: 'http://dls.example/' } } }),
    ],
    observed: observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: TR } }),
    check: (d) => {
      assert.deepEqual(d.resources[0]!.egresses[0]!.egressConfig, { retry: 2, backoffPolicy: 'linear', backoffDelayMs: 1000, timeoutMs: 2000, deadLetter: 'http://dls.example/', retryAfterMaxMs: null });
      assert.equal(d.statuses.get(TR)?.deadLetterSinkUri, 'http://dls.example/');
      assert.equal(condition(d.statuses.get(TR), 'DeadLetterSinkResolved')?.status, 'True');
    },
  },
  {
    name: "a trigger without a dead-letter sink reports its broker's",
    objects: [broker('b', { delivery: { deadLetterSink: { uri: 'http://broker-dls.example/' } } }), trigger('t', { broker: 'b' })],
    observed: observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: TR } }),
    check: (d) => {
      assert.equal(d.statuses.get(TR)?.deadLetterSinkUri, 'http://broker-dls.example/');
      assert.equal(d.resources[0]!.egresses[0]!.egressConfig, null);
    },
  },
  {
    name: 'a dead-letter sink ref that cannot be resolved keeps the trigger out of the contract',
    objects: [broker('b'), trigger('t', { broker: 'b', delivery: { deadLetterSink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'missing' } } } })],
    observed: observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: TR } }),
    check: (d) => {
      assert.equal(condition(d.statuses.get(TR), 'DeadLetterSinkResolved')?.reason, 'DeadLetterSinkResolveFailed');
      assert.deepEqual(d.resources[0]?.egresses, []);
    },
  },
  {
    name: 'delivery order and format: ordered, structured',
    objects: [broker('b'), trigger('t', { broker: 'b', delivery: { format: 'json' } }, { annotations: { 'kafka.eventing.knative.dev/delivery.order': 'ordered' } })],
    observed: observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: TR } }),
    check: (d) => {
      assert.equal(d.resources[0]!.egresses[0]!.deliveryOrder, 'ordered');
      assert.equal(d.resources[0]!.egresses[0]!.contentMode, 'structured');
    },
  },
  {
    name: 'an unknown delivery order is refused',
    objects: [trigger('t', { broker: 'b' }, { annotations: { 'kafka.eventing.knative.dev/delivery.order': 'sorted' } })],
    check: (d) => assert.match(condition(d.statuses.get(TR), 'Ready')!.message!, /delivery\.order/),
  },
  {
    name: 'ISO 8601 durations: fractions are accepted, a zero timeout is not',
    objects: [trigger('t', { broker: 'b', delivery: { backoffDelay: 'PT0.5S', timeout: 'PT0S', retryAfterMax: 'PT0S' } })],
    check: (d) => {
      const message = condition(d.statuses.get(TR), 'Ready')!.message!;
      assert.match(message, /spec\.delivery\.timeout/);
      assert.doesNotMatch(message, /backoffDelay|retryAfterMax/);
    },
  },
  {
    name: 'two triggers whose group names collide: the second in key order reports the conflict',
    objects: [broker('x', {}, { namespace: 'a' }), trigger('b-c', { broker: 'x' }, { namespace: 'a' }), trigger('c', { broker: 'y' }, { namespace: 'a-b' })],
    check: (d) => assert.equal(condition(d.statuses.get('Trigger/a/b-c'), 'SubscriptionReady')?.reason, 'ConsumerGroupConflict'),
  },
  {
    name: 'spec.filter next to spec.filters: the trigger runs and Ready carries the warning',
    objects: [broker('b'), trigger('t', { broker: 'b', filter: { attributes: { type: 'x' } }, filters: [{ exact: { type: 'y' } }] })],
    observed: observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: TR } }),
    check: (d) => {
      const ready = condition(d.statuses.get(TR), 'Ready')!;
      assert.equal(ready.status, 'True');
      assert.match(ready.message!, /ignored/);
    },
  },

  // ---- Deletions and other kinds ----
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

describe('computeDesired', () => {
  for (const c of cases) {
    test(c.name, () => {
      const d = computeDesired(c.objects, c.previous ?? new Map(), c.observed ?? observed(), settings);
      c.check(d);
      // Whatever the case, the resources make a contract the data plane accepts.
      assert.doesNotThrow(() => parseContract({ version: CONTRACT_VERSION, generation: 1, resources: d.resources }));
    });
  }

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
