import { isDeepStrictEqual } from 'node:util';
import type { Filter } from '../core/filters/types.js';
import type { BackoffPolicy, ContentMode, DeliveryOrder } from '../core/contract/types.js';
import { parseDuration } from './durations.js';
import {
  apiGroup, BROKER_CLASS_ANNOTATION, DELIVERY_ORDER_ANNOTATION, EXTERNAL_TOPIC_ANNOTATION, keyOf, MESSAGING_GROUP, MESSAGING_V1,
  SUBSCRIBABLE_DUCK_ANNOTATION, type KnObject, type ObjectKey,
} from './resources.js';
import { triggerFilter } from './trigger-filter.js';

/**
 * Admission: what Knative's webhook does before an object is stored — apply defaults, validate,
 * refuse changes to immutable fields — done here because a folder of manifests has no webhook.
 * Pure: an object (and the last version admitted under the same key) in, a typed object or the
 * field errors out. With the Kubernetes API as the source these checks have already passed; they
 * then cost a little and change nothing.
 */

/** One problem with one field, worded like Knative's `apis.FieldError`. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export const formatFieldErrors = (errors: readonly FieldError[]): string =>
  errors.map((e) => (e.path === '' ? e.message : `${e.message}: ${e.path}`)).join('; ');

/** A reference to another object (Knative `KReference`); the namespace is defaulted. */
export interface KReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
}

/** Knative `duckv1.Destination`: a reference, a URI, or a reference plus a relative URI. */
export interface Destination {
  readonly ref: KReference | null;
  readonly uri: string | null;
}

/** Knative `DeliverySpec`, checked and with its durations in milliseconds; null = not given. */
export interface Delivery {
  readonly deadLetterSink: Destination | null;
  readonly retry: number | null;
  readonly backoffPolicy: BackoffPolicy | null;
  readonly backoffDelayMs: number | null;
  readonly timeoutMs: number | null;
  readonly retryAfterMaxMs: number | null;
  readonly format: 'json' | 'binary' | null;
}

export interface AdmittedBroker {
  readonly key: ObjectKey;
  /** The object with its defaults applied, as `get` shows it. */
  readonly object: KnObject;
  readonly brokerClass: string;
  readonly config: KReference | null;
  readonly delivery: Delivery | null;
  readonly externalTopic: string | null;
}

export interface AdmittedTrigger {
  readonly key: ObjectKey;
  readonly object: KnObject;
  readonly broker: string;
  readonly filter: Filter | null;
  readonly subscriber: Destination;
  readonly delivery: Delivery | null;
  readonly deliveryOrder: DeliveryOrder;
  /** Problems that do not stop the trigger (e.g. `spec.filter` ignored because `spec.filters` is set). */
  readonly warnings: readonly FieldError[];
}

export type Admission<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly FieldError[]; readonly reason: 'ValidationFailed' | 'ImmutableFieldChanged' };

export interface AdmissionDefaults {
  /** Knative `config-br-defaults` `brokerClass`: the class of a Broker without the annotation. */
  readonly brokerClass: string;
  /** Knative `config-br-defaults` `delivery`: a Broker's `spec.delivery` when it has none. */
  readonly brokerDelivery: Readonly<Record<string, unknown>>;
  /**
   * Knative `default-ch-webhook` `clusterDefault`: the `spec.channelTemplate` of a Channel without
   * one. Absent, it follows the event log (see `defaultChannelTemplate` in reconcile-channel.ts).
   */
  readonly channelTemplate?: ChannelTemplate;
}

/** A Channel's `spec.channelTemplate`: the kind of its backing channel and that channel's spec. */
export interface ChannelTemplate {
  readonly apiVersion: string;
  readonly kind: string;
  readonly spec?: Readonly<Record<string, unknown>>;
}

/** The backing kinds this controller serves; a Channel templated on another kind is left to its controller. */
export type ChannelableKind = 'KafkaChannel' | 'InMemoryChannel';
export const isChannelableKind = (kind: string): kind is ChannelableKind => kind === 'KafkaChannel' || kind === 'InMemoryChannel';

