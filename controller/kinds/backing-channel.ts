import { isDeepStrictEqual } from 'node:util';
import { channelPath, channelTopic } from '../../core/contract/paths.js';
import type { Resource } from '../../core/contract/types.js';
import type { TopicSpec } from '../../core/event-log/port.js';
import * as c from '../conditions.js';
import type { AddressBook, AddressEntry } from '../destinations.js';
import { apiGroup, keyOf, MESSAGING_GROUP, SUBSCRIBABLE_DUCK_ANNOTATION, type KnObject, type ObjectKey } from '../resources.js';
import type { DesiredTopic, Observed, ReconcileSettings } from '../state.js';
import { invalid, isRecord, unknownFields, type Admission, type FieldError } from './admission.js';
import { egressConfig, optionalDelivery, resolveDeadLetterSink, type Delivery } from './delivery.js';
import { parseDuration } from './durations.js';
import { clusterFromConfig, configMapData, type ClusterResult } from './kafka-cluster.js';
import { admitInto, type Pass } from './pass.js';

/**
 * The backing channels, KafkaChannel (messaging.knative.dev/v1beta1) and InMemoryChannel
 * (messaging.knative.dev/v1), pure: admission, then the topic, the contract resource and the status
 * of each. A Channel (channel.ts) creates one; one can also be written directly.
 *
 *   topic knative-messaging-kafka.<ns>.<name> -> topic observed ready? -> dead-letter sink resolved?
 *     -> contract resource, ingress /channels/<ns>/<name> -> Ready
 *
 * Both kinds are one data plane: a topic in the event log the process runs on, an ingress path,
 * and one egress per Subscription (subscription.ts) with no filter. What differs is where the
 * topic lives, and the status says so: an InMemoryChannel on Kafka is a Kafka topic (durable,
 * which a production user expects of a channel that "works"); a KafkaChannel on the in-memory log
 * is a topic in this process (events do not survive a restart).
 *
 * The channel's Ready does not wait for its subscriptions (Knative's channels do not); each
 * Subscription's state is in `status.subscribers` instead.
 */

/** The backing kinds this controller serves; a Channel templated on another kind is left to its controller. */
export type ChannelableKind = 'KafkaChannel' | 'InMemoryChannel';
export const isChannelableKind = (kind: string): kind is ChannelableKind => kind === 'KafkaChannel' || kind === 'InMemoryChannel';
export const isChannelable = (object: KnObject): boolean => isChannelableKind(object.kind) && apiGroup(object.apiVersion) === MESSAGING_GROUP;

// ---- Admission ----

/** KafkaChannel or InMemoryChannel: a topic, an ingress, and one egress per Subscription. */
export interface AdmittedChannelable {
  readonly key: ObjectKey;
  readonly object: KnObject;
  readonly kind: ChannelableKind;
  /** The channel's delivery settings, the defaults of its subscriptions. */
  readonly delivery: Delivery | null;
  /** KafkaChannel's topic settings; null for an InMemoryChannel (the controller's defaults apply). */
  readonly topic: { readonly partitions: number; readonly replicationFactor: number; readonly retentionMs: number } | null;
}

/** eventing-kafka-broker's KafkaChannel defaults (KafkaChannelSpec.SetDefaults). */
export const KAFKA_CHANNEL_DEFAULTS = { numPartitions: 1, replicationFactor: 1, retentionDuration: 'PT168H' } as const;
const KAFKA_CHANNEL_SPEC_FIELDS = ['numPartitions', 'replicationFactor', 'retentionDuration', 'delivery', 'subscribers'] as const;
const IN_MEMORY_CHANNEL_SPEC_FIELDS = ['delivery', 'subscribers'] as const;
/** Fixed once the topic exists (eventing-kafka-broker's KafkaChannel.CheckImmutableFields). */
const KAFKA_CHANNEL_IMMUTABLE = ['numPartitions', 'replicationFactor', 'retentionDuration'] as const;

