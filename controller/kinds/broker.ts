import type { Resource } from '../../core/contract/types.js';
import { brokerAudience, brokerPath, brokerTopic } from '../../core/contract/paths.js';
import type { TopicSpec } from '../../core/event-log/port.js';
import * as c from '../conditions.js';
import type { AddressBook } from '../destinations.js';
import {
  apiGroup, BROKER_CLASS_ANNOTATION, EVENTING_GROUP, EXTERNAL_TOPIC_ANNOTATION, KAFKA_BROKER_CLASS, keyOf, objectKey,
  type KnObject, type ObjectKey,
} from '../resources.js';
import type { DesiredTopic, Observed, ReconcileSettings } from '../state.js';
import { invalid, isRecord, unknownFields, type Admission, type AdmissionDefaults, type FieldError } from './admission.js';
import { egressConfig, kReference, optionalDelivery, resolveDeadLetterSink, type Delivery, type KReference } from './delivery.js';
import { sendersFor, type Policies } from './event-policy.js';
import { clusterFromConfig, configMapData, type ClusterResult } from './kafka-cluster.js';
import { admitInto, type Pass } from './pass.js';

/**
 * Broker (eventing.knative.dev/v1), pure: admission, then its topic, its contract resource
 * (without egresses; triggers add those), its address and its status.
 *
 *   class ours? -> valid spec -> topic settings (spec.config ConfigMap, else defaults)
 *     -> topic observed ready? -> dead-letter sink resolved? -> contract resource + address -> Ready
 */

export const isBroker = (object: KnObject): boolean => object.kind === 'Broker' && apiGroup(object.apiVersion) === EVENTING_GROUP;
/** A broker's `spec.config` names one. */
export const isConfigMap = (object: KnObject): boolean => object.kind === 'ConfigMap' && object.apiVersion === 'v1';

// ---- Admission ----

export interface AdmittedBroker {
  readonly key: ObjectKey;
  /** The object with its defaults applied, as `get` shows it. */
  readonly object: KnObject;
  readonly brokerClass: string;
  readonly config: KReference | null;
  readonly delivery: Delivery | null;
  readonly externalTopic: string | null;
}

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
  const delivery = optionalDelivery(spec['delivery'], 'spec.delivery', object.metadata.namespace, errors);
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

// ---- One broker ----

export interface BrokerOutcome {
  readonly key: ObjectKey;
  readonly topic: DesiredTopic | null;
  /** The broker's contract resource, or null while it cannot take events. */
  readonly resource: Resource | null;
  readonly status: c.ObjectStatus;
}

/** Config keys of Knative Kafka's broker ConfigMap (`kafka-broker-config`). */
const PARTITIONS_KEY = 'default.topic.partitions';
const REPLICATION_KEY = 'default.topic.replication.factor';

export interface BrokerContext {
  readonly configMaps: ReadonlyMap<ObjectKey, KnObject>;
  readonly observed: Observed;
  readonly settings: ReconcileSettings;
  readonly addresses: AddressBook;
  /** Owned topic name -> the broker that claimed it first (by key order). */
  readonly topicClaims: ReadonlyMap<string, ObjectKey>;
  /** The EventPolicies of the pass (used when OIDC is on). */
  readonly policies?: Policies;
}

/** The topic a broker uses: its external topic, or the one it owns. */
export const topicOf = (broker: AdmittedBroker): string =>
  broker.externalTopic ?? brokerTopic(broker.object.metadata.namespace, broker.object.metadata.name);

/** The broker's address, known before anything is created (the ingress path is fixed). */
export const addressOf = (broker: AdmittedBroker, settings: ReconcileSettings): string =>
  `${settings.ingressUrl.replace(/\/+$/, '')}${brokerPath(broker.object.metadata.namespace, broker.object.metadata.name)}`;

/** Whether the broker's topic is observed ready: then its ingress can take events. */
export function topicIsReady(broker: AdmittedBroker, observed: Observed): boolean {
  return observed.topics.get(topicOf(broker))?.state === 'ready';
}