/** messaging.knative.dev/v1 Channel: a factory for its backing channel (same name, the template's kind). */
export interface AdmittedChannel {
  readonly key: ObjectKey;
  readonly object: KnObject;
  readonly template: ChannelTemplate;
  /** `spec.delivery` as written (checked), copied into the backing channel's spec; null when absent. */
  readonly rawDelivery: unknown;
}

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

export interface AdmittedSubscription {
  readonly key: ObjectKey;
  readonly object: KnObject;
  /** `spec.channel`, its namespace defaulted to the Subscription's. */
  readonly channel: KReference;
  readonly subscriber: Destination;
  readonly reply: Destination | null;
  readonly delivery: Delivery | null;
  readonly deliveryOrder: DeliveryOrder;
}

// ---- Broker ----

const BROKER_SPEC_FIELDS = ['config', 'delivery'] as const;

export function defaultBroker(object: KnObject, defaults: AdmissionDefaults): KnObject {
  const spec = isRecord(object.spec) ? object.spec : object.spec === undefined || object.spec === null ? {} : object.spec;
  const annotations = object.metadata.annotations[BROKER_CLASS_ANNOTATION] === undefined
    ? { ...object.metadata.annotations, [BROKER_CLASS_ANNOTATION]: defaults.brokerClass }
    : object.metadata.annotations;
  const defaultedSpec = isRecord(spec) && spec['delivery'] === undefined ? { ...spec, delivery: { ...defaults.brokerDelivery } } : spec;
  return { ...object, metadata: { ...object.metadata, annotations }, spec: defaultedSpec };
}

export function admitBroker(raw: KnObject, previous: KnObject | undefined, defaults: AdmissionDefaults): Admission<AdmittedBroker> {
  const object = defaultBroker(raw, defaults);
  const errors: FieldError[] = [];
  const brokerClass = object.metadata.annotations[BROKER_CLASS_ANNOTATION]!;
  if (previous !== undefined) {
    const before = previous.metadata.annotations[BROKER_CLASS_ANNOTATION];
    if (before !== undefined && before !== brokerClass) {
      return {
        ok: false,
        reason: 'ImmutableFieldChanged',
        errors: [{ path: `metadata.annotations[${BROKER_CLASS_ANNOTATION}]`, message: `Immutable field changed (was "${before}", now "${brokerClass}")` }],
      };
    }
  }
  if (!isRecord(object.spec)) return invalid([{ path: 'spec', message: 'expected an object' }]);
  const spec = object.spec;
  errors.push(...unknownFields(spec, BROKER_SPEC_FIELDS, 'spec'));
  let config: KReference | null = null;
  if (spec['config'] !== undefined && spec['config'] !== null) {
    const ref = kReference(spec['config'], 'spec.config', object.metadata.namespace, errors, true);
    if (ref !== null && !(ref.kind === 'ConfigMap' && ref.apiVersion === 'v1')) {
      errors.push({ path: 'spec.config', message: `invalid value: ${ref.apiVersion} ${ref.kind} (a Kafka broker's config is a v1 ConfigMap)` });
    } else config = ref;
  }
  const delivery = spec['delivery'] === undefined || spec['delivery'] === null ? null : deliverySpec(spec['delivery'], 'spec.delivery', object.metadata.namespace, errors);
  let externalTopic: string | null = null;
  const external = object.metadata.annotations[EXTERNAL_TOPIC_ANNOTATION];
  if (external !== undefined) {
    // Kafka topic names: up to 249 of [a-zA-Z0-9._-], not "." or "..".
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(external) || external === '.' || external === '..') {
      errors.push({ path: `metadata.annotations[${EXTERNAL_TOPIC_ANNOTATION}]`, message: `invalid value: "${external}" is not a Kafka topic name` });
    } else externalTopic = external;
  }
  if (errors.length > 0) return invalid(errors);
  return { ok: true, value: { key: keyOf(object), object, brokerClass, config, delivery, externalTopic } };
}

// ---- Trigger ----

