import assert from 'node:assert/strict';
import { desiredCases, broker, condition, configMap, observed, settings, trigger, type DesiredCase } from '../fixtures.js';

/**
 * A Broker on a Kafka cluster of its own: its config ConfigMap (Knative Kafka's
 * `kafka-broker-config`) names `bootstrap.servers` and `auth.secret.ref.name`; the topic, its
 * triggers' groups and its contract resource carry the cluster; the default path carries none.
 */

const B = 'Broker/default/b';
const T = 'knative-broker-default-b';
const G = 'knative-trigger-default-t';
const withConfig = broker('b', { config: { apiVersion: 'v1', kind: 'ConfigMap', name: 'kafka-config' } });
const own = { ...settings, kafkaBootstrapServers: ['kafka:9092'] };

const cases: DesiredCase[] = [
  {
    name: 'no ConfigMap: the process cluster, and no cluster in the contract',
    objects: [broker('b')],
    observed: observed({ [T]: { owner: B } }),
    settings: own,
    check: (d) => {
      assert.equal(d.topics[0]?.cluster, undefined);
      assert.equal(d.resources[0] !== undefined && 'cluster' in d.resources[0], false);
    },
  },
  {
    name: 'bootstrap.servers equal to the process cluster (in another order), no Secret: the default path',
    objects: [withConfig, configMap('kafka-config', { 'bootstrap.servers': ' kafka:9092 ' })],
    observed: observed({ [T]: { owner: B } }),
    settings: own,
    check: (d) => {
      assert.equal(d.topics[0]?.cluster, undefined);
      assert.equal(d.resources[0]?.cluster, undefined);
    },
  },
  {
    name: 'bootstrap.servers and auth.secret.ref.name: topic, group and resource on that cluster, the Secret in the ConfigMap\'s namespace',
    objects: [
      withConfig,
      configMap('kafka-config', { 'bootstrap.servers': 'b2:9093,b1:9093', 'auth.secret.ref.name': 'kafka-auth', 'default.topic.partitions': '3' }),
      trigger('t', { broker: 'b' }),
    ],
    observed: observed({ [T]: { owner: B } }, { [G]: { topic: T, owner: 'Trigger/default/t' } }),
    settings: own,
    check: (d) => {
      const cluster = { bootstrapServers: ['b1:9093', 'b2:9093'], authSecret: { namespace: 'default', name: 'kafka-auth' } };
      assert.deepEqual(d.topics[0], { name: T, owner: B, external: false, spec: { partitions: 3, replicationFactor: 1 }, cluster });
      assert.deepEqual(d.groups[0]?.cluster, cluster);
      assert.deepEqual(d.resources[0]?.cluster, cluster);
      assert.equal(d.resources[0]?.egresses.length, 1);
    },
  },
  {
    name: 'only auth.secret.ref.name: the process cluster with other credentials',
    objects: [withConfig, configMap('kafka-config', { 'auth.secret.ref.name': 'kafka-auth' })],
    settings: own,
    check: (d) => assert.deepEqual(d.topics[0]?.cluster, { bootstrapServers: ['kafka:9092'], authSecret: { namespace: 'default', name: 'kafka-auth' } }),
  },
  {
    name: 'bad values are TopicReady False (InvalidTopicConfig) naming the key, and no topic',
    objects: [withConfig, configMap('kafka-config', { 'bootstrap.servers': 'no port here' })],
    settings: own,
    check: (d) => {
      assert.deepEqual(d.topics, []);
      assert.equal(condition(d.statuses.get(B), 'TopicReady')?.reason, 'InvalidTopicConfig');
      assert.match(condition(d.statuses.get(B), 'TopicReady')!.message!, /ConfigMap default\/kafka-config: bootstrap\.servers must be host:port/);
    },
  },
  {
    name: 'a Secret name that is not a Kubernetes name is refused (it becomes a folder name)',
    objects: [withConfig, configMap('kafka-config', { 'bootstrap.servers': 'b1:9093', 'auth.secret.ref.name': '../etc' })],
    settings: own,
    check: (d) => assert.match(condition(d.statuses.get(B), 'TopicReady')!.message!, /auth\.secret\.ref\.name must be a Secret name/),
  },
  {
    name: 'on the in-memory log a ConfigMap\'s cluster keys are not used (Knative\'s docs name one): the default path',
    objects: [withConfig, configMap('kafka-config', { 'bootstrap.servers': 'b1:9093', 'auth.secret.ref.name': 'kafka-auth', 'default.topic.partitions': '2' })],
    check: (d) => assert.deepEqual(d.topics[0], { name: T, owner: B, external: false, spec: { partitions: 2, replicationFactor: 1 } }),
  },
  {
    name: 'a server list sharing a server with the process cluster is that cluster',
    objects: [withConfig, configMap('kafka-config', { 'bootstrap.servers': 'kafka:9092,kafka-2:9092' })],
    settings: own,
    check: (d) => assert.equal(d.topics[0]?.cluster, undefined),
  },
  {
    name: 'a missing or bad Secret, as observed, is TopicReady False with reason KafkaAuthSecretInvalid',
    objects: [withConfig, configMap('kafka-config', { 'bootstrap.servers': 'b1:9093', 'auth.secret.ref.name': 'kafka-auth' })],
    observed: observed({ [T]: { state: 'failed', owner: B, error: 'Secret default/kafka-auth not found (named by auth.secret.ref.name)', code: 'KAFKA_AUTH_INVALID' } }),
    settings: own,
    check: (d) => {
      assert.deepEqual(condition(d.statuses.get(B), 'TopicReady'), {
        status: 'False', reason: 'KafkaAuthSecretInvalid', message: `cannot use topic ${T}: Secret default/kafka-auth not found (named by auth.secret.ref.name)`,
      });
      assert.deepEqual(d.resources, []);
    },
  },
];

desiredCases('a Broker on a Kafka cluster of its own', cases, { checkContract: true });
