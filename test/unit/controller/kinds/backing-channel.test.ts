import assert from 'node:assert/strict';
import { stableUid } from '../../../../controller/sources/manifests.js';
import type { ReconcileSettings } from '../../../../controller/state.js';
import { inMemoryChannel, kafkaChannel } from '../channel-fixtures.js';
import { desiredCases, broker, condition, observed, settings, type DesiredCase } from '../fixtures.js';

/**
 * KafkaChannel and InMemoryChannel through computeDesired, case by case: topic, contract resource,
 * address and status.
 */

const T = 'knative-messaging-kafka.default.c';
const KC = 'KafkaChannel/default/c';
const IMC = 'InMemoryChannel/default/c';
const onKafka: ReconcileSettings = { ...settings, kafkaBootstrapServers: ['127.0.0.1:9092'] };

const cases: DesiredCase[] = [
  // ---- KafkaChannel ----
  {
    name: "a new KafkaChannel wants its topic with Knative Kafka's defaults and is not Ready until the topic is seen",
    objects: [kafkaChannel('c')],
    check: (d) => {
      assert.deepEqual(d.topics, [{ name: T, owner: KC, external: false, spec: { partitions: 1, replicationFactor: 1, config: { 'retention.ms': String(7 * 24 * 3600 * 1000) } } }]);
      assert.deepEqual(d.resources, []);
      assert.deepEqual(condition(d.statuses.get(KC), 'TopicReady'), { status: 'Unknown', reason: 'TopicPending', message: `creating topic ${T}` });
      assert.equal(condition(d.statuses.get(KC), 'Ready')?.status, 'Unknown');
      // The defaults are visible on the object, as Knative's webhook would have written them.
      const shown = d.objects.get(KC)!;
      assert.deepEqual(shown.spec, { numPartitions: 1, replicationFactor: 1, retentionDuration: 'PT168H' });
      assert.equal(shown.metadata.annotations['messaging.knative.dev/subscribable'], 'v1');
    },
  },
  {
    name: 'a KafkaChannel whose topic is ready is in the contract at /channels/<ns>/<name>, addressable and Ready',
    objects: [kafkaChannel('c', { numPartitions: 3, retentionDuration: 'P1D' })],
    observed: observed({ [T]: { owner: KC, partitions: 3 } }),
    check: (d) => {
      assert.deepEqual(d.topics[0]?.spec, { partitions: 3, replicationFactor: 1, config: { 'retention.ms': '86400000' } });
      assert.deepEqual(d.resources, [{
        uid: stableUid(KC),
        kind: 'KafkaChannel',
        reference: { kind: 'KafkaChannel', namespace: 'default', name: 'c', uid: stableUid(KC) },
        topics: [T],
        ingress: { path: '/channels/default/c', contentMode: 'binary' },
        egressConfig: null,
        egresses: [],
      }]);
      const status = d.statuses.get(KC)!;
      assert.deepEqual(status.address, { url: 'http://127.0.0.1:8080/channels/default/c' });
      assert.deepEqual(status.conditions.map((x) => x.type), ['Addressable', 'DataPlaneAvailable', 'DeadLetterSinkResolved', 'Ready', 'TopicReady']);
      assert.deepEqual(condition(status, 'Ready'), { status: 'True' });
      assert.equal(condition(status, 'TopicReady')?.reason, 'TopicCreated');
      assert.match(condition(status, 'TopicReady')!.message!, /3 partitions.*in-memory event log \(dev mode\)/);
      assert.equal(status.subscribers, undefined);
    },
  },
  {
    name: 'a KafkaChannel on Kafka reports its topic without a dev-mode note',
    objects: [kafkaChannel('c')],
    observed: observed({ [T]: { owner: KC, partitions: 1 } }),
    settings: onKafka,
    check: (d) => assert.deepEqual(condition(d.statuses.get(KC), 'TopicReady'), { status: 'True', reason: 'TopicCreated', message: `topic ${T} (1 partitions)` }),
  },
  {
    name: 'an invalid KafkaChannel is refused with the field paths; nothing is created',
    objects: [kafkaChannel('c', { numPartitions: 'ten', retentionDuration: 'a week', color: 'red' })],
    check: (d) => {
      assert.deepEqual(d.topics, []);
      const ready = condition(d.statuses.get(KC), 'Ready')!;
      assert.equal(ready.reason, 'ValidationFailed');
      assert.match(ready.message!, /spec\.color/);
      assert.match(ready.message!, /spec\.numPartitions/);
      assert.match(ready.message!, /spec\.retentionDuration/);
    },
  },
  {
    name: "a KafkaChannel's partitions cannot change once admitted (Knative: immutable)",
    objects: [kafkaChannel('c', { numPartitions: 6 }, 2)],
    previous: new Map([[KC, { ...kafkaChannel('c', { numPartitions: 3, replicationFactor: 1, retentionDuration: 'PT168H' }) }]]),
    check: (d) => {
      const ready = condition(d.statuses.get(KC), 'Ready')!;
      assert.equal(ready.reason, 'ImmutableFieldChanged');
      assert.match(ready.message!, /spec\.numPartitions/);
      assert.equal((d.admitted.get(KC)?.spec as { numPartitions: number }).numPartitions, 3, 'the admitted version stays the baseline');
    },
  },
  {
    name: "a channel's dead-letter sink may refer to a Broker: resolved, it is the default of its subscriptions",
    objects: [broker('b'), kafkaChannel('c', { delivery: { retry: 2, deadLetterSink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'b' } } } })],
    observed: observed({ 'knative-broker-default-b': { owner: 'Broker/default/b' }, [T]: { owner: KC } }),
    check: (d) => {
      const resource = d.resources.find((r) => r.kind === 'KafkaChannel')!;
      assert.deepEqual(resource.egressConfig, { retry: 2, backoffPolicy: 'exponential', backoffDelayMs: 200, timeoutMs: null, deadLetter: 'http://127.0.0.1:8080/default/b', retryAfterMaxMs: null });
      assert.equal(d.statuses.get(KC)?.deadLetterSinkUri, 'http://127.0.0.1:8080/default/b');
    },
  },
  {
    name: 'an unresolvable dead-letter sink keeps the channel out of the contract',
    objects: [kafkaChannel('c', { delivery: { deadLetterSink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'nope' } } } })],
    observed: observed({ [T]: { owner: KC } }),
    check: (d) => {
      assert.deepEqual(d.resources, []);
      assert.equal(condition(d.statuses.get(KC), 'Ready')?.reason, 'DeadLetterSinkResolveFailed');
    },
  },
  // ---- InMemoryChannel ----
  {
    name: "an InMemoryChannel is the same data plane: a topic with the controller's settings, served at /channels/<ns>/<name>",
    objects: [inMemoryChannel('c')],
    observed: observed({ [T]: { owner: IMC } }),
    check: (d) => {
      assert.deepEqual(d.topics, [{ name: T, owner: IMC, external: false, spec: { partitions: 10, replicationFactor: 1 } }]);
      assert.equal(d.resources[0]?.kind, 'InMemoryChannel');
      assert.deepEqual(d.resources[0]?.ingress, { path: '/channels/default/c', contentMode: 'binary' });
      assert.match(condition(d.statuses.get(IMC), 'TopicReady')!.message!, /in the in-memory event log$/);
    },
  },
  {
    name: 'an InMemoryChannel on Kafka is a Kafka topic, and its status says so',
    objects: [inMemoryChannel('c')],
    observed: observed({ [T]: { owner: IMC } }),
    settings: onKafka,
    check: (d) => {
      assert.equal(condition(d.statuses.get(IMC), 'Ready')?.status, 'True');
      assert.match(condition(d.statuses.get(IMC), 'TopicReady')!.message!, /runs on Kafka, so this InMemoryChannel is a Kafka topic and its events are durable/);
    },
  },
  {
    name: 'a KafkaChannel and an InMemoryChannel of one name: the first by key order keeps the topic and address',
    objects: [kafkaChannel('c'), inMemoryChannel('c')],
    observed: observed({ [T]: { owner: IMC } }),
    check: (d) => {
      assert.deepEqual(d.topics.map((t) => t.owner), [IMC]);
      assert.deepEqual(condition(d.statuses.get(KC), 'TopicReady')?.reason, 'ChannelNameConflict');
      assert.match(condition(d.statuses.get(KC), 'Ready')!.message!, /InMemoryChannel\/default\/c/);
      assert.deepEqual(d.resources.map((r) => r.kind), ['InMemoryChannel']);
    },
  },
];

desiredCases('computeDesired: backing channels', cases);