const TRIGGER_SPEC_FIELDS = ['broker', 'filter', 'filters', 'subscriber', 'delivery'] as const;

export function defaultTrigger(object: KnObject): KnObject {
  // Knative defaults a missing filter to an empty one (match everything); we keep it absent,
  // which means the same and keeps `get -o yaml` close to what was written.
  if (object.spec === undefined || !isRecord(object.spec)) return object;
  const broker = object.spec['broker'];
  if (typeof broker !== 'string' || broker === '' || object.metadata.labels['eventing.knative.dev/broker'] === broker) return object;
  return { ...object, metadata: { ...object.metadata, labels: { ...object.metadata.labels, 'eventing.knative.dev/broker': broker } } };
}

export function admitTrigger(raw: KnObject, previous: KnObject | undefined): Admission<AdmittedTrigger> {
  const object = defaultTrigger(raw);
  const namespace = object.metadata.namespace;
  if (!isRecord(object.spec)) return invalid([{ path: 'spec', message: object.spec === undefined ? 'missing field(s)' : 'expected an object' }]);
  const spec = object.spec;
  const errors: FieldError[] = [...unknownFields(spec, TRIGGER_SPEC_FIELDS, 'spec')];
  const broker = spec['broker'];
  if (typeof broker !== 'string' || broker === '') {
    errors.push(broker === undefined || broker === '' ? { path: 'spec.broker', message: 'missing field(s)' } : { path: 'spec.broker', message: 'expected a string' });
  } else if (previous !== undefined && isRecord(previous.spec) && typeof previous.spec['broker'] === 'string' && previous.spec['broker'] !== broker) {
    // Knative: a trigger's broker is immutable (it owns a consumer group on that broker's topic).
    return {
      ok: false,
      reason: 'ImmutableFieldChanged',
      errors: [{ path: 'spec.broker', message: `Immutable field changed (was "${previous.spec['broker']}", now "${broker}"); delete the trigger and create it again to move it` }],
    };
  }
  const filter = triggerFilter(spec);
  if (!filter.ok) errors.push(...filter.errors);
  let subscriber: Destination | null = null;
  if (spec['subscriber'] === undefined) errors.push({ path: 'spec.subscriber', message: 'missing field(s)' });
  else subscriber = destination(spec['subscriber'], 'spec.subscriber', namespace, errors);
  const delivery = spec['delivery'] === undefined || spec['delivery'] === null ? null : deliverySpec(spec['delivery'], 'spec.delivery', namespace, errors);
  const deliveryOrder = deliveryOrderOf(object, errors);
  if (errors.length > 0 || subscriber === null || !filter.ok || typeof broker !== 'string') return invalid(errors);
  return { ok: true, value: { key: keyOf(object), object, broker, filter: filter.filter, subscriber, delivery, deliveryOrder, warnings: filter.warnings } };
}

// ---- KafkaSink ----

export interface AdmittedSink {
  readonly key: ObjectKey;
  readonly object: KnObject;
  readonly topic: string;
  /** Both set: the controller creates (and owns) the topic; otherwise it must exist (Knative Kafka). */
  readonly numPartitions: number | null;
  readonly replicationFactor: number | null;
  readonly bootstrapServers: readonly string[];
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
  if (!isRecord(object.spec)) return invalid([{ path: 'spec', message: object.spec === undefined ? 'missing field(s)' : 'expected an object' }]);
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
  if (spec['auth'] !== undefined && spec['auth'] !== null) {
    if (!isRecord(spec['auth'])) errors.push({ path: 'spec.auth', message: 'expected an object' });
    else warnings.push({ path: 'spec.auth', message: "ignored: the sink writes through this broker's own Kafka connection and credentials" });
  }
  if (errors.length > 0 || typeof topic !== 'string' || (mode !== 'binary' && mode !== 'structured')) return invalid(errors);
  return {
    ok: true,
    value: { key: keyOf(object), object, topic, numPartitions, replicationFactor, bootstrapServers: servers as string[], contentMode: mode, warnings },
  };
}

