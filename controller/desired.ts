import { triggerGroup } from '../core/contract/paths.js';
import type { Egress, Resource } from '../core/contract/types.js';
import { admitBroker, admitSink, admitTrigger, defaultBroker, defaultSink, defaultTrigger, type Admission, type AdmittedBroker, type AdmittedSink } from './admission.js';
import * as c from './conditions.js';
import { AddressBook, type AddressEntry } from './destinations.js';
import { addressOf, reconcileBroker, topicIsReady, topicOf, type BrokerOutcome } from './reconcile-broker.js';
import { claimSinkTopic, isKafkaSink, reconcileSink } from './reconcile-sink.js';
import { reconcileTrigger, type TriggerContext } from './reconcile-trigger.js';
import {
  backingChannelOf, backingKeyOf, channelAddressEntry, channelTopicOf, defaultChannelTemplate, reconcileChannel, reconcileChannelable,
  servesTemplate, withSubscribers, type ChannelableOutcome,
} from './reconcile-channel.js';
import { groupOf, reconcileSubscription, type SubscriptionContext } from './reconcile-subscription.js';
import {
  admitChannel, admitChannelable, admitSubscription, defaultChannel, defaultChannelable, isChannelableKind,
  type AdmittedChannel, type AdmittedChannelable,
} from './admission.js';
import {
  BROKER_CLASS_ANNOTATION, EVENTING_GROUP, KAFKA_BROKER_CLASS, isBroker, isConfigMap, isTrigger, keyOf, objectKey,
  isChannel, isInMemoryChannel, isKafkaChannel, isSubscription, MESSAGING_GROUP, type KnObject, type ObjectKey,
} from './resources.js';
import type { ExternalAddresses } from './sources/source.js';
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
  external?: ExternalAddresses,
): DesiredState {
  return desired(objects, previouslyAdmitted, observed, settings, false, external);
}

/** Only the topics the brokers want: the first step of a pass, without the cost of the triggers. */
export function desiredTopics(
  objects: readonly KnObject[],
  previouslyAdmitted: ReadonlyMap<ObjectKey, KnObject>,
  observed: Observed,
  settings: ReconcileSettings,
  external?: ExternalAddresses,
): readonly DesiredTopic[] {
  return desired(objects, previouslyAdmitted, observed, settings, true, external).topics;
}

