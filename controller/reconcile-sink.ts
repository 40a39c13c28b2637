import { sinkPath } from '../core/contract/paths.js';
import type { Resource } from '../core/contract/types.js';
import { formatFieldErrors, type AdmittedSink } from './admission.js';
import * as c from './conditions.js';
import type { AddressEntry } from './destinations.js';
import { addressableCondition, dataPlaneCondition, topicCondition } from './reconcile-steps.js';
import { apiGroup, EVENTING_GROUP, type KnObject, type ObjectKey } from './resources.js';
import type { DesiredTopic, Observed, ReconcileSettings } from './state.js';

/**
 * One KafkaSink (Knative Kafka, `eventing.knative.dev/v1alpha1`), pure: its topic, its contract
 * resource (an ingress at /sinks/<ns>/<name> writing to the topic, no egresses) and its status.
 *
 *   cluster named by spec.bootstrapServers is ours? -> topic (created when numPartitions and
 *   replicationFactor are both given, else it must exist) observed ready? -> contract resource
 *   + address -> Ready
 *
 * The sink writes through the process's own event log. On Kafka, a sink naming another cluster is
 * refused on its status (TopicReady False, BootstrapServersNotSupported) rather than written to the
 * wrong cluster; in memory there is no cluster to pick, so `bootstrapServers` is not used and the
 * topic is always created (the in-memory log has no topics of its own to find).
 */

export const isKafkaSink = (object: KnObject): boolean => object.kind === 'KafkaSink' && apiGroup(object.apiVersion) === EVENTING_GROUP;

export interface SinkOutcome {
  readonly key: ObjectKey;
  readonly topic: DesiredTopic | null;
  /** The sink's contract resource, or null while it cannot take events. */
  readonly resource: Resource | null;
  readonly status: c.ObjectStatus;
  /** What a destination referring to this sink resolves to. */
  readonly address: AddressEntry;
}

export interface SinkContext {
  readonly observed: Observed;
  readonly settings: ReconcileSettings;
  /** Owned topic name -> the object that claimed it first (brokers, then sinks, by key order). */
  readonly topicClaims: ReadonlyMap<string, ObjectKey>;
}

export const sinkAddressOf = (sink: AdmittedSink, settings: ReconcileSettings): string =>
  `${settings.ingressUrl.replace(/\/+$/, '')}${sinkPath(sink.object.metadata.namespace, sink.object.metadata.name)}`;

const inMemory = (settings: ReconcileSettings): boolean => (settings.kafkaBootstrapServers ?? []).length === 0;

/** Whether the controller creates (and, once the sink is gone, deletes) the sink's topic. */
export function sinkOwnsTopic(sink: AdmittedSink, settings: ReconcileSettings): boolean {
  return inMemory(settings) || (sink.numPartitions !== null && sink.replicationFactor !== null);
}

/** Adds the topic a sink would own to the claims, unless an earlier object claimed it. */
export function claimSinkTopic(sink: AdmittedSink, settings: ReconcileSettings, claims: Map<string, ObjectKey>): void {
  if (sinkOwnsTopic(sink, settings) && !claims.has(sink.topic)) claims.set(sink.topic, sink.key);
}

export function reconcileSink(sink: AdmittedSink, ctx: SinkContext): SinkOutcome {
  const { metadata } = sink.object;
  const { settings, observed } = ctx;
  const conditions: c.Condition[] = [];
  const own = settings.kafkaBootstrapServers ?? [];

  // 1. The cluster, then the topic.
  let topic: DesiredTopic | null = null;
  const owned = sinkOwnsTopic(sink, settings);
  const claimedBy = owned ? ctx.topicClaims.get(sink.topic) : undefined;
  if (!inMemory(settings) && !sameCluster(sink.bootstrapServers, own)) {
    conditions.push(c.bootstrapServersNotSupported(sink.bootstrapServers, own));
  } else if (claimedBy !== undefined && claimedBy !== sink.key) {
    conditions.push(c.sinkTopicConflict(sink.topic, claimedBy, !inMemory(settings)));
  } else {
    topic = {
      name: sink.topic,
      owner: sink.key,
      external: !owned,
      spec: { partitions: sink.numPartitions ?? settings.topicPartitions, replicationFactor: sink.replicationFactor ?? settings.topicReplicationFactor },
    };
    conditions.push(topicCondition(topic, observed, inMemory(settings)));
  }
  const topicReady = topic !== null && observed.topics.get(sink.topic)?.state === 'ready';

  // 2. The data plane, and the address once the topic can take events.
  conditions.push(dataPlaneCondition(observed.dataPlane));
  conditions.push(addressableCondition(sink.topic, topicReady, true));

  const url = sinkAddressOf(sink, settings);
  const resource: Resource | null = topicReady
    ? {
        uid: metadata.uid,
        kind: 'KafkaSink',
        reference: { kind: 'KafkaSink', namespace: metadata.namespace, name: metadata.name, uid: metadata.uid },
        topics: [sink.topic],
        ingress: { path: sinkPath(metadata.namespace, metadata.name), contentMode: sink.contentMode },
        egressConfig: null,
        egresses: [],
      }
    : null;
  const warnings = sink.warnings.length === 0 ? undefined : `warning: ${formatFieldErrors(sink.warnings)}`;
  const status: c.ObjectStatus = {
    observedGeneration: metadata.generation,
    conditions: c.withReady(c.SINK_CONDITIONS, conditions, warnings),
    ...(topicReady ? { address: { url } } : {}),
  };
  const address: AddressEntry = topicReady ? { url } : { url: null, why: `its topic ${sink.topic} is not ready` };
  return { key: sink.key, topic, resource, status, address };
}

/**
 * Whether two bootstrap lists name the same cluster: they share a server. A bootstrap list is only
 * a set of entry points, so this cannot tell two names of one host apart (`localhost` and
 * `127.0.0.1`); the status message then says which servers to list.
 */
export function sameCluster(given: readonly string[], own: readonly string[]): boolean {
  const ours = new Set(own.map(normalizeServer));
  return given.some((server) => ours.has(normalizeServer(server)));
}

/** `PLAINTEXT://Host:9092` -> `host:9092`; Kafka's default port when none is given. */
function normalizeServer(server: string): string {
  const bare = server.trim().toLowerCase().replace(/^[a-z0-9_]+:\/\//, '').replace(/\/+$/, '');
  return /:\d+$/.test(bare) ? bare : `${bare}:9092`;
}