export function reconcileBroker(broker: AdmittedBroker, ctx: BrokerContext): BrokerOutcome {
  const { metadata } = broker.object;
  const topicName = topicOf(broker);
  const conditions: c.Condition[] = [];

  // 1. The topic, on the broker's own cluster when its ConfigMap names one.
  let topic: DesiredTopic | null = null;
  const spec = topicSpec(broker, ctx);
  const cluster = clusterOf(broker, ctx);
  const claimedBy = broker.externalTopic === null ? ctx.topicClaims.get(topicName) : undefined;
  if (!spec.ok) conditions.push(c.topicConfigInvalid(spec.message));
  else if (!cluster.ok) conditions.push(c.topicConfigInvalid(cluster.message));
  else if (claimedBy !== undefined && claimedBy !== broker.key) {
    conditions.push(c.topicNameConflict(topicName, claimedBy));
  } else {
    topic = { name: topicName, owner: broker.key, external: broker.externalTopic !== null, spec: spec.spec, ...(cluster.ref === undefined ? {} : { cluster: cluster.ref }) };
    conditions.push(c.topicCondition(topic, ctx.observed));
  }
  const topicReady = topic !== null && ctx.observed.topics.get(topicName)?.state === 'ready';

  // 2. The dead-letter sink of its delivery settings (the default for its triggers).
  const { uri: deadLetter, ok: deadLetterOk, condition: deadLetterCondition } = resolveDeadLetterSink(broker.delivery?.deadLetterSink, ctx.addresses);
  conditions.push(deadLetterCondition);

  // 3. The data plane, and the address once the broker can take events.
  conditions.push(c.resourceDataPlaneCondition(ctx.observed, metadata.uid, ['ingress', 'dispatcher']));
  const serving = topicReady && deadLetterOk;
  const url = addressOf(broker, ctx.settings);
  conditions.push(c.addressableCondition(topicName, topicReady, deadLetterOk));

  // 4. Sender authentication: an audience, and the EventPolicies that apply (else the default mode).
  const oidc = ctx.settings.oidc;
  const audience = oidc === undefined ? undefined : brokerAudience(metadata.namespace, metadata.name);
  const auth = oidc === undefined ? undefined : sendersFor(broker.object, ctx.policies ?? { admitted: [], subjects: new Map() }, oidc.defaultMode);
  if (oidc !== undefined) conditions.push(auth!.applied.length > 0 ? c.eventPoliciesReady() : c.defaultAuthorizationMode(oidc.defaultMode));
  const senders = auth?.senders === undefined ? {} : { senders: auth.senders };

  const resource: Resource | null = serving
    ? {
        uid: metadata.uid,
        kind: 'Broker',
        reference: { kind: 'Broker', namespace: metadata.namespace, name: metadata.name, uid: metadata.uid },
        topics: [topicName],
        ingress: { path: brokerPath(metadata.namespace, metadata.name), contentMode: 'binary', ...(audience === undefined ? {} : { audience, ...senders }) },
        egressConfig: broker.delivery === null ? null : egressConfig(broker.delivery, null, deadLetter, ctx.settings),
        egresses: [],
        ...(topic?.cluster === undefined ? {} : { cluster: topic.cluster }),
      }
    : null;
  const address = addressesOf(url, ctx.settings, brokerPath(metadata.namespace, metadata.name), audience);
  const status: c.ObjectStatus = {
    observedGeneration: metadata.generation,
    conditions: c.withReady(oidc === undefined ? c.BROKER_CONDITIONS : [...c.BROKER_CONDITIONS, 'EventPoliciesReady'], conditions),
    ...(serving ? address : {}),
    ...(auth === undefined || auth.applied.length === 0 ? {} : { policies: auth.applied }),
    ...(deadLetter === null ? {} : { deadLetterSinkUri: deadLetter }),
  };
  return { key: broker.key, topic, resource, status };
}

/**
 * `status.address` and, with HTTPS, `status.addresses`, as Knative's transport encryption shows
 * them: the https address first (with the CA that signs it), the http one too while plain HTTP is
 * served. The audience is on each when OIDC is on.
 */
function addressesOf(url: string, settings: ReconcileSettings, path: string, audience: string | undefined): Pick<c.ObjectStatus, 'address' | 'addresses'> {
  const withAudience = audience === undefined ? {} : { audience };
  const http = { url, ...withAudience };
  if (settings.ingressHttps === undefined) return { address: http };
  const https = {
    url: `${settings.ingressHttps.url.replace(/\/+$/, '')}${path}`,
    ...(settings.ingressHttps.caCerts === undefined ? {} : { CACerts: settings.ingressHttps.caCerts }),
    ...withAudience,
  };
  const plain = url.startsWith('http:') ? [{ name: 'http', ...http }] : [];
  return { address: https, addresses: [{ name: 'https', ...https }, ...plain] };
}

type TopicSpecResult = { readonly ok: true; readonly spec: TopicSpec } | { readonly ok: false; readonly message: string };

/**
 * Topic settings: from the ConfigMap named by `spec.config` when it is among the objects the
 * controller knows, else the controller's defaults. A missing ConfigMap is not an error here:
 * manifests copied from Knative's docs name `knative-eventing/kafka-broker-config`, which a
 * laptop does not have.
 */
function topicSpec(broker: AdmittedBroker, ctx: BrokerContext): TopicSpecResult {
  let partitions = ctx.settings.topicPartitions;
  let replicationFactor = ctx.settings.topicReplicationFactor;
  if (broker.config !== null) {
    const configMap = ctx.configMaps.get(objectKey('ConfigMap', broker.config.namespace, broker.config.name));
    const data = configMap !== undefined && isRecord(configMap.data) ? configMap.data : {};
    const where = `ConfigMap ${broker.config.namespace}/${broker.config.name}`;
    const read = (key: string, fallback: number): number | string => {
      const value = data[key];
      if (value === undefined) return fallback;
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
      return Number.isSafeInteger(n) && n >= 1 ? n : `${where}: ${key} must be a whole number >= 1, found ${JSON.stringify(value)}`;
    };
    const p = read(PARTITIONS_KEY, partitions);
    const r = read(REPLICATION_KEY, replicationFactor);
    if (typeof p === 'string') return { ok: false, message: p };
    if (typeof r === 'string') return { ok: false, message: r };
    partitions = p;
    replicationFactor = r;
  }
  return { ok: true, spec: { partitions, replicationFactor } };
}