function desired(
  objects: readonly KnObject[],
  previouslyAdmitted: ReadonlyMap<ObjectKey, KnObject>,
  observed: Observed,
  settings: ReconcileSettings,
  topicsOnly: boolean,
  external: ExternalAddresses | undefined,
): DesiredState {
  const sorted = objects.map((object) => ({ key: keyOf(object), object })).sort((a, b) => compareKeys(a.key, b.key)).map((e) => e.object);
  const configMaps = new Map<ObjectKey, KnObject>();
  const brokers: KnObject[] = [];
  const sinks: KnObject[] = [];
  const triggers: KnObject[] = [];
  const channels: KnObject[] = [];
  /** KafkaChannels and InMemoryChannels: the source's, then (below) the ones Channels generate. */
  const channelables: KnObject[] = [];
  const subscriptions: KnObject[] = [];
  const ignored = new Map<ObjectKey, string>();
  for (const object of sorted) {
    if (isBroker(object)) brokers.push(object);
    else if (isTrigger(object)) triggers.push(object);
    else if (isConfigMap(object)) configMaps.set(keyOf(object), object);
    else if (isKafkaSink(object)) sinks.push(object);
    else if (isChannel(object)) channels.push(object);
    else if (isKafkaChannel(object) || isInMemoryChannel(object)) channelables.push(object);
    else if (isSubscription(object)) subscriptions.push(object);
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
  const addresses = new AddressBook().addKind(EVENTING_GROUP, 'Broker').addKind(EVENTING_GROUP, 'KafkaSink');
  // Referenced objects outside these kinds that the source looked up (Kubernetes Services, Addressables).
  for (const { group, kind } of external?.kinds ?? []) addresses.addKind(group, kind);
  for (const e of external?.entries ?? []) addresses.set(e.group, e.kind, e.namespace, e.name, e.entry);
  for (const broker of ours) {
    const { namespace, name } = broker.object.metadata;
    addresses.set(EVENTING_GROUP, 'Broker', namespace, name, topicIsReady(broker, observed)
      ? { url: addressOf(broker, settings) }
      : { url: null, why: `its topic ${topicOf(broker)} is not ready` });
  }

  // ---- Channels: admit; each Channel's backing channel is generated, or adopted when the source
  // has it (as Knative's Channel controller does); then their addresses ----
  const channelTemplate = defaultChannelTemplate(settings);
  const channelsInForce = new Map<ObjectKey, AdmittedChannel>();
  const refusedChannels = new Set<ObjectKey>();
  const generated: KnObject[] = [];
  const sourceKeys = new Set(sorted.map(keyOf));
  for (const raw of channels) {
    const key = keyOf(raw);
    const previous = previouslyAdmitted.get(key);
    const admission = memoized(raw, previous, settings, () => admitChannel(raw, previous, channelTemplate));
    let inForce: AdmittedChannel | undefined;
    if (admission.ok) {
      admitted.set(key, admission.value.object);
      display.set(key, admission.value.object);
      inForce = admission.value;
    } else {
      display.set(key, defaultChannel(raw, channelTemplate));
      statuses.set(key, { observedGeneration: raw.metadata.generation, conditions: c.refusedConditions(c.CHANNEL_CONDITIONS, admission.reason, admission.errors) });
      refusedChannels.add(key);
      if (previous !== undefined) {
        admitted.set(key, previous);
        // A refused change leaves the Channel as it was (Knative never stores it): its backing channel stays.
        const before = memoized(previous, undefined, settings, () => admitChannel(previous, undefined, channelTemplate));
        if (before.ok) inForce = before.value;
      }
    }
    if (inForce === undefined) continue;
    if (!servesTemplate(inForce.template)) {
      statuses.delete(key);
      ignored.set(key, `its channelTemplate is ${inForce.template.apiVersion} ${inForce.template.kind}, which this controller does not serve (KafkaChannel, InMemoryChannel)`);
      continue;
    }
    channelsInForce.set(key, inForce);
    if (!sourceKeys.has(backingKeyOf(inForce))) generated.push(backingChannelOf(inForce));
  }
  channelables.push(...generated);
  channelables.sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
  const admittedChannelables: AdmittedChannelable[] = [];
  const refusedChannelables = new Map<ObjectKey, c.ObjectStatus>();
  for (const raw of channelables) {
    const key = keyOf(raw);
    const previous = previouslyAdmitted.get(key);
    const admission = memoized(raw, previous, settings, () => admitChannelable(raw, previous));
    if (admission.ok) {
      admittedChannelables.push(admission.value);
      admitted.set(key, admission.value.object);
      display.set(key, admission.value.object);
    } else {
      if (previous !== undefined) admitted.set(key, previous);
      display.set(key, defaultChannelable(raw));
      const status = { observedGeneration: raw.metadata.generation, conditions: c.refusedConditions(c.CHANNELABLE_CONDITIONS, admission.reason, admission.errors) };
      refusedChannelables.set(key, status);
      statuses.set(key, status);
    }
  }
  // A KafkaChannel and an InMemoryChannel of one name would share a topic and an address: the first by key order keeps them.
  const channelClaims = new Map<string, ObjectKey>();
  for (const channel of admittedChannelables) if (!channelClaims.has(channelTopicOf(channel))) channelClaims.set(channelTopicOf(channel), channel.key);
  for (const kind of ['Channel', 'KafkaChannel', 'InMemoryChannel']) addresses.addKind(MESSAGING_GROUP, kind);
  const channelEntries = new Map<ObjectKey, AddressEntry>();
  for (const channel of admittedChannelables) {
    const entry = channelAddressEntry(channel, { observed, settings, claims: channelClaims });
    channelEntries.set(channel.key, entry);
    addresses.set(MESSAGING_GROUP, channel.kind, channel.object.metadata.namespace, channel.object.metadata.name, entry);
  }
  for (const key of refusedChannelables.keys()) {
    const [kind, namespace, name] = key.split('/') as [string, string, string];
    addresses.set(MESSAGING_GROUP, kind, namespace, name, { url: null, why: 'its spec was refused' });
  }
  for (const channel of channelsInForce.values()) {
    const { namespace, name } = channel.object.metadata;
    addresses.set(MESSAGING_GROUP, 'Channel', namespace, name, channelEntries.get(backingKeyOf(channel)) ?? { url: null, why: `its backing ${channel.template.kind} is not ready` });
  }

  const topicClaims = new Map<string, ObjectKey>();
  for (const broker of ours) if (broker.externalTopic === null && !topicClaims.has(topicOf(broker))) topicClaims.set(topicOf(broker), broker.key);
  const brokerOutcomes = new Map<ObjectKey, { broker: AdmittedBroker; outcome: BrokerOutcome }>();
  const topics: DesiredTopic[] = [];

  // ---- KafkaSinks: reconciled before the brokers, whose dead-letter sinks may refer to them ----
  const sinkResources: Resource[] = [];
  const admittedSinks: AdmittedSink[] = [];
  for (const raw of sinks) {
    const key = keyOf(raw);
    const previous = previouslyAdmitted.get(key);
    const admission = memoized(raw, previous, settings, () => admitSink(raw, previous));
    if (admission.ok) {
      admittedSinks.push(admission.value);
      admitted.set(key, admission.value.object);
      display.set(key, admission.value.object);
      claimSinkTopic(admission.value, settings, topicClaims);
    } else {
      if (previous !== undefined) admitted.set(key, previous);
      display.set(key, defaultSink(raw));
      statuses.set(key, { observedGeneration: raw.metadata.generation, conditions: c.refusedConditions(c.SINK_CONDITIONS, admission.reason, admission.errors) });
      addresses.set(EVENTING_GROUP, 'KafkaSink', raw.metadata.namespace, raw.metadata.name, { url: null, why: 'its spec was refused' });
    }
  }
  for (const sink of admittedSinks) {
    const outcome = reconcileSink(sink, { observed, settings, topicClaims });
    statuses.set(sink.key, outcome.status);
    if (outcome.topic !== null) topics.push(outcome.topic);
    if (outcome.resource !== null) sinkResources.push(outcome.resource);
    addresses.set(EVENTING_GROUP, 'KafkaSink', sink.object.metadata.namespace, sink.object.metadata.name, outcome.address);
  }

  for (const broker of ours) {
    const outcome = reconcileBroker(broker, { configMaps, observed, settings, addresses, topicClaims });
    brokerOutcomes.set(broker.key, { broker, outcome });
    statuses.set(broker.key, outcome.status);
    if (outcome.topic !== null) topics.push(outcome.topic);
  }

  // ---- KafkaChannels and InMemoryChannels: topics and resources ----
  const channelOutcomes = new Map<ObjectKey, ChannelableOutcome>();
  for (const channel of admittedChannelables) {
    const outcome = reconcileChannelable(channel, { observed, settings, addresses, claims: channelClaims });
    channelOutcomes.set(channel.key, outcome);
    statuses.set(channel.key, outcome.status);
    if (outcome.topic !== null) topics.push(outcome.topic);
  }

  if (topicsOnly) {
    return { admitted, topics, groups: [], obsoleteTopics: [], obsoleteGroups: [], resources: [], statuses, objects: display, ignored, generated };
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

  // ---- Subscriptions: egresses on their channels' resources ----
  const subscribers = new Map<ObjectKey, c.SubscriberStatus[]>();
  /** The group of every Subscription there is: kept, with its position, while the Subscription exists. */
  const subscriptionGroups = new Set<string>();
  for (const raw of subscriptions) {
    const key = keyOf(raw);
    const previous = previouslyAdmitted.get(key);
    const admission = memoized(raw, previous, settings, () => admitSubscription(raw, previous));
    const channelName = channelNameOf(admission.ok ? admission.value.object : previous);
    if (channelName !== undefined) subscriptionGroups.add(groupOf(raw.metadata.namespace, channelName, raw.metadata.uid));
    if (!admission.ok) {
      if (previous !== undefined) admitted.set(key, previous);
      display.set(key, raw);
      statuses.set(key, { observedGeneration: raw.metadata.generation, conditions: c.refusedConditions(c.SUBSCRIPTION_CONDITIONS, admission.reason, admission.errors) });
      continue;
    }
    const subscription = admission.value;
    const ref = subscription.channel;
    // A Channel leads to its backing channel (which has its name); another controller's channel kind is left alone.
    let channelKey: ObjectKey | undefined;
    if (ref.kind === 'Channel') {
      const owner = objectKey('Channel', ref.namespace, ref.name);
      const ignoredBecause = ignored.get(owner);
      if (ignoredBecause !== undefined) {
        ignored.set(key, `its channel ${owner} is not handled by this controller: ${ignoredBecause}`);
        continue;
      }
      const inForce = channelsInForce.get(owner);
      if (inForce !== undefined) channelKey = backingKeyOf(inForce);
    } else if (isChannelableKind(ref.kind)) channelKey = objectKey(ref.kind, ref.namespace, ref.name);
    else {
      ignored.set(key, `its channel is a ${ref.apiVersion} ${ref.kind}, which this controller does not serve (Channel, KafkaChannel, InMemoryChannel)`);
      continue;
    }
    admitted.set(key, subscription.object);
    display.set(key, subscription.object);
    const outcome = channelKey === undefined ? undefined : channelOutcomes.get(channelKey);
    const refusedStatus = ref.kind === 'Channel' ? statuses.get(objectKey('Channel', ref.namespace, ref.name)) : channelKey === undefined ? undefined : refusedChannelables.get(channelKey);
    const channelState: SubscriptionContext['channel'] = outcome !== undefined
      ? { state: 'admitted', outcome }
      : refusedStatus !== undefined ? { state: 'refused', status: refusedStatus } : { state: 'absent' };
    const reconciled = reconcileSubscription(subscription, { channel: channelState, addresses, observed, settings });
    statuses.set(key, reconciled.status);
    if (reconciled.group !== null) groups.push(reconciled.group);
    if (reconciled.channelKey !== null) {
      if (reconciled.egress !== null) egresses.set(reconciled.channelKey, [...(egresses.get(reconciled.channelKey) ?? []), reconciled.egress]);
      if (reconciled.subscriber !== null) subscribers.set(reconciled.channelKey, [...(subscribers.get(reconciled.channelKey) ?? []), reconciled.subscriber]);
    }
  }
  // Channels list their subscribers; a Channel mirrors its backing channel.
  for (const [key, outcome] of channelOutcomes) statuses.set(key, withSubscribers(outcome.status, subscribers.get(key) ?? []));
  for (const [key, channel] of channelsInForce) {
    if (!refusedChannels.has(key)) statuses.set(key, reconcileChannel(channel, statuses.get(backingKeyOf(channel))));
  }

  // ---- The contract: serving brokers with their egresses, in key order ----
  const resources: Resource[] = [];
  for (const { broker, outcome } of brokerOutcomes.values()) {
    if (outcome.resource === null) continue;
    resources.push({ ...outcome.resource, egresses: egresses.get(broker.key) ?? [] });
  }
  resources.push(...sinkResources);
  for (const outcome of channelOutcomes.values()) {
    if (outcome.resource !== null) resources.push({ ...outcome.resource, egresses: egresses.get(outcome.key) ?? [] });
  }

  // ---- What to delete: only what this controller created, and only once its owner is gone ----
  const brokerKeys = new Set([...brokers, ...sinks, ...channelables].map(keyOf));
  const desiredTopicNames = new Set(topics.map((t) => t.name));
  const obsoleteTopics = [...observed.topics]
    .filter(([name, seen]) => !seen.external && !desiredTopicNames.has(name) && !brokerKeys.has(seen.owner))
    .map(([name]) => name);
  // A group whose topic goes (its broker was deleted) goes too, before it (Kafka keeps empty groups).
  const goingTopics = new Set(obsoleteTopics);
  const obsoleteGroups = [...observed.groups]
    .filter(([group, seen]) => (!triggerKeys.has(seen.owner) && !subscriptionGroups.has(group)) || goingTopics.has(seen.topic))
    .map(([group]) => group);

  return { admitted, topics, groups, obsoleteTopics, obsoleteGroups, resources, statuses, objects: display, ignored, generated };
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

function channelNameOf(object: KnObject | undefined): string | undefined {
  const spec = object?.spec;
  if (typeof spec !== 'object' || spec === null) return undefined;
  const channel = (spec as Record<string, unknown>)['channel'];
  if (typeof channel !== 'object' || channel === null) return undefined;
  const name = (channel as Record<string, unknown>)['name'];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