/** Knative's defaulting webhook stamps channels (a Channel and its backing channel) with the subscribable duck version they speak. */
export function withSubscribableAnnotation(object: KnObject): KnObject {
  if (object.metadata.annotations[SUBSCRIBABLE_DUCK_ANNOTATION] !== undefined) return object;
  return { ...object, metadata: { ...object.metadata, annotations: { ...object.metadata.annotations, [SUBSCRIBABLE_DUCK_ANNOTATION]: 'v1' } } };
}

export function defaultChannelable(object: KnObject): KnObject {
  const annotated = withSubscribableAnnotation(object);
  const spec = object.spec === undefined || object.spec === null ? {} : object.spec;
  if (object.kind !== 'KafkaChannel' || !isRecord(spec)) return spec === object.spec ? annotated : { ...annotated, spec };
  const filled: Record<string, unknown> = { ...spec };
  for (const [field, value] of Object.entries(KAFKA_CHANNEL_DEFAULTS)) {
    // Go's zero values count as unset there: 0 partitions, "" retention.
    if (filled[field] === undefined || filled[field] === null || filled[field] === 0 || filled[field] === '') filled[field] = value;
  }
  return { ...annotated, spec: filled };
}

/**
 * A KafkaChannel or an InMemoryChannel. `spec.subscribers` is accepted (Knative's Subscription
 * controller writes it there) and not used: here the Subscriptions themselves say who subscribes.
 */
export function admitChannelable(raw: KnObject, previous: KnObject | undefined): Admission<AdmittedChannelable> {
  const kind = raw.kind;
  if (!isChannelableKind(kind)) return invalid([{ path: 'kind', message: `invalid value: ${kind} (KafkaChannel or InMemoryChannel)` }]);
  const object = defaultChannelable(raw);
  if (!isRecord(object.spec)) return invalid([{ path: 'spec', message: 'expected an object' }]);
  const spec = object.spec;
  if (kind === 'KafkaChannel' && previous !== undefined && isRecord(previous.spec)) {
    const before = previous.spec;
    const changed = KAFKA_CHANNEL_IMMUTABLE.filter((f) => before[f] !== undefined && before[f] !== '' && !isDeepStrictEqual(before[f], spec[f]));
    if (changed.length > 0) {
      return {
        ok: false,
        reason: 'ImmutableFieldChanged',
        errors: changed.map((f) => ({ path: `spec.${f}`, message: `Immutable field changed (was ${JSON.stringify(before[f])}, now ${JSON.stringify(spec[f])}); the channel's topic keeps its settings` })),
      };
    }
  }
  const errors: FieldError[] = [...unknownFields(spec, kind === 'KafkaChannel' ? KAFKA_CHANNEL_SPEC_FIELDS : IN_MEMORY_CHANNEL_SPEC_FIELDS, 'spec')];
  if (spec['subscribers'] !== undefined && spec['subscribers'] !== null && !Array.isArray(spec['subscribers'])) errors.push({ path: 'spec.subscribers', message: 'expected an array' });
  const delivery = optionalDelivery(spec['delivery'], 'spec.delivery', object.metadata.namespace, errors);
  let topic: AdmittedChannelable['topic'] = null;
  if (kind === 'KafkaChannel') {
    const whole = (field: string, max: number): number | null => {
      const v = spec[field];
      if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max) return v;
      errors.push({ path: `spec.${field}`, message: `invalid value: ${JSON.stringify(v)} (a whole number from 1 to ${max})` });
      return null;
    };
    const partitions = whole('numPartitions', 2 ** 31 - 1);
    // Kafka's replication factor is an int16 (the CRD's maximum).
    const replicationFactor = whole('replicationFactor', 32767);
    const retention = spec['retentionDuration'];
    const parsed = typeof retention === 'string' ? parseDuration(retention) : undefined;
    let retentionMs: number | null = null;
    if (parsed === undefined) errors.push({ path: 'spec.retentionDuration', message: `invalid value: ${JSON.stringify(retention)} (an ISO 8601 duration such as PT168H)` });
    else if (!parsed.ok) errors.push({ path: 'spec.retentionDuration', message: `invalid value: ${parsed.message}` });
    else if (parsed.ms < 0) errors.push({ path: 'spec.retentionDuration', message: `invalid value: "${String(retention)}" (must be zero or more)` });
    else retentionMs = parsed.ms;
    if (partitions !== null && replicationFactor !== null && retentionMs !== null) topic = { partitions, replicationFactor, retentionMs };
  }
  if (errors.length > 0) return invalid(errors);
  return { ok: true, value: { key: keyOf(object), object, kind, delivery, topic } };
}