/**
 * The broker's own Kafka cluster, as Knative Kafka's `kafka-broker-config` names it:
 * `bootstrap.servers` (else the controller's cluster) and `auth.secret.ref.name`, a Secret in the
 * ConfigMap's namespace (kafka-cluster.ts). Undefined when that is the controller's own cluster
 * without other credentials: the default path, with no client of its own.
 */
function clusterOf(broker: AdmittedBroker, ctx: BrokerContext): ClusterResult {
  // In memory there is no cluster to pick (as for KafkaSinks): ConfigMaps copied from Knative's
  // docs name one, and are used for their topic settings only.
  if (broker.config === null) return { ok: true, ref: undefined };
  const data = configMapData(ctx.configMaps, broker.config.namespace, broker.config.name);
  return clusterFromConfig(data, broker.config, ctx.settings.kafkaBootstrapServers ?? [], { secretNamespaceKey: false });
}

// ---- Phases of the desired state (desired.ts) ----

/** The brokers of one pass, once admitted. */
export interface Brokers {
  /** Ours and admitted, in key order. */
  readonly ours: readonly AdmittedBroker[];
  /** Ours and refused, with the status that says why. */
  readonly refused: ReadonlyMap<ObjectKey, c.ObjectStatus>;
  /** Another controller's, by class: no topic, no status. */
  readonly foreign: ReadonlyMap<ObjectKey, string>;
}

/** Admits the brokers of our class, then declares their addresses. */
export function admitBrokers(pass: Pass, objects: readonly KnObject[]): Brokers {
  const ours: AdmittedBroker[] = [];
  const refused = new Map<ObjectKey, c.ObjectStatus>();
  const foreign = new Map<ObjectKey, string>();
  const defaults = pass.settings.admission;
  for (const raw of objects) {
    const key = keyOf(raw);
    const brokerClass = defaultBroker(raw, defaults).metadata.annotations[BROKER_CLASS_ANNOTATION]!;
    // A broker admitted before stays ours: admitBroker refuses the class change (it is immutable).
    if (brokerClass !== KAFKA_BROKER_CLASS && !pass.previouslyAdmitted.has(key)) {
      // Another controller's broker (Knative filters brokers by class): no topic, no status.
      foreign.set(key, brokerClass);
      pass.ignored.set(key, `broker class "${brokerClass}" is not handled by this controller (it handles "${KAFKA_BROKER_CLASS}")`);
      continue;
    }
    const admission = admitInto(pass, raw, (r, previous) => admitBroker(r, previous, defaults), (r) => defaultBroker(r, defaults), c.BROKER_CONDITIONS);
    if (admission.ok) ours.push(admission.value);
    else refused.set(key, pass.statuses.get(key)!);
  }

  // Addresses are known once a broker's topic is ready: a destination that refers to a broker
  // resolves to its ingress URL (what Knative reads from `status.address.url`).
  pass.addresses.addKind(EVENTING_GROUP, 'Broker');
  for (const broker of ours) {
    const { namespace, name } = broker.object.metadata;
    pass.addresses.set(EVENTING_GROUP, 'Broker', namespace, name, topicIsReady(broker, pass.observed)
      ? { url: addressOf(broker, pass.settings), ...(pass.settings.oidc === undefined ? {} : { audience: brokerAudience(namespace, name) }) }
      : { url: null, why: `its topic ${topicOf(broker)} is not ready` });
  }
  return { ours, refused, foreign };
}

/** The topics our brokers would own, each claimed by the first broker in key order (KafkaSinks claim theirs after). */
export function brokerTopicClaims(brokers: Brokers): Map<string, ObjectKey> {
  const claims = new Map<string, ObjectKey>();
  for (const broker of brokers.ours) if (broker.externalTopic === null && !claims.has(topicOf(broker))) claims.set(topicOf(broker), broker.key);
  return claims;
}

/** Each admitted broker's topic, resource and status. */
export function reconcileBrokers(
  pass: Pass,
  brokers: Brokers,
  configMaps: ReadonlyMap<ObjectKey, KnObject>,
  topicClaims: ReadonlyMap<string, ObjectKey>,
  policies?: Policies,
): Map<ObjectKey, { broker: AdmittedBroker; outcome: BrokerOutcome }> {
  const outcomes = new Map<ObjectKey, { broker: AdmittedBroker; outcome: BrokerOutcome }>();
  const { observed, settings, addresses } = pass;
  for (const broker of brokers.ours) {
    const outcome = reconcileBroker(broker, { configMaps, observed, settings, addresses, topicClaims, ...(policies === undefined ? {} : { policies }) });
    outcomes.set(broker.key, { broker, outcome });
    pass.statuses.set(broker.key, outcome.status);
    if (outcome.topic !== null) pass.topics.push(outcome.topic);
  }
  return outcomes;
}
