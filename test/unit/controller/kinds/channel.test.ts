import assert from 'node:assert/strict';
import { stableUid } from '../../../../controller/sources/manifests.js';
import type { ReconcileSettings } from '../../../../controller/state.js';
import { channel, kafkaChannel } from '../channel-fixtures.js';
import { desiredCases, condition, observed, settings, type DesiredCase } from '../fixtures.js';

/**
 * Channel through computeDesired, case by case: its generated (or adopted) backing channel, its
 * mirrored status, and what goes when it is deleted.
 */

const T = 'knative-messaging-kafka.default.c';
const KC = 'KafkaChannel/default/c';
const IMC = 'InMemoryChannel/default/c';
const CH = 'Channel/default/c';
const onKafka: ReconcileSettings = { ...settings, kafkaBootstrapServers: ['127.0.0.1:9092'] };

const cases: DesiredCase[] = [
  {
    name: 'a Channel without a template gets an InMemoryChannel on the in-memory log, generated with an owner reference',
    objects: [channel('c')],
    check: (d) => {
      assert.equal(d.generated.length, 1);
      const backing = d.generated[0]!;
      assert.equal(backing.apiVersion, 'messaging.knative.dev/v1');
      assert.equal(backing.kind, 'InMemoryChannel');
      assert.equal(backing.metadata.name, 'c');
      assert.notEqual(backing.metadata.uid, stableUid(CH));
      assert.deepEqual(backing.metadata.ownerReferences, [{ apiVersion: 'messaging.knative.dev/v1', kind: 'Channel', name: 'c', uid: stableUid(CH), controller: true, blockOwnerDeletion: true }]);
      assert.deepEqual((d.objects.get(CH)?.spec as { channelTemplate: unknown }).channelTemplate, { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel' });
      assert.deepEqual(d.topics.map((t) => t.owner), [IMC]);
      assert.deepEqual(d.statuses.get(CH)?.channel, { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', name: 'c', namespace: 'default' });
      assert.equal(condition(d.statuses.get(CH), 'BackingChannelReady')?.status, 'Unknown');
      assert.equal(condition(d.statuses.get(CH), 'TopicReady')?.reason, 'TopicPending');
    },
  },
  {
    name: "a Channel without a template gets a KafkaChannel on Kafka, with the controller's topic settings",
    objects: [channel('c')],
    settings: onKafka,
    check: (d) => {
      assert.equal(d.generated[0]?.apiVersion, 'messaging.knative.dev/v1beta1');
      assert.equal(d.generated[0]?.kind, 'KafkaChannel');
      assert.deepEqual(d.topics, [{ name: T, owner: KC, external: false, spec: { partitions: 10, replicationFactor: 1, config: { 'retention.ms': '604800000' } } }]);
    },
  },
  {
    name: "a Channel mirrors its backing channel: Ready, address, topic; the generated object shows the template's spec and the delivery",
    objects: [channel('c', { channelTemplate: { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', spec: { numPartitions: 3 } }, delivery: { retry: 4 } })],
    observed: observed({ [T]: { owner: KC, partitions: 3 } }),
    check: (d) => {
      assert.deepEqual(d.generated[0]?.spec, { numPartitions: 3, delivery: { retry: 4 } });
      assert.deepEqual(d.objects.get(KC)?.spec, { numPartitions: 3, delivery: { retry: 4 }, replicationFactor: 1, retentionDuration: 'PT168H' });
      assert.equal(d.resources[0]?.egressConfig?.retry, 4);
      const status = d.statuses.get(CH)!;
      assert.deepEqual(status.conditions.map((x) => x.type), ['Addressable', 'BackingChannelReady', 'DeadLetterSinkResolved', 'Ready', 'TopicReady']);
      assert.deepEqual(condition(status, 'Ready'), { status: 'True' });
      assert.deepEqual(status.address, { url: 'http://127.0.0.1:8080/channels/default/c' });
      assert.equal(condition(status, 'TopicReady')?.message, condition(d.statuses.get(KC), 'TopicReady')?.message);
    },
  },
  {
    name: 'a backing channel the source already holds is adopted, not generated (as Knative does)',
    objects: [channel('c', { channelTemplate: { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel' } }), kafkaChannel('c', { numPartitions: 2 })],
    check: (d) => {
      assert.deepEqual(d.generated, []);
      assert.equal(d.topics[0]?.spec.partitions, 2);
    },
  },
  {
    name: "a Channel templated on another controller's kind is left alone",
    objects: [channel('c', { channelTemplate: { apiVersion: 'messaging.knative.dev/v1alpha1', kind: 'NatssChannel' } })],
    check: (d) => {
      assert.deepEqual(d.generated, []);
      assert.equal(d.statuses.has(CH), false);
      assert.match(d.ignored.get(CH)!, /NatssChannel/);
    },
  },
  {
    name: "a change to a Channel's spec is refused (Knative: immutable) and its backing channel stays as it was",
    objects: [channel('c', { channelTemplate: { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', spec: { numPartitions: 9 } } }, 2)],
    previous: new Map([[CH, channel('c', { channelTemplate: { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', spec: { numPartitions: 3 } } })]]),
    check: (d) => {
      assert.equal(condition(d.statuses.get(CH), 'Ready')?.reason, 'ImmutableFieldChanged');
      assert.deepEqual(d.generated[0]?.spec, { numPartitions: 3 });
      assert.equal(d.topics[0]?.spec.partitions, 3);
    },
  },
  {
    name: 'a Channel may not list subscribers itself',
    objects: [channel('c', { subscribers: [{ uid: 'x', subscriberUri: 'http://a/' }] })],
    check: (d) => {
      assert.equal(condition(d.statuses.get(CH), 'Ready')?.reason, 'ValidationFailed');
      assert.match(condition(d.statuses.get(CH), 'Ready')!.message!, /spec\.subscribers/);
      assert.deepEqual(d.generated, []);
    },
  },
  // ---- Deletion ----
  {
    name: "a deleted KafkaChannel's topic is deleted; a deleted Channel takes its generated backing channel and topic with it",
    objects: [],
    observed: observed({ [T]: { owner: KC }, 'knative-messaging-kafka.default.d': { owner: 'InMemoryChannel/default/d' } }),
    check: (d) => assert.deepEqual([...d.obsoleteTopics].sort(), [T, 'knative-messaging-kafka.default.d']),
  },
  {
    name: "a Channel's generated backing channel keeps its topic",
    objects: [channel('c')],
    observed: observed({ [T]: { owner: IMC } }),
    check: (d) => assert.deepEqual(d.obsoleteTopics, []),
  },
];

desiredCases('computeDesired: channels', cases);