/** Kafka topic names: up to 249 of [a-zA-Z0-9._-], not "." or "..". */
function isTopicName(name: string): boolean {
  return /^[a-zA-Z0-9._-]{1,249}$/.test(name) && name !== '.' && name !== '..';
}

// ---- Channel (messaging.knative.dev/v1) ----

const CHANNEL_SPEC_FIELDS = ['channelTemplate', 'delivery', 'subscribers'] as const;
const TEMPLATE_FIELDS = ['apiVersion', 'kind', 'spec'] as const;

/** Knative's Channel defaulter: the subscribable duck annotation, and the default channel template. */
export function defaultChannel(object: KnObject, template: ChannelTemplate): KnObject {
  const annotated = withSubscribableAnnotation(object);
  const spec = object.spec === undefined || object.spec === null ? {} : object.spec;
  if (!isRecord(spec) || spec['channelTemplate'] !== undefined) return spec === object.spec ? annotated : { ...annotated, spec };
  return { ...annotated, spec: { channelTemplate: structuredClone(template), ...spec } };
}

/** Knative's `Channel.Validate`: a template naming a kind, no subscribers, a valid delivery; the spec is immutable. */
export function admitChannel(raw: KnObject, previous: KnObject | undefined, template: ChannelTemplate): Admission<AdmittedChannel> {
  const object = defaultChannel(raw, template);
  if (!isRecord(object.spec)) return invalid([{ path: 'spec', message: 'expected an object' }]);
  const spec = object.spec;
  // Knative: a Channel's spec never changes; its backing channel was created from it.
  if (previous !== undefined && !isDeepStrictEqual(specWithout(previous.spec, 'subscribers'), specWithout(spec, 'subscribers'))) {
    return {
      ok: false,
      reason: 'ImmutableFieldChanged',
      errors: [{ path: 'spec', message: "Immutable fields changed: a Channel's channelTemplate and delivery are fixed at creation; delete the Channel and create it again" }],
    };
  }
  const errors: FieldError[] = [...unknownFields(spec, CHANNEL_SPEC_FIELDS, 'spec')];
  let checked: ChannelTemplate | null = null;
  const t = spec['channelTemplate'];
  if (!isRecord(t)) errors.push({ path: 'spec.channelTemplate', message: t === null ? 'missing field(s)' : 'expected an object' });
  else {
    errors.push(...unknownFields(t, TEMPLATE_FIELDS, 'spec.channelTemplate'));
    const missing = (['apiVersion', 'kind'] as const).filter((f) => typeof t[f] !== 'string' || t[f] === '');
    if (missing.length > 0) errors.push({ path: missing.map((f) => `spec.channelTemplate.${f}`).join(', '), message: 'missing field(s)' });
    const templateSpec = t['spec'];
    if (templateSpec !== undefined && templateSpec !== null && !isRecord(templateSpec)) errors.push({ path: 'spec.channelTemplate.spec', message: 'expected an object' });
    if (missing.length === 0) checked = { apiVersion: t['apiVersion'] as string, kind: t['kind'] as string, ...(isRecord(templateSpec) ? { spec: templateSpec } : {}) };
  }
  // Knative: subscribers are added to the backing channel by Subscriptions, never written on a Channel.
  if (Array.isArray(spec['subscribers']) && spec['subscribers'].length > 0) errors.push({ path: 'spec.subscribers', message: 'must not set the field(s): create Subscriptions instead' });
  const rawDelivery = spec['delivery'] ?? null;
  if (rawDelivery !== null) deliverySpec(rawDelivery, 'spec.delivery', object.metadata.namespace, errors);
  if (errors.length > 0 || checked === null) return invalid(errors);
  return { ok: true, value: { key: keyOf(object), object, template: checked, rawDelivery } };
}

// ---- KafkaChannel (messaging.knative.dev/v1beta1) and InMemoryChannel (messaging.knative.dev/v1) ----

