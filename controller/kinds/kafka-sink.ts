import { sinkPath } from '../../core/contract/paths.js';
import type { ClusterRef, ContentMode, Resource } from '../../core/contract/types.js';
import * as c from '../conditions.js';
import type { AddressEntry } from '../destinations.js';
import { apiGroup, EVENTING_GROUP, keyOf, type KnObject, type ObjectKey } from '../resources.js';
import type { DesiredTopic, Observed, ReconcileSettings } from '../state.js';
import { formatFieldErrors, invalid, isRecord, optionalObject, specNotAnObject, unknownFields, type Admission, type FieldError } from './admission.js';
import { admitInto, type Pass } from './pass.js';

/**
 * KafkaSink (Knative Kafka, `eventing.knative.dev/v1alpha1`), pure: admission, then its topic, its
 * contract resource (an ingress at /sinks/<ns>/<name> writing to the topic, no egresses) and its status.
 *
 *   cluster (spec.bootstrapServers, spec.auth.secret.ref.name) -> topic (created when numPartitions
 *   and replicationFactor are both given, else it must exist) observed ready? -> contract resource
 *   + address -> Ready
 *
 * On Kafka the sink writes to the cluster it names, with the credentials of the Secret it names (in
 * its own namespace, Knative Kafka's keys: core/kafka-auth.ts): the process's own log when that is
 * the process's cluster without a Secret, else a client of its own (`Resource.cluster`). In memory
 * there is no cluster to pick, so `bootstrapServers` and `auth` are not used and the topic is always
 * created (the in-memory log has no topics of its own to find).
 */

export const isKafkaSink = (object: KnObject): boolean => object.kind === 'KafkaSink' && apiGroup(object.apiVersion) === EVENTING_GROUP;

// ---- Admission ----

export interface AdmittedSink {
  readonly key: ObjectKey;
  readonly object: KnObject;
  readonly topic: string;
  /** Both set: the controller creates (and owns) the topic; otherwise it must exist (Knative Kafka). */
  readonly numPartitions: number | null;
  readonly replicationFactor: number | null;
  readonly bootstrapServers: readonly string[];
  /** `spec.auth.secret.ref.name`: a Secret in the sink's namespace; null: no credentials (PLAINTEXT). */
  readonly authSecret: string | null;
  readonly contentMode: ContentMode;
  readonly warnings: readonly FieldError[];
}

const SINK_SPEC_FIELDS = ['topic', 'numPartitions', 'replicationFactor', 'bootstrapServers', 'contentMode', 'auth'] as const;
/** Knative Kafka: a sink's topic and its creation settings never change (KafkaSinkSpec.CheckImmutableFields). */
const SINK_IMMUTABLE_FIELDS = ['topic', 'numPartitions', 'replicationFactor'] as const;

/** The CRD's default (`contentMode: binary`), which the API server would have written. */
export function defaultSink(object: KnObject): KnObject {
  if (!isRecord(object.spec) || object.spec['contentMode'] !== undefined) return object;
  return { ...object, spec: { ...object.spec, contentMode: 'binary' } };
}

