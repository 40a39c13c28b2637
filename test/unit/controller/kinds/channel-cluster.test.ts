import assert from 'node:assert/strict';
import type { KnObject } from '../../../../controller/resources.js';
import { stableUid } from '../../../../controller/sources/manifests.js';
import type { ReconcileSettings } from '../../../../controller/state.js';
import { inMemoryChannel, kafkaChannel } from '../channel-fixtures.js';
import { condition, configMap, desiredCases, knObject, observed, settings, type DesiredCase } from '../fixtures.js';

/**
 * KafkaChannels on a Kafka cluster of their own: Knative Kafka's `kafka-channel-config` ConfigMap
 * (in the controller's namespace) names `bootstrap.servers`, `auth.secret.ref.name` and
 * `auth.secret.ref.namespace`; the topic, the subscriptions' groups and the contract resource carry
 * that cluster. InMemoryChannels stay on the process's log.
 */

const SYSTEM = 'knative-eventing';
const T = 'knative-messaging-kafka.default.c';
const KC = 'KafkaChannel/default/c';
const IMC = 'InMemoryChannel/default/c';
const S = 'Subscription/default/s';
const G = `kafka.default.c.${stableUid(S)}`;
const own: ReconcileSettings = { ...settings, kafkaBootstrapServers: ['kafka:9092'] };
const channelConfig = (data: Record<string, string>, namespace = SYSTEM): KnObject => configMap('kafka-channel-config', data, namespace);
const subscription = knObject('messaging.knative.dev/v1', 'Subscription', 's', {
  spec: { channel: { apiVersion: 'messaging.knative.dev/v1beta1', kind: 'KafkaChannel', name: 'c' }, subscriber: { uri: 'http://sink.example/' } },
});
const secured = { bootstrapServers: ['b1:9093', 'b2:9093'], authSecret: { namespace: 'kafka', name: 'creds' } };

const cases: DesiredCase[] = [
  {
    name: 'no kafka-channel-config: the process cluster, nothing in the contract',
    objects: [kafkaChannel('c')],
    observed: observed({ [T]: { owner: KC } }),
    settings: own,
    check: (d) => {
      assert.equal(d.topics[0]?.cluster, undefined);
      assert.equal(d.resources[0] !== undefined && 'cluster' in d.resources[0], false);
    },
  },
  {
    name: 'bootstrap.servers and the Secret (another namespace): topic, group and resource on that cluster',
    objects: [kafkaChannel('c'), subscription, channelConfig({ 'bootstrap.servers': 'b2:9093,b1:9093', 'auth.secret.ref.name': 'creds', 'auth.secret.ref.namespace': 'kafka' })],
    observed: observed({ [T]: { owner: KC } }, { [G]: { topic: T, owner: S } }),
    settings: own,
    check: (d) => {
      assert.deepEqual(d.topics[0]?.cluster, secured);
      assert.deepEqual(d.groups.find((g) => g.group === G)?.cluster, secured);
      assert.deepEqual(d.resources[0]?.cluster, secured);
      assert.equal(condition(d.statuses.get(KC), 'Ready')?.status, 'True');
    },
  },
  {
    name: 'auth.secret.ref.namespace left out: the Secret is in the ConfigMap namespace',
    objects: [kafkaChannel('c'), channelConfig({ 'auth.secret.ref.name': 'creds' })],
    settings: own,
    check: (d) => assert.deepEqual(d.topics[0]?.cluster, { bootstrapServers: ['kafka:9092'], authSecret: { namespace: SYSTEM, name: 'creds' } }),
  },
  {
    name: 'the ConfigMap is read in the controller namespace only (systemNamespace)',
    objects: [kafkaChannel('c'), channelConfig({ 'bootstrap.servers': 'b1:9093' }, 'default'), channelConfig({ 'bootstrap.servers': 'b2:9093' }, 'system')],
    settings: { ...own, systemNamespace: 'system' },
    check: (d) => assert.deepEqual(d.topics[0]?.cluster, { bootstrapServers: ['b2:9093'], authSecret: null }),
  },
  {
    name: 'an InMemoryChannel on Kafka stays on the process cluster',
    objects: [inMemoryChannel('c'), channelConfig({ 'bootstrap.servers': 'b1:9093', 'auth.secret.ref.name': 'creds' })],
    settings: own,
    check: (d) => assert.equal(d.topics.find((t) => t.owner === IMC)?.cluster, undefined),
  },
  {
    name: 'a bad value: TopicReady False, InvalidTopicConfig, naming the ConfigMap and the key; no topic',
    objects: [kafkaChannel('c'), channelConfig({ 'auth.secret.ref.name': 'creds', 'auth.secret.ref.namespace': 'Not A Namespace' })],
    settings: own,
    check: (d) => {
      assert.deepEqual(d.topics, []);
      assert.deepEqual(condition(d.statuses.get(KC), 'TopicReady'), {
        status: 'False', reason: 'InvalidTopicConfig', message: 'ConfigMap knative-eventing/kafka-channel-config: auth.secret.ref.namespace must be a namespace name, found "Not A Namespace"',
      });
    },
  },
  {
    name: 'a missing Secret: TopicReady False, KafkaAuthSecretInvalid, and the channel is not addressable',
    objects: [kafkaChannel('c'), channelConfig({ 'auth.secret.ref.name': 'creds' })],
    observed: observed({ [T]: { state: 'failed', owner: KC, error: 'Secret knative-eventing/creds not found', code: 'KAFKA_AUTH_INVALID' } }),
    settings: own,
    check: (d) => {
      assert.deepEqual(condition(d.statuses.get(KC), 'TopicReady'), { status: 'False', reason: 'KafkaAuthSecretInvalid', message: `cannot use topic ${T}: Secret knative-eventing/creds not found` });
      assert.equal(condition(d.statuses.get(KC), 'Ready')?.reason, 'KafkaAuthSecretInvalid');
      assert.deepEqual(d.resources, []);
    },
  },
  {
    name: 'in memory the ConfigMap is not used',
    objects: [kafkaChannel('c'), channelConfig({ 'bootstrap.servers': 'b1:9093', 'auth.secret.ref.name': 'creds' })],
    check: (d) => assert.equal(d.topics[0]?.cluster, undefined),
  },
];

desiredCases('KafkaChannel clusters (kafka-channel-config)', cases, { checkContract: true });