// ---- One backing channel ----

export interface ChannelableOutcome {
  readonly key: ObjectKey;
  readonly channel: AdmittedChannelable;
  readonly topic: DesiredTopic | null;
  /** The channel's contract resource without egresses (subscriptions add them), or null while it cannot take events. */
  readonly resource: Resource | null;
  /** Without `subscribers`; `withSubscribers` adds them once the subscriptions are reconciled. */
  readonly status: c.ObjectStatus;
}

export interface ChannelableContext {
  /** The pass's ConfigMaps: KafkaChannels read their cluster from `kafka-channel-config`. */
  readonly configMaps: ReadonlyMap<ObjectKey, KnObject>;
  readonly observed: Observed;
  readonly settings: ReconcileSettings;
  readonly addresses: AddressBook;
  /** Channel topic -> the channel (KafkaChannel or InMemoryChannel) that claimed it first, by key order. */
  readonly claims: ReadonlyMap<string, ObjectKey>;
}

export const channelTopicOf = (channel: { readonly object: KnObject }): string => channelTopic(channel.object.metadata.namespace, channel.object.metadata.name);

/** A channel's address: the ingress URL plus `/channels/<namespace>/<name>`, known before anything is created. */
export const channelAddressOf = (namespace: string, name: string, settings: ReconcileSettings): string =>
  `${settings.ingressUrl.replace(/\/+$/, '')}${channelPath(namespace, name)}`;

export const onKafka = (settings: ReconcileSettings): boolean => (settings.kafkaBootstrapServers?.length ?? 0) > 0;

/** Knative Kafka's ConfigMap of KafkaChannels' cluster, in the controller's namespace. */
export const CHANNEL_CONFIG_MAP = 'kafka-channel-config';

/**
 * A KafkaChannel's cluster: what `kafka-channel-config` names (`bootstrap.servers`,
 * `auth.secret.ref.name`, `auth.secret.ref.namespace`), one for all KafkaChannels as in Knative.
 * An InMemoryChannel stays on the process's log.
 */
export function channelCluster(channel: AdmittedChannelable, configMaps: ReadonlyMap<ObjectKey, KnObject>, settings: ReconcileSettings): ClusterResult {
  if (channel.kind !== 'KafkaChannel') return { ok: true, ref: undefined };
  const configMap = { namespace: settings.systemNamespace ?? 'knative-eventing', name: CHANNEL_CONFIG_MAP };
  return clusterFromConfig(configMapData(configMaps, configMap.namespace, configMap.name), configMap, settings.kafkaBootstrapServers ?? [], { secretNamespaceKey: true });
}

/** What a destination referring to this channel resolves to: its address once its topic is ready. */
export function channelAddressEntry(channel: AdmittedChannelable, ctx: Omit<ChannelableContext, 'addresses' | 'configMaps'>): AddressEntry {
  const topic = channelTopicOf(channel);
  const claimedBy = ctx.claims.get(topic);
  if (claimedBy !== undefined && claimedBy !== channel.key) return { url: null, why: `its name is taken by ${claimedBy}` };
  return ctx.observed.topics.get(topic)?.state === 'ready'
    ? { url: channelAddressOf(channel.object.metadata.namespace, channel.object.metadata.name, ctx.settings) }
    : { url: null, why: `its topic ${topic} is not ready` };
}

/** Topic settings: a KafkaChannel's own spec (with `retentionDuration` as `retention.ms`), else the controller's. */
export function channelTopicSpec(channel: AdmittedChannelable, settings: ReconcileSettings): TopicSpec {
  if (channel.topic === null) return { partitions: settings.topicPartitions, replicationFactor: settings.topicReplicationFactor };
  return { partitions: channel.topic.partitions, replicationFactor: channel.topic.replicationFactor, config: { 'retention.ms': String(channel.topic.retentionMs) } };
}

