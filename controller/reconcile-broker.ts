import type { EgressConfig, Resource } from '../core/contract/types.js';
import { brokerPath, brokerTopic } from '../core/contract/paths.js';
import type { TopicSpec } from '../core/event-log/port.js';
import { isRecord, type AdmittedBroker, type Delivery } from './admission.js';
import * as c from './conditions.js';
import type { AddressBook } from './destinations.js';
import { addressableCondition, dataPlaneCondition, resolveDeadLetterSink, topicCondition } from './reconcile-steps.js';
import { objectKey, type KnObject, type ObjectKey } from './resources.js';
import type { DesiredTopic, Observed, ReconcileSettings } from './state.js';

/**
 * One Broker, pure: its topic, its contract resource (without egresses; triggers add those) and
 * its status, from its admitted spec and what the controller has observed.
 *
 *   valid spec -> topic settings (spec.config ConfigMap, else defaults) -> topic observed ready?
 *              -> dead-letter sink resolved? -> contract resource + address -> Ready
 */

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

  // 1. The topic.
  let topic: DesiredTopic | null = null;
  const spec = topicSpec(broker, ctx);
  const claimedBy = broker.externalTopic === null ? ctx.topicClaims.get(topicName) : undefined;
  if (!spec.ok) conditions.push(c.topicConfigInvalid(spec.message));
  else if (claimedBy !== undefined && claimedBy !== broker.key) {
    conditions.push(c.topicNameConflict(topicName, claimedBy));
  } else {
    topic = { name: topicName, owner: broker.key, external: broker.externalTopic !== null, spec: spec.spec };
    conditions.push(topicCondition(topic, ctx.observed));
  }
  const topicReady = topic !== null && ctx.observed.topics.get(topicName)?.state === 'ready';

  // 2. The dead-letter sink of its delivery settings (the default for its triggers).
  const { uri: deadLetter, ok: deadLetterOk, condition: deadLetterCondition } = resolveDeadLetterSink(broker.delivery?.deadLetterSink, ctx.addresses);
  conditions.push(deadLetterCondition);

  // 3. The data plane, and the address once the broker can take events.
  conditions.push(dataPlaneCondition(ctx.observed.dataPlane));
  const serving = topicReady && deadLetterOk;
  const url = addressOf(broker, ctx.settings);
  conditions.push(addressableCondition(topicName, topicReady, deadLetterOk));

  const resource: Resource | null = serving
    ? {
        uid: metadata.uid,
        kind: 'Broker',
        reference: { kind: 'Broker', namespace: metadata.namespace, name: metadata.name, uid: metadata.uid },
        topics: [topicName],
        ingress: { path: brokerPath(metadata.namespace, metadata.name), contentMode: 'binary' },
        egressConfig: broker.delivery === null ? null : egressConfig(broker.delivery, null, deadLetter, ctx.settings),
        egresses: [],
      }
    : null;
  const status: c.ObjectStatus = {
    observedGeneration: metadata.generation,
    conditions: c.withReady(c.BROKER_CONDITIONS, conditions),
    ...(serving ? { address: { url } } : {}),
    ...(deadLetter === null ? {} : { deadLetterSinkUri: deadLetter }),
  };
  return { key: broker.key, topic, resource, status };
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
 * Knative delivery settings as the contract's EgressConfig. A trigger's own settings are merged
 * field by field over its broker's (as Knative Kafka does), then the controller's defaults.
 */
export function egressConfig(own: Delivery, inherited: Delivery | null, deadLetter: string | null, settings: ReconcileSettings): EgressConfig {
  return {
    retry: own.retry ?? inherited?.retry ?? 0,
    backoffPolicy: own.backoffPolicy ?? inherited?.backoffPolicy ?? 'exponential',
    backoffDelayMs: own.backoffDelayMs ?? inherited?.backoffDelayMs ?? settings.defaultBackoffDelayMs,
    timeoutMs: own.timeoutMs ?? inherited?.timeoutMs ?? null,
    deadLetter,
    retryAfterMaxMs: own.retryAfterMaxMs ?? inherited?.retryAfterMaxMs ?? null,
  };
}
