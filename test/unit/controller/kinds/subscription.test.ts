import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeDesired } from '../../../../controller/desired.js';
import type { KnObject, ObjectKey } from '../../../../controller/resources.js';
import { stableUid } from '../../../../controller/sources/manifests.js';
import type { DesiredState, Observed } from '../../../../controller/state.js';
import { channel, inMemoryChannel, kafkaChannel } from '../channel-fixtures.js';
import { broker, condition, knObject, observed, settings, trigger } from '../fixtures.js';

/**
 * Subscriptions through computeDesired, case by case: the channel they name, their references,
 * their consumer group, their egress on the channel's resource, and the channel's subscribers.
 */

const T = 'knative-messaging-kafka.default.c';
const KC = 'KafkaChannel/default/c';
const IMC = 'InMemoryChannel/default/c';
const S = 'Subscription/default/s';
const G = `kafka.default.c.${stableUid(S)}`;
const KC_REF = { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', name: 'c' };

const subscription = (name: string, spec: Record<string, unknown> = {}, annotations: Record<string, string> = {}, generation = 1): KnObject =>
  knObject('messaging.knative.dev/v1', 'Subscription', name, { spec: { channel: KC_REF, subscriber: { uri: `http://sink.example/${name}` }, ...spec } }, { annotations, generation });

/** The channel's topic is ready, and (unless left out) the subscription's group is positioned. */
const serving = (groups: Record<string, { topic: string }> = { [G]: { topic: T } }, owner = KC): Observed => observed({ [T]: { owner } }, groups);

interface Case {
  readonly name: string;
  readonly objects: readonly KnObject[];
  readonly observed?: Observed;
  readonly previous?: ReadonlyMap<ObjectKey, KnObject>;
  readonly check: (d: DesiredState) => void;
}

const egressesOf = (d: DesiredState, kind = 'KafkaChannel') => d.resources.find((r) => r.kind === kind)?.egresses ?? [];

const cases: Case[] = [
  {
    name: 'a Subscription to a channel that does not exist waits: ChannelReady False, no group, no egress',
    objects: [subscription('s')],
    check: (d) => {
      assert.deepEqual(condition(d.statuses.get(S), 'ChannelReady'), {
        status: 'False', reason: 'ChannelDoesNotExist', message: 'KafkaChannel "c" does not exist in namespace "default"; the Subscription is added once it does',
      });
      assert.equal(condition(d.statuses.get(S), 'Ready')?.reason, 'ChannelDoesNotExist');
      assert.deepEqual(d.groups, []);
      assert.deepEqual(d.obsoleteGroups, []);
    },
  },
  {
    name: 'a Subscription whose channel waits for the data plane has the channel\'s reason as its Ready cause, as data',
    objects: [kafkaChannel('c'), subscription('s')],
    observed: { ...serving(), dataPlane: { available: false, message: '0 of 1 dispatcher processes have applied contract generation 2' } },
    check: (d) => {
      assert.equal(condition(d.statuses.get(S), 'Ready')?.reason, 'ChannelNotReady');
      assert.equal(d.readyCauses.get(S), 'DataPlaneNotAvailable');
    },
  },
  {
    name: 'a Subscription through a Channel whose backing channel waits for the data plane: the same cause',
    objects: [channel('c'), subscription('s', { channel: { apiVersion: 'messaging.knative.dev/v1', kind: 'Channel', name: 'c' } })],
    observed: { ...serving(), dataPlane: { available: false, message: '0 of 1 dispatcher processes have applied contract generation 2' } },
    check: (d) => assert.equal(d.readyCauses.get(S), 'DataPlaneNotAvailable'),
  },
  {
    name: 'once the channel appears and serves, the group is wanted; AddedToChannel waits for its starting offsets',
    objects: [kafkaChannel('c'), subscription('s')],
    observed: serving({}),
    check: (d) => {
      assert.deepEqual(d.groups, [{ group: G, topic: T, owner: S }]);
      assert.deepEqual(egressesOf(d), []);
      assert.deepEqual(condition(d.statuses.get(S), 'AddedToChannel'), { status: 'Unknown', reason: 'ConsumerGroupPending', message: `consumer group ${G}: fixing its starting offsets` });
      assert.deepEqual(d.statuses.get(KC)?.subscribers, [{ uid: stableUid(S), observedGeneration: 1, ready: 'Unknown', message: `consumer group ${G}: fixing its starting offsets` }]);
    },
  },
  {
    name: 'with its group positioned, the Subscription is an egress on the channel (no filter, reply discarded) and Ready',
    objects: [kafkaChannel('c'), subscription('s', {}, {}, 3)],
    observed: serving(),
    check: (d) => {
      assert.deepEqual(egressesOf(d), [{
        uid: stableUid(S),
        reference: { kind: 'Subscription', namespace: 'default', name: 's', uid: stableUid(S) },
        consumerGroup: G,
        destination: 'http://sink.example/s',
        reply: { kind: 'discard' },
        filter: null,
        deliveryOrder: 'unordered',
        contentMode: 'binary',
        egressConfig: null,
      }]);
      const status = d.statuses.get(S)!;
      assert.deepEqual(status.conditions.map((x) => x.type), ['AddedToChannel', 'ChannelReady', 'Ready', 'ReferencesResolved']);
      assert.deepEqual(condition(status, 'Ready'), { status: 'True' });
      assert.equal(status.observedGeneration, 3);
      assert.deepEqual(status.physicalSubscription, { subscriberUri: 'http://sink.example/s' });
      assert.deepEqual(d.statuses.get(KC)?.subscribers, [{ uid: stableUid(S), observedGeneration: 3, ready: 'True' }]);
    },
  },
  {
    name: 'spec.reply as a URI: replies are posted there',
    objects: [kafkaChannel('c'), subscription('s', { reply: { uri: 'http://replies.example/' } })],
    observed: serving(),
    check: (d) => {
      assert.deepEqual(egressesOf(d)[0]?.reply, { kind: 'url', url: 'http://replies.example/' });
      assert.deepEqual(d.statuses.get(S)?.physicalSubscription, { subscriberUri: 'http://sink.example/s', replyUri: 'http://replies.example/' });
    },
  },
  {
    name: 'spec.reply and spec.subscriber may refer to a Broker and to a Channel',
    objects: [
      broker('b'), kafkaChannel('c'), channel('next'),
      subscription('s', { subscriber: { ref: { apiVersion: 'messaging.knative.dev/v1', kind: 'Channel', name: 'next' } }, reply: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'b' } } }),
    ],
    observed: observed({ [T]: { owner: KC }, 'knative-broker-default-b': { owner: 'Broker/default/b' }, 'knative-messaging-kafka.default.next': { owner: 'InMemoryChannel/default/next' } }, { [G]: { topic: T } }),
    check: (d) => {
      const egress = egressesOf(d)[0]!;
      assert.equal(egress.destination, 'http://127.0.0.1:8080/channels/default/next');
      assert.deepEqual(egress.reply, { kind: 'url', url: 'http://127.0.0.1:8080/default/b' });
    },
  },
  {
    name: 'a reply to a Broker that does not exist: ReferencesResolved False, no group',
    objects: [kafkaChannel('c'), subscription('s', { reply: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'nope' } } })],
    observed: serving(),
    check: (d) => {
      assert.equal(condition(d.statuses.get(S), 'ReferencesResolved')?.reason, 'ReplyResolveFailed');
      assert.match(condition(d.statuses.get(S), 'Ready')!.message!, /^spec\.reply: Broker "nope"/);
      assert.deepEqual(d.groups, []);
      assert.deepEqual(egressesOf(d), []);
      assert.equal(d.statuses.get(KC)?.subscribers?.[0]?.ready, 'False');
    },
  },
  {
    name: 'the delivery order annotation makes a subscription ordered; a bad value is refused',
    objects: [
      kafkaChannel('c'),
      subscription('s', {}, { 'kafka.eventing.knative.dev/delivery.order': 'ordered' }),
      subscription('bad', {}, { 'kafka.eventing.knative.dev/delivery.order': 'sorted' }),
    ],
    observed: serving(),
    check: (d) => {
      assert.equal(egressesOf(d)[0]?.deliveryOrder, 'ordered');
      assert.equal(condition(d.statuses.get('Subscription/default/bad'), 'Ready')?.reason, 'ValidationFailed');
    },
  },
  {
    name: "a subscription's delivery is merged over its channel's, field by field; the channel's dead-letter sink is inherited",
    objects: [
      kafkaChannel('c', { delivery: { retry: 3, backoffDelay: 'PT1S', deadLetterSink: { uri: 'http://dls.example/' } } }),
      subscription('s', { delivery: { retry: 1, format: 'json' } }),
    ],
    observed: serving(),
    check: (d) => {
      const egress = egressesOf(d)[0]!;
      assert.deepEqual(egress.egressConfig, { retry: 1, backoffPolicy: 'exponential', backoffDelayMs: 1000, timeoutMs: null, deadLetter: 'http://dls.example/', retryAfterMaxMs: null });
      assert.equal(egress.contentMode, 'structured');
      assert.equal(d.statuses.get(S)?.physicalSubscription?.deadLetterSinkUri, 'http://dls.example/');
    },
  },
  {
    name: "a subscription without delivery settings uses the channel's (the resource's egressConfig)",
    objects: [kafkaChannel('c', { delivery: { retry: 3, deadLetterSink: { uri: 'http://dls.example/' } } }), subscription('s')],
    observed: serving(),
    check: (d) => {
      assert.equal(egressesOf(d)[0]?.egressConfig, null);
      assert.equal(d.resources[0]?.egressConfig?.deadLetter, 'http://dls.example/');
      assert.equal(d.statuses.get(S)?.physicalSubscription?.deadLetterSinkUri, 'http://dls.example/');
    },
  },
  {
    name: "a Subscription on a Channel is an egress on its backing channel; the Channel lists it among its subscribers",
    objects: [channel('c'), subscription('s', { channel: { apiVersion: 'messaging.knative.dev/v1', kind: 'Channel', name: 'c' } })],
    observed: serving(undefined, IMC),
    check: (d) => {
      assert.equal(egressesOf(d, 'InMemoryChannel')[0]?.consumerGroup, G);
      const entry = { uid: stableUid(S), observedGeneration: 1, ready: 'True' };
      assert.deepEqual(d.statuses.get(IMC)?.subscribers, [entry]);
      assert.deepEqual(d.statuses.get('Channel/default/c')?.subscribers, [entry]);
      assert.equal(condition(d.statuses.get(S), 'Ready')?.status, 'True');
    },
  },
  {
    name: 'two subscriptions on one channel: two groups, two egresses in key order',
    objects: [inMemoryChannel('c'), subscription('b', { channel: { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', name: 'c' } }), subscription('a', { channel: { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', name: 'c' } })],
    observed: serving({ [`kafka.default.c.${stableUid('Subscription/default/a')}`]: { topic: T }, [`kafka.default.c.${stableUid('Subscription/default/b')}`]: { topic: T } }, IMC),
    check: (d) => {
      assert.deepEqual(egressesOf(d, 'InMemoryChannel').map((e) => e.reference.name), ['a', 'b']);
      assert.equal(d.statuses.get(IMC)?.subscribers?.length, 2);
    },
  },
  {
    name: "a Subscription on another controller's channel kind is left alone",
    objects: [subscription('s', { channel: { apiVersion: 'messaging.knative.dev/v1alpha1', kind: 'NatssChannel', name: 'c' } })],
    check: (d) => {
      assert.equal(d.statuses.has(S), false);
      assert.match(d.ignored.get(S)!, /NatssChannel/);
    },
  },
  {
    name: 'spec.channel cannot change (Knative: immutable)',
    objects: [kafkaChannel('c'), subscription('s', { channel: { ...KC_REF, name: 'other' } }, {}, 2)],
    previous: new Map([[S, subscription('s')]]),
    observed: serving(),
    check: (d) => {
      assert.equal(condition(d.statuses.get(S), 'Ready')?.reason, 'ImmutableFieldChanged');
      assert.deepEqual(d.obsoleteGroups, [], 'the group of the version in force is kept');
    },
  },
  {
    name: 'a subscriber is required; a channel of another API group is refused',
    objects: [knObject('messaging.knative.dev/v1', 'Subscription', 's', { spec: { channel: { apiVersion: 'eventing.knative.dev/v1', kind: 'KafkaChannel', name: 'c' } } })],
    check: (d) => {
      const message = condition(d.statuses.get(S), 'Ready')!.message!;
      assert.match(message, /spec\.subscriber/);
      assert.match(message, /spec\.channel\.apiVersion/);
    },
  },
  {
    name: "a removed Subscription's group is deleted; a Subscription whose channel went away keeps its group",
    objects: [subscription('s')],
    observed: observed({}, { [G]: { topic: T, owner: S }, 'kafka.default.c.gone-uid': { topic: T, owner: 'Subscription/default/gone' } }),
    check: (d) => assert.deepEqual(d.obsoleteGroups, ['kafka.default.c.gone-uid']),
  },
  {
    name: "a Subscription created again under the same name (a new uid) leaves its old group to be deleted",
    objects: [subscription('s')],
    observed: observed({}, { 'kafka.default.c.old-uid': { topic: T, owner: S } }),
    check: (d) => assert.deepEqual(d.obsoleteGroups, ['kafka.default.c.old-uid']),
  },
  {
    name: "a Trigger's subscriber may be a Channel",
    objects: [broker('b'), kafkaChannel('c'), trigger('t', { broker: 'b', subscriber: { ref: { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', name: 'c' } } })],
    observed: observed({ 'knative-broker-default-b': { owner: 'Broker/default/b' }, [T]: { owner: KC } }, { 'knative-trigger-default-t': { topic: 'knative-broker-default-b' } }),
    check: (d) => {
      assert.equal(d.statuses.get('Trigger/default/t')?.subscriberUri, 'http://127.0.0.1:8080/channels/default/c');
      assert.equal(d.resources.find((r) => r.kind === 'Broker')?.egresses[0]?.destination, 'http://127.0.0.1:8080/channels/default/c');
    },
  },
];

describe('computeDesired: subscriptions', () => {
  for (const c of cases) {
    test(c.name, () => c.check(computeDesired(c.objects, c.previous ?? new Map(), c.observed ?? observed(), settings)));
  }
});
