import type { AttributeOverride, DeliveryOrder, Egress, KeyType, Resource } from '../../core/contract/types.js';
import { ATTRIBUTE_NAME } from '../../core/cloudevents/event.js';
import type { StartPosition } from '../../core/event-log/port.js';
import * as c from '../conditions.js';
import { apiGroup, keyOf, type KnObject, type ObjectKey } from '../resources.js';
import type { DesiredGroup, DesiredTopic } from '../state.js';
import { formatFieldErrors, invalid, isRecord, specNotAnObject, unknownFields, type Admission, type FieldError } from './admission.js';
import { destination, egressConfig, optionalDelivery, resolveDeadLetterSink, type Delivery, type Destination } from './delivery.js';
import { sameCluster } from './kafka-sink.js';
import { admitInto, type Pass } from './pass.js';

/**
 * KafkaSource (Knative Kafka, `sources.knative.dev/v1beta1`, v1 served alike), pure: admission,
 * then its topics (never created: they are someone else's and must exist), its consumer group,
 * its contract resource (no ingress; one egress that converts records into CloudEvents) and its status.
 *
 *   cluster named by spec.bootstrapServers is ours? -> topics exist (observed)? -> sink and
 *   dead-letter sink resolved? -> consumer group positioned at spec.initialOffset (observed)?
 *   -> resource in the contract -> Ready
 *
 * The consumer group is `spec.consumerGroup`, else Knative's default `knative-kafka-source-<id>`.
 * Knative generates the id once, when the object is created (a UUID stored by its defaulting
 * webhook); the object's uid plays that part here: stable while the source lives, new when it is
 * deleted and created again. Knative deletes a source's consumer group with the source (its
 * ConsumerGroup finalizer), so a re-created source starts at `spec.initialOffset` again, even with
 * the same `spec.consumerGroup`; so does this (the group is obsolete once its owner is gone).
 */

export const SOURCES_GROUP = 'sources.knative.dev';
export const KEY_TYPE_LABEL = 'kafkasources.sources.knative.dev/key-type';
const KEY_TYPES: readonly KeyType[] = ['string', 'int', 'float', 'byte-array'];

/** Knative's KafkaSource condition set (less OIDCIdentityCreated), plus the dead-letter sink, root cause first. */
export const SOURCE_CONDITIONS = ['ConnectionEstablished', 'SinkProvided', 'DeadLetterSinkResolved', 'InitialOffsetsCommitted', 'Deployed'] as const;

export const isKafkaSource = (object: KnObject): boolean => object.kind === 'KafkaSource' && apiGroup(object.apiVersion) === SOURCES_GROUP;

export const defaultSourceGroup = (uid: string): string => `knative-kafka-source-${uid}`;

// ---- Admission ----

export interface AdmittedSource {
  readonly key: ObjectKey;
  readonly object: KnObject;
  readonly topics: readonly string[];
  readonly consumerGroup: string;
  readonly bootstrapServers: readonly string[];
  readonly initialOffset: StartPosition;
  readonly sink: Destination;
  readonly delivery: Delivery | null;
  readonly ordering: DeliveryOrder;
  readonly overrides: readonly AttributeOverride[];
  readonly keyType: KeyType;
  readonly warnings: readonly FieldError[];
}

const SOURCE_SPEC_FIELDS = ['topics', 'consumerGroup', 'bootstrapServers', 'initialOffset', 'sink', 'delivery', 'ordering', 'ceOverrides', 'net', 'consumers'] as const;

/** Knative's `KafkaSource.SetDefaults`: consumer group, one consumer, latest, ordered. */
export function defaultSource(object: KnObject): KnObject {
  if (!isRecord(object.spec)) return object;
  const spec = object.spec;
  const defaults: Record<string, unknown> = {};
  if (spec['consumerGroup'] === undefined || spec['consumerGroup'] === '') defaults['consumerGroup'] = defaultSourceGroup(object.metadata.uid);
  if (spec['consumers'] === undefined || spec['consumers'] === null) defaults['consumers'] = 1;
  if (spec['initialOffset'] === undefined || spec['initialOffset'] === '') defaults['initialOffset'] = 'latest';
  if (spec['ordering'] === undefined || spec['ordering'] === null) defaults['ordering'] = 'ordered';
  return Object.keys(defaults).length === 0 ? object : { ...object, spec: { ...spec, ...defaults } };
}

