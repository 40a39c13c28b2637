import { triggerGroup } from '../core/contract/paths.js';
import type { Resource } from '../core/contract/types.js';
import { admitChannelables, isChannelable, listSubscribers, reconcileChannelables, type ChannelableOutcome } from './kinds/backing-channel.js';
import { admitBrokers, brokerTopicClaims, isBroker, isConfigMap, reconcileBrokers, type BrokerOutcome } from './kinds/broker.js';
import { admitChannels, channelAddresses, isChannel, mirrorBackingChannels } from './kinds/channel.js';
import { isEventPolicy, reconcileEventPolicies } from './kinds/event-policy.js';
import { isKafkaSink, reconcileSinks } from './kinds/kafka-sink.js';
import { isKafkaSource, reconcileSources } from './kinds/kafka-source.js';
import { newPass, type Pass } from './kinds/pass.js';
import { isSubscription, reconcileSubscriptions } from './kinds/subscription.js';
import { isTrigger, reconcileTriggers } from './kinds/trigger.js';
import { compareKeys, keyOf, type KnObject, type ObjectKey } from './resources.js';
import type { ExternalAddresses } from './sources/source.js';
import type { DesiredState, DesiredTopic, Observed, ReconcileSettings } from './state.js';

/**
 * The desired state, as one pure function: the objects a source holds, the versions admitted
 * last time (for immutable fields), and what has been observed in the event log, in; topics,
 * consumer groups, the contract's resources and every object's status out. It knows nothing of
 * files, the Kubernetes API, Kafka or time, so it is tested case by case as a table.
 *
 * The controller calls it, applies the difference to the event log (apply-topics.ts), and calls it
 * again with the new observations; statuses therefore only ever claim what has been observed.
 * Each kind's part is in its module under kinds/; this is the order they run in.
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
  const pass = newPass(previouslyAdmitted, observed, settings, external);
  const of = byKind(objects, pass);

  // Admission, and the addresses that do not wait for reconciling.
  const brokers = admitBrokers(pass, of.brokers);
  const channels = admitChannels(pass, of.channels, of.keys);
  const channelables = admitChannelables(pass, [...of.channelables, ...channels.generated]);
  channelAddresses(pass, channels, channelables.entries);

  // Topics: KafkaSinks before the brokers, whose dead-letter sinks may refer to them.
  const topicClaims = brokerTopicClaims(brokers);
  const sinkResources = reconcileSinks(pass, of.sinks, topicClaims);
  const policies = reconcileEventPolicies(pass, of.eventPolicies, of.byKey);
  const brokerOutcomes = reconcileBrokers(pass, brokers, of.configMaps, topicClaims, policies);
  const channelOutcomes = reconcileChannelables(pass, channelables, of.configMaps);
  // KafkaSources: their topics are checked with the others; their sinks resolve to the addresses above.
  const sources = reconcileSources(pass, of.sources, new Set(of.triggers.map((t) => triggerGroup(t.metadata.namespace, t.metadata.name))));
  if (topicsOnly) return state(pass, [], [], [], channels.generated);

  // Consumer groups and egresses; then the channels' statuses, which list their subscribers.
  reconcileTriggers(pass, of.triggers, brokers, brokerOutcomes);
  const subscriptions = reconcileSubscriptions(pass, of.subscriptions, channels, channelables, channelOutcomes);
  listSubscribers(pass, channelOutcomes, subscriptions.subscribers);
  mirrorBackingChannels(pass, channels);

  const resources = [...contract(pass, brokerOutcomes, sinkResources, channelOutcomes), ...sources.resources];
  const owners = new Set([...of.brokers, ...of.sinks, ...of.channelables, ...channels.generated].map(keyOf));
  const keptGroups = new Set([...subscriptions.groups, ...sources.groups]);
  const { obsoleteTopics, obsoleteGroups } = obsolete(pass, owners, new Set(of.triggers.map(keyOf)), keptGroups);
  return state(pass, resources, obsoleteTopics, obsoleteGroups, channels.generated);
}

/** The source's objects in key order, by kind; a kind this controller does not handle is ignored. */
function byKind(objects: readonly KnObject[], pass: Pass) {
  const sorted = objects.map((object) => ({ key: keyOf(object), object })).sort((a, b) => compareKeys(a.key, b.key)).map((e) => e.object);
  const of = {
    keys: new Set(sorted.map(keyOf)),
    configMaps: new Map<ObjectKey, KnObject>(),
    brokers: [] as KnObject[],
    sinks: [] as KnObject[],
    triggers: [] as KnObject[],
    channels: [] as KnObject[],
    /** KafkaChannels and InMemoryChannels the source holds. */
    channelables: [] as KnObject[],
    subscriptions: [] as KnObject[],
    eventPolicies: [] as KnObject[],
    /** Every object, for EventPolicy `from.ref`s (sources' OIDC identities). */
    byKey: new Map(sorted.map((object) => [keyOf(object), object])),
    sources: [] as KnObject[],
  };
  for (const object of sorted) {
    if (isBroker(object)) of.brokers.push(object);
    else if (isTrigger(object)) of.triggers.push(object);
    else if (isConfigMap(object)) of.configMaps.set(keyOf(object), object);
    else if (isKafkaSink(object)) of.sinks.push(object);
    else if (isChannel(object)) of.channels.push(object);
    else if (isChannelable(object)) of.channelables.push(object);
    else if (isSubscription(object)) of.subscriptions.push(object);
    else if (isEventPolicy(object)) of.eventPolicies.push(object);
    else if (isKafkaSource(object)) of.sources.push(object);
    else pass.ignored.set(keyOf(object), `${object.apiVersion} ${object.kind} is not handled by this controller`);
  }
  return of;
}

