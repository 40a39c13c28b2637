import { brokerTopic, channelTopic, subscriptionGroup, triggerGroup } from '../core/contract/paths.js';
import { EVENTING_GROUP, EXTERNAL_TOPIC_ANNOTATION, MESSAGING_GROUP, apiGroup, keyOf, type KnObject, type ObjectKey } from './resources.js';
import type { Observed } from './state.js';
import type { ObservedState } from './apply-topics.js';

/**
 * Cleanup before an object disappears (a source's `finalizing()` objects: on Kubernetes, those
 * carrying our finalizer after `kubectl delete`).
 *
 * A controller that has run all along has observed the topic and groups it created, with their
 * owners, and deletes them once the owner is gone (desired.ts, apply-topics.ts). A controller that
 * started after the object was created (a restart, a new leader) has observed nothing; it
 * "adopts" what the finalizing object owns, by the names the controller gives them, so that the
 * same deletion path removes them. An object is released (its finalizer removed) once nothing
 * observed is owned by it.
 */

interface Owned {
  readonly topics: readonly string[];
  readonly groups: readonly string[];
}

/** What each kind creates in the event log, by name. External topics are never owned. */
const OWNED_BY_KIND: Readonly<Record<string, (object: KnObject) => Owned>> = {
  [`${EVENTING_GROUP}/Broker`]: (o) => ({
    topics: o.metadata.annotations[EXTERNAL_TOPIC_ANNOTATION] ? [] : [brokerTopic(o.metadata.namespace, o.metadata.name)],
    groups: [],
  }),
  [`${EVENTING_GROUP}/Trigger`]: (o) => ({ topics: [], groups: [triggerGroup(o.metadata.namespace, o.metadata.name)] }),
  // Channels (kinds/backing-channel.ts): the topic; a Channel's is its backing channel's, same name.
  [`${MESSAGING_GROUP}/KafkaChannel`]: (o) => ({ topics: [channelTopic(o.metadata.namespace, o.metadata.name)], groups: [] }),
  [`${MESSAGING_GROUP}/InMemoryChannel`]: (o) => ({ topics: [channelTopic(o.metadata.namespace, o.metadata.name)], groups: [] }),
  [`${MESSAGING_GROUP}/Channel`]: (o) => ({ topics: [channelTopic(o.metadata.namespace, o.metadata.name)], groups: [] }),
  // Subscriptions (kinds/subscription.ts): the group on the channel spec.channel names.
  [`${MESSAGING_GROUP}/Subscription`]: (o) => {
    const channel = (o.spec as { channel?: { name?: unknown } } | undefined)?.channel?.name;
    return { topics: [], groups: typeof channel === 'string' && channel !== '' ? [subscriptionGroup(o.metadata.namespace, channel, o.metadata.uid)] : [] };
  },
};

const ownedBy = (object: KnObject): Owned | undefined => OWNED_BY_KIND[`${apiGroup(object.apiVersion)}/${object.kind}`]?.(object);

/**
 * Records as observed the topics and groups of finalizing objects that the controller has not
 * observed yet, unless a live object claims the same name. Returns how many it adopted.
 */
export function adoptFinalizing(finalizing: readonly KnObject[], live: readonly KnObject[], observed: ObservedState): number {
  if (finalizing.length === 0) return 0;
  const claimed = new Set<string>();
  for (const object of live) {
    const owned = ownedBy(object);
    for (const name of [...(owned?.topics ?? []), ...(owned?.groups ?? [])]) claimed.add(name);
  }
  let adopted = 0;
  for (const object of finalizing) {
    const owner = keyOf(object);
    const owned = ownedBy(object);
    if (owned === undefined) continue;
    for (const topic of owned.topics) {
      if (observed.topics.has(topic) || claimed.has(topic)) continue;
      // Whether it exists is not known: deleting a topic that is not there succeeds (apply-topics.ts).
      observed.topics.set(topic, { state: 'ready', partitions: 0, owner, external: false });
      adopted++;
    }
    for (const group of owned.groups) {
      if (observed.groups.has(group) || claimed.has(group)) continue;
      observed.groups.set(group, { state: 'ready', topic: '', owner });
      adopted++;
    }
  }
  return adopted;
}

/** The finalizing objects that own nothing observed any more: their cleanup is done. */
export function releasedKeys(finalizing: readonly KnObject[], observed: Observed): ObjectKey[] {
  if (finalizing.length === 0) return [];
  const owners = new Set<ObjectKey>();
  for (const seen of observed.topics.values()) if (!seen.external) owners.add(seen.owner);
  for (const seen of observed.groups.values()) owners.add(seen.owner);
  return finalizing.map(keyOf).filter((key) => !owners.has(key));
}
