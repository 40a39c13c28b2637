import assert from 'node:assert/strict';
import { addSkipped } from '../../../../core/egress-faults.js';
import { desiredCases, broker, condition, knObject, observed, trigger, type DesiredCase } from '../fixtures.js';

/** Triggers through computeDesired, case by case: admission (with its filters), the trigger's group, its egress on its broker and its status. */

const T = 'knative-broker-default-b';
const G = 'knative-trigger-default-t';
const B = 'Broker/default/b';
const TR = 'Trigger/default/t';

const cases: DesiredCase[] = [
  {
    name: 'records its group never received (offsets gone from the log) show as EventsSkipped; Ready stays True',
    objects: [broker('b'), trigger('t', { broker: 'b' })],
    observed: {
      ...observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: TR } }),
      egressFaults: new Map([[G, addSkipped(undefined, { topic: T, partition: 3, from: '10', to: '25' }, '2026-11-27T12:00:00.000Z')]]),
    },
    check: (d) => {
      const status = d.statuses.get(TR)!;
      assert.deepEqual(condition(status, 'Ready'), { status: 'True' });
      assert.deepEqual(condition(status, 'EventsSkipped'), {
        status: 'True',
        reason: 'OffsetOutOfRange',
        message: `15 records never delivered: their offsets were no longer in the log (retention or truncation) when the consumer group resumed (${T} partition 3 offsets 10-24); last at 2026-11-27T12:00:00.000Z`,
      });
      assert.deepEqual(status.conditions.map((c) => c.type), ['BrokerReady', 'DeadLetterSinkResolved', 'EventsSkipped', 'Ready', 'SubscriberResolved', 'SubscriptionReady']);
    },
  },
  {
    name: 'another group\'s faults do not show on this trigger',
    objects: [broker('b'), trigger('t', { broker: 'b' })],
    observed: {
      ...observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: TR } }),
      egressFaults: new Map([['knative-trigger-default-other', addSkipped(undefined, { topic: T, partition: 0, from: '0', to: '1' }, '2026-11-27T12:00:00.000Z')]]),
    },
    check: (d) => assert.equal(condition(d.statuses.get(TR), 'EventsSkipped'), undefined),
  },
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
    name: 'a trigger whose broker waits for the data plane has the broker\'s reason as its Ready cause, as data',
    objects: [broker('b'), trigger('t', { broker: 'b' })],
    observed: observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: TR } }, { available: false, message: '0 of 1 ingress processes have applied contract generation 2' }),
    check: (d) => {
      assert.equal(condition(d.statuses.get(TR), 'Ready')?.reason, 'BrokerNotReady');
      assert.equal(d.readyCauses.get(TR), 'DataPlaneNotAvailable');
      assert.equal(d.readyCauses.has(B), false, 'the broker\'s own reason is its cause');
    },
  },
  {
    name: 'a trigger whose broker waits for its topic: that is the cause',
    objects: [broker('b'), trigger('t', { broker: 'b' })],
    check: (d) => {
      assert.equal(condition(d.statuses.get(B), 'Ready')?.reason, 'TopicPending');
      assert.equal(d.readyCauses.get(TR), 'TopicPending');
    },
  },
  {
    name: 'a trigger not Ready for a reason of its own (its group) records no cause, whatever its broker',
    objects: [broker('b'), trigger('t', { broker: 'b' })],
    observed: observed({ [T]: { owner: B } }),
    check: (d) => {
      assert.equal(condition(d.statuses.get(TR), 'Ready')?.reason, 'ConsumerGroupPending');
      assert.equal(d.readyCauses.has(TR), false);
    },
  },
  {
    name: 'a trigger whose broker does not exist records no cause: its own reason says it',
    objects: [trigger('t', { broker: 'b' })],
    check: (d) => assert.equal(d.readyCauses.has(TR), false),
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
];

desiredCases('computeDesired: Trigger', cases, { checkContract: true });