/** Knative's `KafkaSource.Validate`, plus the CRD's required fields and enums. */
export function admitSource(raw: KnObject): Admission<AdmittedSource> {
  const object = defaultSource(raw);
  if (!isRecord(object.spec)) return specNotAnObject(object.spec);
  const spec = object.spec;
  const namespace = object.metadata.namespace;
  const errors: FieldError[] = [...unknownFields(spec, SOURCE_SPEC_FIELDS, 'spec')];
  const warnings: FieldError[] = [];

  const topics = stringList(spec['topics'], 'spec.topics', errors);
  for (const topic of topics ?? []) if (!isTopicName(topic)) errors.push({ path: 'spec.topics', message: `invalid value: ${JSON.stringify(topic)} (a Kafka topic name: up to 249 of a-z A-Z 0-9 . _ -)` });
  const servers = stringList(spec['bootstrapServers'], 'spec.bootstrapServers', errors);
  const group = spec['consumerGroup'];
  if (typeof group !== 'string' || group === '') errors.push({ path: 'spec.consumerGroup', message: 'expected a non-empty string' });
  const offset = spec['initialOffset'];
  if (offset !== 'earliest' && offset !== 'latest') errors.push({ path: 'spec.initialOffset', message: `invalid value: ${JSON.stringify(offset)} (earliest or latest)` });
  const ordering = spec['ordering'];
  if (ordering !== 'ordered' && ordering !== 'unordered') errors.push({ path: 'spec.ordering', message: `invalid value: ${JSON.stringify(ordering)} (ordered or unordered)` });
  const consumers = spec['consumers'];
  if (typeof consumers !== 'number' || !Number.isInteger(consumers) || consumers < 1 || consumers > 2 ** 31 - 1) {
    errors.push({ path: 'spec.consumers', message: `invalid value: ${JSON.stringify(consumers)} (a whole number > 0)` });
  } else if (consumers > 1) {
    warnings.push({ path: 'spec.consumers', message: 'each dispatcher runs one consumer per source; scale the dispatchers instead' });
  }
  let sink: Destination | null = null;
  if (spec['sink'] === undefined || spec['sink'] === null) errors.push({ path: 'spec.sink', message: 'missing field(s)' });
  else sink = destination(spec['sink'], 'spec.sink', namespace, errors);
  const delivery = optionalDelivery(spec['delivery'], 'spec.delivery', namespace, errors);
  const overrides = ceOverrides(spec['ceOverrides'], errors);
  if (spec['net'] !== undefined && spec['net'] !== null) {
    if (!isRecord(spec['net'])) errors.push({ path: 'spec.net', message: 'expected an object' });
    else warnings.push({ path: 'spec.net', message: "ignored: the source reads through this broker's own Kafka connection and credentials" });
  }
  const label = object.metadata.labels[KEY_TYPE_LABEL];
  const keyType = label === undefined ? 'string' : KEY_TYPES.find((k) => k === label);
  if (keyType === undefined) errors.push({ path: `metadata.labels[${KEY_TYPE_LABEL}]`, message: `invalid value: ${JSON.stringify(label)} (one of ${KEY_TYPES.join(', ')})` });

  if (errors.length > 0 || topics === null || servers === null || sink === null || keyType === undefined) return invalid(errors);
  return {
    ok: true,
    value: {
      key: keyOf(object), object, topics, consumerGroup: group as string, bootstrapServers: servers, initialOffset: offset as StartPosition,
      sink, delivery, ordering: ordering as DeliveryOrder, overrides, keyType, warnings,
    },
  };
}

function stringList(value: unknown, path: string, errors: FieldError[]): string[] | null {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) {
    errors.push({ path, message: 'missing field(s)' });
    return null;
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) {
    errors.push({ path, message: 'invalid value: expected a list of non-empty strings' });
    return null;
  }
  // Knative lets a comma-separated entry stand for several (e.g. bootstrapServers: ["a:9092,b:9092"]).
  return [...new Set((value as string[]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== ''))];
}