/** eventing-kafka-broker's KafkaChannel defaults (KafkaChannelSpec.SetDefaults). */
export const KAFKA_CHANNEL_DEFAULTS = { numPartitions: 1, replicationFactor: 1, retentionDuration: 'PT168H' } as const;
const KAFKA_CHANNEL_SPEC_FIELDS = ['numPartitions', 'replicationFactor', 'retentionDuration', 'delivery', 'subscribers'] as const;
const IN_MEMORY_CHANNEL_SPEC_FIELDS = ['delivery', 'subscribers'] as const;
/** Fixed once the topic exists (eventing-kafka-broker's KafkaChannel.CheckImmutableFields). */
const KAFKA_CHANNEL_IMMUTABLE = ['numPartitions', 'replicationFactor', 'retentionDuration'] as const;

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
  const delivery = spec['delivery'] === undefined || spec['delivery'] === null ? null : deliverySpec(spec['delivery'], 'spec.delivery', object.metadata.namespace, errors);
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

// ---- Subscription (messaging.knative.dev/v1) ----

const SUBSCRIPTION_SPEC_FIELDS = ['channel', 'subscriber', 'reply', 'delivery'] as const;

/** Knative's `Subscription.Validate`: a channel and a subscriber are required; spec.channel never changes. */
export function admitSubscription(object: KnObject, previous: KnObject | undefined): Admission<AdmittedSubscription> {
  const namespace = object.metadata.namespace;
  if (!isRecord(object.spec)) return invalid([{ path: 'spec', message: object.spec === undefined ? 'missing field(s)' : 'expected an object' }]);
  const spec = object.spec;
  const before = previous !== undefined && isRecord(previous.spec) && isRecord(previous.spec['channel']) ? previous.spec['channel'] : undefined;
  const now = spec['channel'];
  if (before !== undefined && isRecord(now)) {
    // The subscription's consumer group and its position live on that channel's topic.
    const same = before['kind'] === now['kind'] && before['name'] === now['name']
      && apiGroup(String(before['apiVersion'])) === apiGroup(String(now['apiVersion']))
      && (before['namespace'] || namespace) === (now['namespace'] || namespace);
    if (!same) {
      return {
        ok: false,
        reason: 'ImmutableFieldChanged',
        errors: [{ path: 'spec.channel', message: `Immutable field changed (was ${String(before['kind'])} "${String(before['name'])}", now ${String(now['kind'])} "${String(now['name'])}"); delete the Subscription and create it again to move it` }],
      };
    }
  }
  const errors: FieldError[] = [...unknownFields(spec, SUBSCRIPTION_SPEC_FIELDS, 'spec')];
  let channel: KReference | null = null;
  if (now === undefined || now === null) errors.push({ path: 'spec.channel', message: 'missing field(s): the Subscription must reference a channel' });
  else {
    channel = kReference(now, 'spec.channel', namespace, errors, false);
    if (channel !== null && apiGroup(channel.apiVersion) !== MESSAGING_GROUP) {
      errors.push({ path: 'spec.channel.apiVersion', message: `invalid value: ${channel.apiVersion} (a channel of ${MESSAGING_GROUP})` });
    }
  }
  let subscriber: Destination | null = null;
  if (spec['subscriber'] === undefined || spec['subscriber'] === null) errors.push({ path: 'spec.subscriber', message: 'missing field(s): the Subscription must reference a subscriber' });
  else subscriber = destination(spec['subscriber'], 'spec.subscriber', namespace, errors);
  const reply = spec['reply'] === undefined || spec['reply'] === null ? null : destination(spec['reply'], 'spec.reply', namespace, errors);
  const delivery = spec['delivery'] === undefined || spec['delivery'] === null ? null : deliverySpec(spec['delivery'], 'spec.delivery', namespace, errors);
  const deliveryOrder = deliveryOrderOf(object, errors);
  if (errors.length > 0 || channel === null || subscriber === null) return invalid(errors);
  return { ok: true, value: { key: keyOf(object), object, channel, subscriber, reply, delivery, deliveryOrder } };
}

export const IN_MEMORY_CHANNEL_TEMPLATE: ChannelTemplate = { apiVersion: MESSAGING_V1, kind: 'InMemoryChannel' };