/** The contract: serving brokers with their egresses, sinks, then serving channels with theirs, in key order. */
function contract(
  pass: Pass,
  brokers: ReadonlyMap<ObjectKey, { readonly outcome: BrokerOutcome }>,
  sinks: readonly Resource[],
  channels: ReadonlyMap<ObjectKey, ChannelableOutcome>,
): Resource[] {
  const withEgresses = (outcome: { readonly key: ObjectKey; readonly resource: Resource | null }): Resource[] =>
    outcome.resource === null ? [] : [{ ...outcome.resource, egresses: pass.egresses.get(outcome.key) ?? [] }];
  return [...[...brokers.values()].flatMap(({ outcome }) => withEgresses(outcome)), ...sinks, ...[...channels.values()].flatMap(withEgresses)];
}

/** What to delete: only what this controller created, and only once its owner is gone. */
function obsolete(
  pass: Pass,
  topicOwners: ReadonlySet<ObjectKey>,
  triggers: ReadonlySet<ObjectKey>,
  subscriptionGroups: ReadonlySet<string>,
): { obsoleteTopics: string[]; obsoleteGroups: string[] } {
  const desiredTopicNames = new Set(pass.topics.map((t) => t.name));
  const obsoleteTopics = [...pass.observed.topics]
    .filter(([name, seen]) => !seen.external && !desiredTopicNames.has(name) && !topicOwners.has(seen.owner))
    .map(([name]) => name);
  // A group whose topic goes (its broker was deleted) goes too, before it (Kafka keeps empty groups).
  const goingTopics = new Set(obsoleteTopics);
  const obsoleteGroups = [...pass.observed.groups]
    .filter(([group, seen]) => (!triggers.has(seen.owner) && !subscriptionGroups.has(group)) || goingTopics.has(seen.topic))
    .map(([group]) => group);
  return { obsoleteTopics, obsoleteGroups };
}

function state(pass: Pass, resources: Resource[], obsoleteTopics: string[], obsoleteGroups: string[], generated: readonly KnObject[]): DesiredState {
  const { admitted, topics, groups, statuses, readyCauses, display, ignored } = pass;
  return { admitted, topics, groups, obsoleteTopics, obsoleteGroups, resources, statuses, readyCauses, objects: display, ignored, generated };
}