export function reconcileChannelable(channel: AdmittedChannelable, ctx: ChannelableContext): ChannelableOutcome {
  const { metadata } = channel.object;
  const topicName = channelTopicOf(channel);
  const conditions: c.Condition[] = [];

  // 1. The topic.
  let topic: DesiredTopic | null = null;
  const claimedBy = ctx.claims.get(topicName);
  const cluster = channelCluster(channel, ctx.configMaps, ctx.settings);
  if (claimedBy !== undefined && claimedBy !== channel.key) conditions.push(c.channelNameConflict(topicName, claimedBy));
  else if (!cluster.ok) conditions.push(c.topicConfigInvalid(cluster.message));
  else {
    topic = { name: topicName, owner: channel.key, external: false, spec: channelTopicSpec(channel, ctx.settings), ...(cluster.ref === undefined ? {} : { cluster: cluster.ref }) };
    const seen = ctx.observed.topics.get(topicName);
    switch (seen?.state) {
      case undefined:
        conditions.push(c.topicPending(topicName));
        break;
      case 'ready':
        conditions.push(c.channelTopicReady(topicName, seen.partitions, whereNote(channel, ctx.settings)));
        break;
      case 'missing':
        conditions.push(c.failedToCreateTopic(topicName, 'the topic is missing'));
        break;
      case 'failed':
        // Credentials (a missing Secret, refused by Kafka) have reasons of their own, as on a Broker.
        conditions.push(seen.code === undefined ? c.failedToCreateTopic(topicName, seen.error) : c.topicCondition(topic, ctx.observed));
        break;
      default: {
        const unreachable: never = seen;
        return unreachable;
      }
    }
  }
  const topicReady = topic !== null && ctx.observed.topics.get(topicName)?.state === 'ready';

  // 2. The dead-letter sink of its delivery settings (the default of its subscriptions).
  const { uri: deadLetter, ok: deadLetterOk, condition: deadLetterCondition } = resolveDeadLetterSink(channel.delivery?.deadLetterSink, ctx.addresses);
  conditions.push(deadLetterCondition);

  // 3. The data plane, and the address once the channel can take events.
  conditions.push(c.resourceDataPlaneCondition(ctx.observed, metadata.uid, ['ingress', 'dispatcher']));
  const serving = topicReady && deadLetterOk;
  conditions.push(c.addressableCondition(topicName, topicReady, deadLetterOk));

  const reference = { kind: channel.kind, namespace: metadata.namespace, name: metadata.name, uid: metadata.uid };
  const resource: Resource | null = serving
    ? {
        uid: metadata.uid,
        kind: channel.kind,
        reference,
        topics: [topicName],
        // Channels carry no hop limit (the ingress applies the TTL rule to brokers only).
        ingress: { path: channelPath(metadata.namespace, metadata.name), contentMode: 'binary' },
        egressConfig: channel.delivery === null ? null : egressConfig(channel.delivery, null, deadLetter, ctx.settings),
        egresses: [],
        ...(topic?.cluster === undefined ? {} : { cluster: topic.cluster }),
      }
    : null;
  const status: c.ObjectStatus = {
    observedGeneration: metadata.generation,
    conditions: c.withReady(c.CHANNELABLE_CONDITIONS, conditions),
    ...(serving ? { address: { url: channelAddressOf(metadata.namespace, metadata.name, ctx.settings) } } : {}),
    ...(deadLetter === null ? {} : { deadLetterSinkUri: deadLetter }),
  };
  return { key: channel.key, channel, topic, resource, status };
}

/** Where the topic lives, said when it is not what the kind suggests. */
function whereNote(channel: AdmittedChannelable, settings: ReconcileSettings): string {
  if (onKafka(settings)) return channel.kind === 'InMemoryChannel' ? 'this process runs on Kafka, so this InMemoryChannel is a Kafka topic and its events are durable' : '';
  return channel.kind === 'KafkaChannel' ? 'in the in-memory event log (dev mode): events do not survive a restart' : 'in the in-memory event log';
}