function withSubscribableAnnotation(object: KnObject): KnObject {
  if (object.metadata.annotations[SUBSCRIBABLE_DUCK_ANNOTATION] !== undefined) return object;
  return { ...object, metadata: { ...object.metadata, annotations: { ...object.metadata.annotations, [SUBSCRIBABLE_DUCK_ANNOTATION]: 'v1' } } };
}

function specWithout(spec: unknown, field: string): unknown {
  if (!isRecord(spec)) return spec;
  const { [field]: _dropped, ...rest } = spec;
  return rest;
}

/** Knative Kafka's `kafka.eventing.knative.dev/delivery.order` annotation: unordered unless it says ordered. */
function deliveryOrderOf(object: KnObject, errors: FieldError[]): DeliveryOrder {
  const order = object.metadata.annotations[DELIVERY_ORDER_ANNOTATION];
  if (order === undefined || order === 'unordered') return 'unordered';
  if (order === 'ordered') return 'ordered';
  errors.push({ path: `metadata.annotations[${DELIVERY_ORDER_ANNOTATION}]`, message: `invalid value: "${order}" (expected ordered or unordered)` });
  return 'unordered';
}

// ---- shared pieces: DeliverySpec, Destination, KReference ----

const DELIVERY_FIELDS = ['deadLetterSink', 'retry', 'backoffPolicy', 'backoffDelay', 'timeout', 'retryAfterMax', 'format'] as const;

/** Knative `DeliverySpec.Validate` (eventing pkg/apis/duck/v1/delivery_types.go). */
export function deliverySpec(value: unknown, path: string, namespace: string, errors: FieldError[]): Delivery | null {
  if (!isRecord(value)) {
    errors.push({ path, message: 'expected an object' });
    return null;
  }
  const before = errors.length;
  errors.push(...unknownFields(value, DELIVERY_FIELDS, path));
  const deadLetterSink = value['deadLetterSink'] === undefined || value['deadLetterSink'] === null
    ? null
    : destination(value['deadLetterSink'], `${path}.deadLetterSink`, namespace, errors);
  let retry: number | null = null;
  if (value['retry'] !== undefined && value['retry'] !== null) {
    const r = value['retry'];
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r > 2 ** 31 - 1) errors.push({ path: `${path}.retry`, message: `invalid value: ${JSON.stringify(r)} (a whole number >= 0)` });
    else retry = r;
  }
  let backoffPolicy: BackoffPolicy | null = null;
  if (value['backoffPolicy'] !== undefined && value['backoffPolicy'] !== null) {
    const p = value['backoffPolicy'];
    if (p === 'linear' || p === 'exponential') backoffPolicy = p;
    else errors.push({ path: `${path}.backoffPolicy`, message: `invalid value: ${JSON.stringify(p)} (linear or exponential)` });
  }
  const backoffDelayMs = duration(value['backoffDelay'], `${path}.backoffDelay`, errors, { allowZero: true });
  // Knative: a timeout must be greater than zero; retryAfterMax may be zero (opts out of Retry-After).
  const timeoutMs = duration(value['timeout'], `${path}.timeout`, errors, { allowZero: false });
  const retryAfterMaxMs = duration(value['retryAfterMax'], `${path}.retryAfterMax`, errors, { allowZero: true });
  let format: 'json' | 'binary' | null = null;
  if (value['format'] !== undefined && value['format'] !== null) {
    const f = value['format'];
    if (f === 'json' || f === 'binary') format = f;
    else errors.push({ path: `${path}.format`, message: `invalid value: ${JSON.stringify(f)} (json or binary)` });
  }
  if (errors.length > before) return null;
  return { deadLetterSink, retry, backoffPolicy, backoffDelayMs, timeoutMs, retryAfterMaxMs, format };
}