/** Knative `duckv1.CloudEventOverrides`: `{ extensions: { name: value } }`, names as CloudEvents allows. */
function ceOverrides(value: unknown, errors: FieldError[]): AttributeOverride[] {
  if (value === undefined || value === null) return [];
  if (!isRecord(value)) {
    errors.push({ path: 'spec.ceOverrides', message: 'expected an object' });
    return [];
  }
  errors.push(...unknownFields(value, ['extensions'], 'spec.ceOverrides'));
  const extensions = value['extensions'];
  if (extensions === undefined || extensions === null) return [];
  if (!isRecord(extensions)) {
    errors.push({ path: 'spec.ceOverrides.extensions', message: 'expected an object' });
    return [];
  }
  const out: AttributeOverride[] = [];
  for (const name of Object.keys(extensions)) {
    const v = extensions[name];
    const path = `spec.ceOverrides.extensions.${name}`;
    if (!ATTRIBUTE_NAME.test(name)) errors.push({ path, message: 'invalid key name: extension names are lower-case letters and digits' });
    else if (['specversion', 'id', 'source', 'type'].includes(name)) errors.push({ path, message: `invalid key name: ${name} is a required attribute, not an extension` });
    else if (typeof v !== 'string') errors.push({ path, message: 'expected a string' });
    else out.push({ name, value: v });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function isTopicName(name: string): boolean {
  return /^[a-zA-Z0-9._-]{1,249}$/.test(name) && name !== '.' && name !== '..';
}

// ---- One source ----

export interface SourceOutcome {
  readonly key: ObjectKey;
  readonly topics: readonly DesiredTopic[];
  readonly group: DesiredGroup | null;
  readonly resource: Resource | null;
  readonly status: c.ObjectStatus;
}

const cond = (type: string, status: c.ConditionStatus, reason?: string, message?: string): c.Condition => ({
  type, status, ...(reason === undefined ? {} : { reason }), ...(message === undefined ? {} : { message }),
});

export function reconcileSource(source: AdmittedSource, pass: Pass, groupClaims: ReadonlyMap<string, ObjectKey>): SourceOutcome {
  const { metadata } = source.object;
  const { settings, observed } = pass;
  const own = settings.kafkaBootstrapServers ?? [];
  const inMemory = own.length === 0;
  const conditions: c.Condition[] = [];

  // 1. The cluster, then the topics: checked, never created.
  const foreign = !inMemory && !sameCluster(source.bootstrapServers, own);
  const topics: DesiredTopic[] = foreign
    ? []
    : source.topics.map((name) => ({ name, owner: source.key, external: true, spec: { partitions: settings.topicPartitions, replicationFactor: settings.topicReplicationFactor } }));
  const missing = source.topics.filter((t) => observed.topics.get(t)?.state !== 'ready');
  if (foreign) {
    conditions.push(cond('ConnectionEstablished', 'False', 'BootstrapServersNotSupported',
      `spec.bootstrapServers (${source.bootstrapServers.join(', ')}) names another Kafka cluster than this broker's (${own.join(', ')}); list one of its servers`));
  } else if (missing.length === 0) {
    conditions.push(cond('ConnectionEstablished', 'True'));
  } else {
    const unknown = missing.filter((t) => observed.topics.get(t) === undefined);
    conditions.push(unknown.length === missing.length
      ? cond('ConnectionEstablished', 'Unknown', 'TopicsPending', `checking topic(s) ${missing.join(', ')}`)
      : cond('ConnectionEstablished', 'False', 'TopicsNotPresentOrInvalid', `topic(s) ${missing.join(', ')} do not exist${inMemory ? ' in the in-memory event log' : ''}: a KafkaSource reads existing topics and never creates them`));
  }
  const topicsReady = !foreign && missing.length === 0;

  // 2. The sink and the dead-letter sink.
  const sink = pass.addresses.resolve(source.sink);
  conditions.push(sink.ok ? cond('SinkProvided', 'True') : cond('SinkProvided', 'False', 'SinkNotFound', sink.message));
  const deadLetter = resolveDeadLetterSink(source.delivery?.deadLetterSink, pass.addresses);
  conditions.push(deadLetter.condition);

  // 3. The consumer group, positioned at spec.initialOffset once everything above is in place.
  const group = source.consumerGroup;
  const claimedBy = groupClaims.get(group);
  const conflict = claimedBy !== undefined && claimedBy !== source.key;
  const wanted = topicsReady && sink.ok && deadLetter.ok && !conflict;
  const first = source.topics[0]!;
  const seen = observed.groups.get(group);
  const groupReady = seen?.state === 'ready' && seen.topic === first;
  if (conflict) conditions.push(cond('InitialOffsetsCommitted', 'False', 'ConsumerGroupConflict', `consumer group ${group} is used by ${claimedBy}`));
  else if (groupReady) conditions.push(cond('InitialOffsetsCommitted', 'True', 'ConsumerGroupReady', `consumer group ${group}`));
  else if (seen?.state === 'failed' && seen.topic === first) conditions.push(cond('InitialOffsetsCommitted', 'False', 'InitialOffsetsNotCommitted', `consumer group ${group}: ${seen.error}`));
  else conditions.push(cond('InitialOffsetsCommitted', 'Unknown', 'ConsumerGroupPending', `consumer group ${group}: ${wanted ? `positioning it at the ${source.initialOffset} offsets` : 'waiting for the topics and the sink'}`));
  conditions.push(observed.dataPlane.available ? cond('Deployed', 'True') : cond('Deployed', 'False', 'DataPlaneNotAvailable', observed.dataPlane.message));

  const reference = { kind: 'KafkaSource', namespace: metadata.namespace, name: metadata.name, uid: metadata.uid };
  const egress: Egress | null = wanted && groupReady && sink.ok
    ? {
        uid: metadata.uid,
        reference,
        consumerGroup: group,
        destination: sink.uri,
        // Knative sources drop the sink's reply.
        reply: { kind: 'discard' },
        filter: null,
        deliveryOrder: source.ordering,
        contentMode: source.delivery?.format === 'json' ? 'structured' : 'binary',
        egressConfig: source.delivery === null ? null : egressConfig(source.delivery, null, deadLetter.uri, settings),
        recordConversion: { kind: 'kafka-source', namespace: metadata.namespace, name: metadata.name, keyType: source.keyType, overrides: source.overrides },
      }
    : null;
  const resource: Resource | null = egress === null
    ? null
    : { uid: metadata.uid, kind: 'KafkaSource', reference, topics: source.topics, ingress: null, egressConfig: null, egresses: [egress] };

  const warnings = source.warnings.length === 0 ? undefined : `warning: ${formatFieldErrors(source.warnings)}`;
  const status: c.ObjectStatus = {
    observedGeneration: metadata.generation,
    conditions: c.withReady(SOURCE_CONDITIONS, conditions, warnings),
    ...(sink.ok ? { sinkUri: sink.uri } : {}),
    ...(deadLetter.uri === null ? {} : { deadLetterSinkUri: deadLetter.uri }),
    consumers: resource === null ? 0 : 1,
    selector: `${SOURCES_GROUP}/kafkasource=${metadata.name}`,
  };
  const [head, ...more] = source.topics;
  return {
    key: source.key,
    topics,
    group: wanted ? { group, topic: head!, owner: source.key, start: source.initialOffset, ...(more.length === 0 ? {} : { moreTopics: more }) } : null,
    resource,
    status,
  };
}

// ---- Phase of the desired state (desired.ts) ----

/**
 * Admits and reconciles every KafkaSource: after the addressable kinds, whose addresses their
 * sinks resolve to. Returns their contract resources and the consumer groups they keep.
 */
export function reconcileSources(pass: Pass, objects: readonly KnObject[], takenGroups: ReadonlySet<string>): { resources: Resource[]; groups: Set<string> } {
  const resources: Resource[] = [];
  const groups = new Set<string>();
  const groupClaims = new Map<string, ObjectKey>();
  for (const group of takenGroups) groupClaims.set(group, 'a trigger or subscription');
  for (const raw of objects) {
    const admission = admitInto(pass, raw, admitSource, defaultSource, SOURCE_CONDITIONS);
    if (!admission.ok) {
      // A refused change keeps the group of the version admitted before (its position is not lost).
      const before = pass.previouslyAdmitted.get(keyOf(raw));
      if (before !== undefined && isRecord(before.spec) && typeof before.spec['consumerGroup'] === 'string') groups.add(before.spec['consumerGroup']);
      continue;
    }
    const source = admission.value;
    if (!groupClaims.has(source.consumerGroup)) groupClaims.set(source.consumerGroup, source.key);
    groups.add(source.consumerGroup);
    const outcome = reconcileSource(source, pass, groupClaims);
    pass.statuses.set(source.key, outcome.status);
    // A topic a broker or a sink owns (they ran first) stays theirs; another source's is already listed.
    pass.topics.push(...outcome.topics.filter((t) => !pass.topics.some((d) => d.name === t.name)));
    if (outcome.group !== null) pass.groups.push(outcome.group);
    if (outcome.resource !== null) resources.push(outcome.resource);
  }
  return { resources, groups };
}