/** The channel's status with one entry per Subscription on it, in key order. */
export function withSubscribers(status: c.ObjectStatus, subscribers: readonly c.SubscriberStatus[]): c.ObjectStatus {
  return subscribers.length === 0 ? status : { ...status, subscribers };
}

// ---- Phases of the desired state (desired.ts) ----

/** The backing channels of one pass, once admitted. */
export interface BackingChannels {
  /** Admitted, in key order. */
  readonly admitted: readonly AdmittedChannelable[];
  /** Refused, with the status that says why. */
  readonly refused: ReadonlyMap<ObjectKey, c.ObjectStatus>;
  /** Channel topic -> the channel that claimed it first (by key order). */
  readonly claims: ReadonlyMap<string, ObjectKey>;
  /** What a destination referring to each admitted channel resolves to. */
  readonly entries: ReadonlyMap<ObjectKey, AddressEntry>;
}

/**
 * Admits the backing channels, the source's and the ones Channels generate (in key order), then
 * declares their addresses.
 */
export function admitChannelables(pass: Pass, objects: readonly KnObject[]): BackingChannels {
  const admitted: AdmittedChannelable[] = [];
  const refused = new Map<ObjectKey, c.ObjectStatus>();
  for (const raw of [...objects].sort((a, b) => compareKeys(keyOf(a), keyOf(b)))) {
    const admission = admitInto(pass, raw, admitChannelable, defaultChannelable, c.CHANNELABLE_CONDITIONS);
    if (admission.ok) admitted.push(admission.value);
    else refused.set(keyOf(raw), pass.statuses.get(keyOf(raw))!);
  }
  // A KafkaChannel and an InMemoryChannel of one name would share a topic and an address: the first by key order keeps them.
  const claims = new Map<string, ObjectKey>();
  for (const channel of admitted) if (!claims.has(channelTopicOf(channel))) claims.set(channelTopicOf(channel), channel.key);
  for (const kind of ['KafkaChannel', 'InMemoryChannel']) pass.addresses.addKind(MESSAGING_GROUP, kind);
  const entries = new Map<ObjectKey, AddressEntry>();
  for (const channel of admitted) {
    const entry = channelAddressEntry(channel, { observed: pass.observed, settings: pass.settings, claims });
    entries.set(channel.key, entry);
    pass.addresses.set(MESSAGING_GROUP, channel.kind, channel.object.metadata.namespace, channel.object.metadata.name, entry);
  }
  for (const key of refused.keys()) {
    const [kind, namespace, name] = key.split('/') as [string, string, string];
    pass.addresses.set(MESSAGING_GROUP, kind, namespace, name, { url: null, why: 'its spec was refused' });
  }
  return { admitted, refused, claims, entries };
}

/** Each admitted backing channel's topic, resource and status (without its subscribers). */
export function reconcileChannelables(pass: Pass, channels: BackingChannels, configMaps: ReadonlyMap<ObjectKey, KnObject>): Map<ObjectKey, ChannelableOutcome> {
  const outcomes = new Map<ObjectKey, ChannelableOutcome>();
  for (const channel of channels.admitted) {
    const outcome = reconcileChannelable(channel, { configMaps, observed: pass.observed, settings: pass.settings, addresses: pass.addresses, claims: channels.claims });
    outcomes.set(channel.key, outcome);
    pass.statuses.set(channel.key, outcome.status);
    if (outcome.topic !== null) pass.topics.push(outcome.topic);
  }
  return outcomes;
}

/** Once the subscriptions are reconciled: each channel lists its subscribers. */
export function listSubscribers(pass: Pass, outcomes: ReadonlyMap<ObjectKey, ChannelableOutcome>, subscribers: ReadonlyMap<ObjectKey, readonly c.SubscriberStatus[]>): void {
  for (const [key, outcome] of outcomes) pass.statuses.set(key, withSubscribers(outcome.status, subscribers.get(key) ?? []));
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