function duration(value: unknown, path: string, errors: FieldError[], { allowZero }: { allowZero: boolean }): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') {
    errors.push({ path, message: `invalid value: ${JSON.stringify(value)} (an ISO 8601 duration such as PT0.5S)` });
    return null;
  }
  const parsed = parseDuration(value);
  if (!parsed.ok) {
    errors.push({ path, message: `invalid value: ${parsed.message}` });
    return null;
  }
  if (parsed.ms < 0 || (!allowZero && parsed.ms === 0)) {
    errors.push({ path, message: `invalid value: "${value}" (must be ${allowZero ? 'zero or more' : 'greater than zero'})` });
    return null;
  }
  return parsed.ms;
}

const DESTINATION_FIELDS = ['ref', 'uri', 'CACerts', 'audience'] as const;

/** Knative `duckv1.Destination.Validate`: exactly a ref, an absolute URI, or a ref plus a relative URI. */
export function destination(value: unknown, path: string, namespace: string, errors: FieldError[]): Destination | null {
  if (!isRecord(value)) {
    errors.push({ path, message: 'expected an object' });
    return null;
  }
  const before = errors.length;
  errors.push(...unknownFields(value, DESTINATION_FIELDS, path));
  const hasRef = value['ref'] !== undefined && value['ref'] !== null;
  const hasUri = value['uri'] !== undefined && value['uri'] !== null && value['uri'] !== '';
  if (!hasRef && !hasUri) {
    errors.push({ path, message: 'expected exactly one, got neither: ref, uri' });
    return null;
  }
  const ref = hasRef ? kReference(value['ref'], `${path}.ref`, namespace, errors, false) : null;
  let uri: string | null = null;
  if (hasUri) {
    const u = value['uri'];
    if (typeof u !== 'string') errors.push({ path: `${path}.uri`, message: 'expected a string' });
    else if (hasRef) {
      // With a ref, the URI is a path (and query) relative to the ref's address.
      if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(u)) errors.push({ path: `${path}.uri`, message: `invalid value: "${u}" (with a ref, the uri must be relative)` });
      else uri = u;
    } else if (!isHttpUrl(u)) {
      errors.push({ path: `${path}.uri`, message: `invalid value: "${u}" (an absolute http or https URL)` });
    } else uri = u;
  }
  if (errors.length > before) return null;
  return { ref, uri };
}

const REFERENCE_FIELDS = ['apiVersion', 'kind', 'name', 'namespace', 'group', 'address'] as const;

function kReference(value: unknown, path: string, namespace: string, errors: FieldError[], allowOtherNamespace: boolean): KReference | null {
  if (!isRecord(value)) {
    errors.push({ path, message: 'expected an object' });
    return null;
  }
  const before = errors.length;
  errors.push(...unknownFields(value, REFERENCE_FIELDS, path));
  const missing = (['apiVersion', 'kind', 'name'] as const).filter((f) => typeof value[f] !== 'string' || value[f] === '');
  if (missing.length > 0) errors.push({ path: missing.map((f) => `${path}.${f}`).join(', '), message: 'missing field(s)' });
  const ns = value['namespace'];
  if (ns !== undefined && typeof ns !== 'string') errors.push({ path: `${path}.namespace`, message: 'expected a string' });
  // Knative allows a destination in another namespace only with the cross-namespace feature on.
  if (!allowOtherNamespace && typeof ns === 'string' && ns !== '' && ns !== namespace) {
    errors.push({ path: `${path}.namespace`, message: `mismatched namespaces: "${ns}" (references stay in namespace "${namespace}")` });
  }
  if (errors.length > before) return null;
  return {
    apiVersion: value['apiVersion'] as string,
    kind: value['kind'] as string,
    name: value['name'] as string,
    namespace: typeof ns === 'string' && ns !== '' ? ns : namespace,
  };
}

// ---- helpers ----

function invalid(errors: readonly FieldError[]): Admission<never> {
  return { ok: false, reason: 'ValidationFailed', errors };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Like `kubectl apply --validate=strict`: a misspelt field is an error, not silently ignored. */
function unknownFields(value: Record<string, unknown>, known: readonly string[], path: string): FieldError[] {
  return Object.keys(value)
    .filter((k) => !known.includes(k))
    .map((k) => ({ path: `${path}.${k}`, message: 'unknown field' }));
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '';
  } catch {
    return false;
  }
}
