import { triggerGroup } from '../core/contract/paths.js';
import type { Egress, Resource } from '../core/contract/types.js';
import { admitBroker, admitTrigger, defaultBroker, defaultTrigger, type Admission, type AdmittedBroker } from './admission.js';
import * as c from './conditions.js';
import { AddressBook } from './destinations.js';
import { addressOf, reconcileBroker, topicIsReady, topicOf, type BrokerOutcome } from './reconcile-broker.js';
import { reconcileTrigger, type TriggerContext } from './reconcile-trigger.js';
import {
  BROKER_CLASS_ANNOTATION, EVENTING_GROUP, KAFKA_BROKER_CLASS, isBroker, isConfigMap, isTrigger, keyOf, objectKey,
  type KnObject, type ObjectKey,
} from './resources.js';
import type { DesiredGroup, DesiredState, DesiredTopic, Observed, ReconcileSettings } from './state.js';

/**
 * The desired state, as one pure function: the objects a source holds, the versions admitted
 * last time (for immutable fields), and what has been observed in the event log, in; topics,
 * consumer groups, the contract's resources and every object's status out. It knows nothing of
 * files, the Kubernetes API, Kafka or time, so it is tested case by case as a table.
 *
 * The controller calls it, applies the difference to the event log (topics.ts), and calls it
 * again with the new observations; statuses therefore only ever claim what has been observed.
 */
export function computeDesired(
  objects: readonly KnObject[],
  previouslyAdmitted: ReadonlyMap<ObjectKey, KnObject>,
  observed: Observed,
  settings: ReconcileSettings,
): DesiredState {
  return desired(objects, previouslyAdmitted, observed, settings, false);
}

/** Only the topics the brokers want: the first step of a pass, without the cost of the triggers. */
export function desiredTopics(
  objects: readonly KnObject[],
  previouslyAdmitted: ReadonlyMap<ObjectKey, KnObject>,
  observed: Observed,
  settings: ReconcileSettings,
): readonly DesiredTopic[] {
  return desired(objects, previouslyAdmitted, observed, settings, true).topics;
}

