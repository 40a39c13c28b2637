import type { Destination } from './admission.js';
import * as c from './conditions.js';
import type { AddressBook } from './destinations.js';
import type { DataPlaneObservation, DesiredTopic, Observed } from './state.js';

/** Steps the reconcilers of brokers, channels, sinks and triggers share, each with its condition. */

/**
 * TopicReady of a broker's or sink's topic from what was observed. `inMemory`: the sink's topic
 * lives in this process's in-memory log, which the ready message says.
 */
export function topicCondition(topic: DesiredTopic, observed: Observed, inMemory = false): c.Condition {
  const seen = observed.topics.get(topic.name);
  switch (seen?.state) {
    case undefined:
      return c.topicPending(topic.name);
    case 'ready':
      if (inMemory) return c.inMemoryTopicReady(topic.name, seen.partitions);
      return topic.external ? c.externalTopicReady(topic.name, seen.partitions) : c.topicCreated(topic.name, seen.partitions);
    case 'missing':
      return c.externalTopicMissing(topic.name);
    case 'failed':
      return topic.external ? c.externalTopicMissing(topic.name, seen.error) : c.failedToCreateTopic(topic.name, seen.error);
    default: {
      const unreachable: never = seen;
      return unreachable;
    }
  }
}

export interface DeadLetterStep {
  /** The resolved dead-letter sink, or null when none is configured or it does not resolve. */
  readonly uri: string | null;
  /** False only when a configured sink does not resolve. */
  readonly ok: boolean;
  readonly condition: c.Condition;
}

/**
 * DeadLetterSinkResolved: the object's own dead-letter sink, else `inherited` (a trigger's
 * broker's, already resolved), else none (which Knative reports True, DeadLetterSinkNotConfigured).
 */
export function resolveDeadLetterSink(sink: Destination | null | undefined, addresses: AddressBook, inherited?: string): DeadLetterStep {
  if (sink) {
    const resolved = addresses.resolve(sink);
    return resolved.ok
      ? { uri: resolved.uri, ok: true, condition: c.deadLetterSinkResolved() }
      : { uri: null, ok: false, condition: c.deadLetterSinkUnresolved(resolved.message) };
  }
  if (inherited !== undefined) return { uri: inherited, ok: true, condition: c.deadLetterSinkResolved() };
  return { uri: null, ok: true, condition: c.deadLetterSinkNotConfigured() };
}

export const dataPlaneCondition = (dataPlane: DataPlaneObservation): c.Condition =>
  dataPlane.available ? c.dataPlaneAvailable() : c.dataPlaneNotAvailable(dataPlane.message);

/** Addressable once the topic is ready and any dead-letter sink resolves: then the ingress can take events. */
export const addressableCondition = (topic: string, topicReady: boolean, deadLetterOk: boolean): c.Condition =>
  topicReady && deadLetterOk ? c.addressable() : c.notAddressable(topicReady ? 'the dead letter sink is not resolved' : `topic ${topic} is not ready`);