/** Knative Kafka's `KafkaSinkSpec.Validate`, plus the CRD's required fields and enum. */
export function admitSink(raw: KnObject, previous: KnObject | undefined): Admission<AdmittedSink> {
  const object = defaultSink(raw);
  if (!isRecord(object.spec)) return specNotAnObject(object.spec);
  const spec = object.spec;
  if (previous !== undefined && isRecord(previous.spec)) {
    const before = previous.spec;
    const changed = SINK_IMMUTABLE_FIELDS.filter((f) => JSON.stringify(before[f]) !== JSON.stringify(spec[f]));
    if (changed.length > 0) {
      return {
        ok: false,
        reason: 'ImmutableFieldChanged',
        errors: changed.map((f) => ({ path: `spec.${f}`, message: `Immutable field changed (was ${JSON.stringify(before[f])}, now ${JSON.stringify(spec[f])}); delete the sink and create it again` })),
      };
    }
  }
  const errors: FieldError[] = [...unknownFields(spec, SINK_SPEC_FIELDS, 'spec')];
  const warnings: FieldError[] = [];
  const topic = spec['topic'];
  if (topic === undefined || topic === '') errors.push({ path: 'spec.topic', message: 'missing field(s)' });
  else if (typeof topic !== 'string' || !isTopicName(topic)) errors.push({ path: 'spec.topic', message: `invalid value: ${JSON.stringify(topic)} (a Kafka topic name: up to 249 of a-z A-Z 0-9 . _ -)` });
  const count = (field: 'numPartitions' | 'replicationFactor'): number | null => {
    const value = spec[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > 2 ** 31 - 1) {
      errors.push({ path: `spec.${field}`, message: `invalid value: ${JSON.stringify(value)} (a whole number > 0)` });
      return null;
    }
    return value;
  };
  const numPartitions = count('numPartitions');
  const replicationFactor = count('replicationFactor');
  const servers = spec['bootstrapServers'];
  if (servers === undefined || (Array.isArray(servers) && servers.length === 0)) errors.push({ path: 'spec.bootstrapServers', message: 'missing field(s)' });
  else if (!Array.isArray(servers) || !servers.every((s) => typeof s === 'string' && /^[^\s,]+$/.test(s))) {
    errors.push({ path: 'spec.bootstrapServers', message: 'invalid value: expected a list of host:port strings' });
  }
  const mode = spec['contentMode'];
  if (mode !== 'binary' && mode !== 'structured') errors.push({ path: 'spec.contentMode', message: `invalid value: ${JSON.stringify(mode)} (binary or structured)` });
  const authSecret = authSecretOf(spec['auth'], errors);
  if (errors.length > 0 || typeof topic !== 'string' || (mode !== 'binary' && mode !== 'structured')) return invalid(errors);
  return {
    ok: true,
    value: { key: keyOf(object), object, topic, numPartitions, replicationFactor, bootstrapServers: servers as string[], authSecret, contentMode: mode, warnings },
  };
}

/** Knative Kafka's `spec.auth`: `{ secret: { ref: { name } } }`, the name of a Secret in the sink's namespace. */
function authSecretOf(auth: unknown, errors: FieldError[]): string | null {
  const authObject = optionalObject(auth, 'spec.auth', ['secret'], errors);
  const secret = authObject === null ? null : optionalObject(authObject['secret'], 'spec.auth.secret', ['ref'], errors);
  const ref = secret === null ? null : optionalObject(secret['ref'], 'spec.auth.secret.ref', ['name'], errors);
  const name = ref === null ? undefined : ref['name'];
  if (name === undefined || name === null || name === '') return null;
  if (typeof name !== 'string' || !isSecretName(name)) {
    errors.push({ path: 'spec.auth.secret.ref.name', message: `invalid value: ${JSON.stringify(name)} (a Secret name)` });
    return null;
  }
  return name;
}

/** A Kubernetes object name (DNS subdomain): what a Secret may be called. */
export function isSecretName(name: string): boolean {
  return /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name);
}

/** Kafka topic names: up to 249 of [a-zA-Z0-9._-], not "." or "..". */
function isTopicName(name: string): boolean {
  return /^[a-zA-Z0-9._-]{1,249}$/.test(name) && name !== '.' && name !== '..';
}