function desired(
  objects: readonly KnObject[],
  previouslyAdmitted: ReadonlyMap<ObjectKey, KnObject>,
  observed: Observed,
  settings: ReconcileSettings,
  topicsOnly: boolean,
): DesiredState {
  const sorted = objects.map((object) => ({ key: keyOf(object), object })).sort((a, b) => compareKeys(a.key, b.key)).map((e) => e.object);
  const configMaps = new Map<ObjectKey, KnObject>();
  const brokers: KnObject[] = [];
  const triggers: KnObject[] = [];
  const ignored = new Map<ObjectKey, string>();
  for (const object of sorted) {
    if (isBroker(object)) brokers.push(object);
    else if (isTrigger(object)) triggers.push(object);
    else if (isConfigMap(object)) configMaps.set(keyOf(object), object);
    else ignored.set(keyOf(object), `${object.apiVersion} ${object.kind} is not handled by this controller`);
  }

  const admitted = new Map<ObjectKey, KnObject>();
  const display = new Map<ObjectKey, KnObject>();
  const statuses = new Map<ObjectKey, c.ObjectStatus>();

  // ---- Brokers: admit, then topics, addresses, resources ----
  const ours: AdmittedBroker[] = [];
  const refusedBrokers = new Map<ObjectKey, c.ObjectStatus>();
  const foreignBrokers = new Map<ObjectKey, string>();
  for (const raw of brokers) {
    const key = keyOf(raw);
    const brokerClass = defaultBroker(raw, settings.admission).metadata.annotations[BROKER_CLASS_ANNOTATION]!;
    const previous = previouslyAdmitted.get(key);
    // A broker admitted before stays ours: admitBroker refuses the class change (it is immutable).
    if (brokerClass !== KAFKA_BROKER_CLASS && previous === undefined) {
      // Another controller's broker (Knative filters brokers by class): no topic, no status.
      foreignBrokers.set(key, brokerClass);
      ignored.set(key, `broker class "${brokerClass}" is not handled by this controller (it handles "${KAFKA_BROKER_CLASS}")`);
      continue;
    }
    const admission = memoized(raw, previous, settings, () => admitBroker(raw, previous, settings.admission));
    if (admission.ok) {
      ours.push(admission.value);
      admitted.set(key, admission.value.object);
      display.set(key, admission.value.object);
    } else {
      if (previous !== undefined) admitted.set(key, previous);
      display.set(key, defaultBroker(raw, settings.admission));
      const status = { observedGeneration: raw.metadata.generation, conditions: c.refusedConditions(c.BROKER_CONDITIONS, admission.reason, admission.errors) };
      refusedBrokers.set(key, status);
      statuses.set(key, status);
    }
  }

  // Addresses are known once a broker's topic is ready: a destination that refers to a broker
  // resolves to its ingress URL (what Knative reads from `status.address.url`).
  const addresses = new AddressBook().addKind(EVENTING_GROUP, 'Broker');
  for (const broker of ours) {
    const { namespace, name } = broker.object.metadata;
    addresses.set(EVENTING_GROUP, 'Broker', namespace, name, topicIsReady(broker, observed)
      ? { url: addressOf(broker, settings) }
      : { url: null, why: `its topic ${topicOf(broker)} is not ready` });
  }

  const topicClaims = new Map<string, ObjectKey>();
  for (const broker of ours) if (broker.externalTopic === null && !topicClaims.has(topicOf(broker))) topicClaims.set(topicOf(broker), broker.key);
  const brokerOutcomes = new Map<ObjectKey, { broker: AdmittedBroker; outcome: BrokerOutcome }>();
  const topics: DesiredTopic[] = [];
  for (const broker of ours) {
    const outcome = reconcileBroker(broker, { configMaps, observed, settings, addresses, topicClaims });
    brokerOutcomes.set(broker.key, { broker, outcome });
    statuses.set(broker.key, outcome.status);
    if (outcome.topic !== null) topics.push(outcome.topic);
  }

  if (topicsOnly) {
    return { admitted, topics, groups: [], obsoleteTopics: [], obsoleteGroups: [], resources: [], statuses, objects: display, ignored };
  }

  // ---- Triggers ----
  const egresses = new Map<ObjectKey, Egress[]>();
  const groups: DesiredGroup[] = [];
  const groupClaims = new Map<string, ObjectKey>();
  const triggerKeys = new Set<ObjectKey>();
  for (const raw of triggers) {
    const key = keyOf(raw);
    triggerKeys.add(key);
    const previous = previouslyAdmitted.get(key);
    const brokerName = brokerNameOf(raw) ?? brokerNameOf(previous);
    const brokerKey = objectKey('Broker', raw.metadata.namespace, brokerName ?? '');
    const foreignClass = foreignBrokers.get(brokerKey);
    if (foreignClass !== undefined) {
      ignored.set(key, `its broker "${brokerName}" has class "${foreignClass}", which this controller does not handle`);
      continue;
    }
    const admission = memoized(raw, previous, settings, () => admitTrigger(raw, previous));
    if (!admission.ok) {
      if (previous !== undefined) admitted.set(key, previous);
      display.set(key, defaultTrigger(raw));
      statuses.set(key, { observedGeneration: raw.metadata.generation, conditions: c.refusedConditions(c.TRIGGER_CONDITIONS, admission.reason, admission.errors) });
      continue;
    }
    const trigger = admission.value;
    admitted.set(key, trigger.object);
    display.set(key, trigger.object);
    const group = triggerGroup(raw.metadata.namespace, raw.metadata.name);
    if (!groupClaims.has(group)) groupClaims.set(group, key);
    const ownBroker = brokerOutcomes.get(brokerKey);
    const refused = refusedBrokers.get(brokerKey);
    const brokerState: TriggerContext['broker'] = ownBroker !== undefined
      ? { state: 'admitted', broker: ownBroker.broker, outcome: ownBroker.outcome }
      : refused !== undefined ? { state: 'refused', status: refused } : { state: 'absent' };
    const outcome = reconcileTrigger(trigger, { broker: brokerState, brokerKey, addresses, observed, settings, groupClaims });
    statuses.set(key, outcome.status);
    if (outcome.group !== null) groups.push(outcome.group);
    if (outcome.egress !== null) {
      const list = egresses.get(brokerKey) ?? [];
      list.push(outcome.egress);
      egresses.set(brokerKey, list);
    }
  }

  // ---- The contract: serving brokers with their egresses, in key order ----
  const resources: Resource[] = [];
  for (const { broker, outcome } of brokerOutcomes.values()) {
    if (outcome.resource === null) continue;
    resources.push({ ...outcome.resource, egresses: egresses.get(broker.key) ?? [] });
  }

  // ---- What to delete: only what this controller created, and only once its owner is gone ----
  const brokerKeys = new Set(brokers.map(keyOf));
  const desiredTopicNames = new Set(topics.map((t) => t.name));
  const obsoleteTopics = [...observed.topics]
    .filter(([name, seen]) => !seen.external && !desiredTopicNames.has(name) && !brokerKeys.has(seen.owner))
    .map(([name]) => name);
  const obsoleteGroups = [...observed.groups]
    .filter(([, seen]) => !triggerKeys.has(seen.owner))
    .map(([group]) => group);

  return { admitted, topics, groups, obsoleteTopics, obsoleteGroups, resources, statuses, objects: display, ignored };
}

/**
 * Admission depends only on the object, the version admitted before and the settings, so its
 * result is kept per object (sources hand over the same object while it is unchanged): a pass
 * computes the desired state three times, and most passes change one object in thousands.
 * Validating a CESQL filter means compiling it, the costliest part of admission.
 */
const admissions = new WeakMap<KnObject, { previous: KnObject | undefined; settings: ReconcileSettings; result: Admission<{ object: KnObject }> }>();

function memoized<T extends Admission<{ object: KnObject }>>(raw: KnObject, previous: KnObject | undefined, settings: ReconcileSettings, admit: () => T): T {
  const hit = admissions.get(raw);
  // The version admitted before may be this very result (the object did not change since).
  const same = hit !== undefined && (hit.previous === previous || (hit.result.ok && hit.result.value.object === previous));
  if (hit !== undefined && same && hit.settings === settings) return hit.result as T;
  const result = admit();
  admissions.set(raw, { previous, settings, result });
  return result;
}

function brokerNameOf(object: KnObject | undefined): string | undefined {
  const spec = object?.spec;
  if (typeof spec !== 'object' || spec === null) return undefined;
  const broker = (spec as Record<string, unknown>)['broker'];
  return typeof broker === 'string' && broker !== '' ? broker : undefined;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