// ---- One sink ----

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

  // 1. The cluster, then the topic.
  let topic: DesiredTopic | null = null;
  const owned = sinkOwnsTopic(sink, settings);
  const claimedBy = owned ? ctx.topicClaims.get(sink.topic) : undefined;
  const cluster = sinkCluster(sink, settings);
  if (claimedBy !== undefined && claimedBy !== sink.key) {
    conditions.push(c.sinkTopicConflict(sink.topic, claimedBy, !inMemory(settings)));
  } else {
    topic = {
      name: sink.topic,
      owner: sink.key,
      external: !owned,
      spec: { partitions: sink.numPartitions ?? settings.topicPartitions, replicationFactor: sink.replicationFactor ?? settings.topicReplicationFactor },
      ...(cluster === undefined ? {} : { cluster }),
    };
    conditions.push(c.topicCondition(topic, observed, inMemory(settings)));
  }
  const topicReady = topic !== null && observed.topics.get(sink.topic)?.state === 'ready';

  // 2. The data plane, and the address once the topic can take events.
  conditions.push(c.resourceDataPlaneCondition(observed, metadata.uid, ['ingress']));
  conditions.push(c.addressableCondition(sink.topic, topicReady, true));

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
        ...(cluster === undefined ? {} : { cluster }),
      }
    : null;
  const unused: FieldError[] = inMemory(settings) && sink.authSecret !== null ? [{ path: 'spec.auth', message: 'not used: the in-memory event log has no Kafka credentials' }] : [];
  const allWarnings = [...sink.warnings, ...unused];
  const warnings = allWarnings.length === 0 ? undefined : `warning: ${formatFieldErrors(allWarnings)}`;
  const status: c.ObjectStatus = {
    observedGeneration: metadata.generation,
    conditions: c.withReady(c.SINK_CONDITIONS, conditions, warnings),
    ...(topicReady ? { address: { url } } : {}),
  };
  const address: AddressEntry = topicReady ? { url } : { url: null, why: `its topic ${sink.topic} is not ready` };
  return { key: sink.key, topic, resource, status, address };
}

/**
 * The sink's cluster when it is not the process's own: its servers (sorted, as the contract keeps
 * them) and its Secret. Undefined in memory, and for the process's cluster without a Secret (the
 * default path, no client of its own).
 */
export function sinkCluster(sink: AdmittedSink, settings: ReconcileSettings): ClusterRef | undefined {
  if (inMemory(settings)) return undefined;
  const authSecret = sink.authSecret === null ? null : { namespace: sink.object.metadata.namespace, name: sink.authSecret };
  if (authSecret === null && sameCluster(sink.bootstrapServers, settings.kafkaBootstrapServers ?? [])) return undefined;
  return { bootstrapServers: sink.bootstrapServers.map(withoutScheme).sort(), authSecret };
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

/** Knative accepts `SASL_SSL://host:port`; a Kafka client takes the host:port. */
function withoutScheme(server: string): string {
  return server.trim().replace(/^[a-z0-9_]+:\/\//i, '');
}

/** `PLAINTEXT://Host:9092` -> `host:9092`; Kafka's default port when none is given. */
function normalizeServer(server: string): string {
  const bare = withoutScheme(server).toLowerCase().replace(/\/+$/, '');
  return /:\d+$/.test(bare) ? bare : `${bare}:9092`;
}

// ---- Phase of the desired state (desired.ts) ----

/**
 * Admits the sinks and reconciles them: before the brokers, whose dead-letter sinks may refer to
 * them. Each claims the topic it would own after the brokers (`topicClaims`, which it extends).
 * Returns their contract resources.
 */
export function reconcileSinks(pass: Pass, objects: readonly KnObject[], topicClaims: Map<string, ObjectKey>): Resource[] {
  pass.addresses.addKind(EVENTING_GROUP, 'KafkaSink');
  const admitted: AdmittedSink[] = [];
  for (const raw of objects) {
    const admission = admitInto(pass, raw, admitSink, defaultSink, c.SINK_CONDITIONS);
    if (admission.ok) {
      admitted.push(admission.value);
      claimSinkTopic(admission.value, pass.settings, topicClaims);
    } else {
      pass.addresses.set(EVENTING_GROUP, 'KafkaSink', raw.metadata.namespace, raw.metadata.name, { url: null, why: 'its spec was refused' });
    }
  }
  const resources: Resource[] = [];
  for (const sink of admitted) {
    const outcome = reconcileSink(sink, { observed: pass.observed, settings: pass.settings, topicClaims });
    pass.statuses.set(sink.key, outcome.status);
    if (outcome.topic !== null) pass.topics.push(outcome.topic);
    if (outcome.resource !== null) resources.push(outcome.resource);
    pass.addresses.set(EVENTING_GROUP, 'KafkaSink', sink.object.metadata.namespace, sink.object.metadata.name, outcome.address);
  }
  return resources;
}
