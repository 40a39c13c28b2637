import { isBrokerError } from '../core/errors.js';
import type { EgressFault } from '../core/egress-faults.js';
import type { RewindOutcome } from '../core/rewind.js';
import type { ClusterRef } from '../core/contract/types.js';
import { clusterKey } from '../core/event-log/clusters.js';
import type { EventLog } from '../core/event-log/port.js';
import type { Logger } from '../core/logger.js';
import type { DataPlaneObservation, DataPlaneRole, DesiredGroup, DesiredTopic, GroupObservation, Observed, TopicObservation } from './state.js';

/**
 * The apply step: makes the event log match the desired topics and consumer groups, and records
 * each outcome as an observation — the only input from which statuses claim anything. Every
 * operation here is idempotent (create-if-absent, init-if-uncommitted, delete-if-present), so a
 * restarted controller simply does it all again.
 */
export class ObservedState implements Observed {
  readonly topics = new Map<string, TopicObservation>();
  readonly groups = new Map<string, GroupObservation>();
  dataPlane: DataPlaneObservation = { available: true };
  dataPlaneOf: ((uid: string, roles: readonly DataPlaneRole[]) => DataPlaneObservation) | undefined;
  egressFaults: ReadonlyMap<string, EgressFault> = new Map();
  rewindOutcomes: ReadonlyMap<string, readonly RewindOutcome[]> = new Map();
}

/**
 * The log of a topic's or group's cluster: the controller's own for `undefined`, else one opened
 * with the credentials of the Secret the cluster names. Rejects with KAFKA_AUTH_INVALID when that
 * Secret is missing or bad, which the topic's status then shows.
 */
export type LogFor = (cluster: ClusterRef | undefined) => Promise<EventLog>;

/** Admin requests in flight at once: enough to hide Kafka's latency, few enough to stay polite. */
const CONCURRENCY = 8;

/** Creates owned topics and checks external ones not yet seen ready; returns how many it tried. */
export async function ensureTopics(logFor: LogFor, topics: readonly DesiredTopic[], observed: ObservedState, logger: Logger): Promise<number> {
  // A topic seen ready on another cluster (the broker's ConfigMap changed) is made anew on its new one.
  const todo = topics.filter((t) => observed.topics.get(t.name)?.state !== 'ready' || !sameCluster(observed.topics.get(t.name)?.cluster, t.cluster));
  await forEachLimited(todo, async (topic) => {
    const base = { owner: topic.owner, ...(topic.cluster === undefined ? {} : { cluster: topic.cluster }) };
    try {
      const log = await logFor(topic.cluster);
      if (!topic.external) await log.ensureTopic(topic.name, topic.spec);
      const info = await log.describeTopic(topic.name);
      if (info === undefined) {
        observed.topics.set(topic.name, topic.external
          ? { state: 'missing', ...base, external: true }
          : { state: 'failed', ...base, external: false, error: 'the topic is missing right after it was created' });
        logger.warn({ topic: topic.name, owner: topic.owner }, `topic ${topic.name} does not exist`);
      } else {
        observed.topics.set(topic.name, { state: 'ready', partitions: info.partitions, ...base, external: topic.external });
        logger.info({ topic: topic.name, partitions: info.partitions, owner: topic.owner }, topic.external ? `using external topic ${topic.name}` : `topic ${topic.name} ready`);
      }
    } catch (error) {
      const code = isBrokerError(error) ? error.code : undefined;
      observed.topics.set(topic.name, { state: 'failed', ...base, external: topic.external, error: messageOf(error), ...(code === undefined ? {} : { code }) });
      logger.warn({ topic: topic.name, owner: topic.owner, err: error, ...(code === undefined ? {} : { code }) }, `topic ${topic.name}: ${messageOf(error)}`);
    }
  });
  return todo.length;
}

/**
 * Fixes the starting position of every desired consumer group whose topic is ready: a new group
 * starts at the topic's end ("latest") at this moment; a group that already has offsets (a
 * changed trigger, a restart) is left where it is. Returns how many groups it tried.
 */
export async function initGroups(logFor: LogFor, groups: readonly DesiredGroup[], observed: ObservedState, logger: Logger): Promise<number> {
  const todo = groups.filter((g) => {
    const seen = observed.groups.get(g.group);
    const topics = [g.topic, ...(g.moreTopics ?? [])];
    return !(seen?.state === 'ready' && seen.topic === g.topic && sameCluster(seen.cluster, g.cluster)) && topics.every((t) => observed.topics.get(t)?.state === 'ready');
  });
  await forEachLimited(todo, async (g) => {
    const where = g.cluster === undefined ? {} : { cluster: g.cluster };
    try {
      const groupLog = await logFor(g.cluster);
      for (const topic of [g.topic, ...(g.moreTopics ?? [])]) await groupLog.initGroup(g.group, topic, g.start ?? 'latest');
      observed.groups.set(g.group, { state: 'ready', topic: g.topic, owner: g.owner, ...where });
      logger.debug({ group: g.group, topic: g.topic }, `consumer group ${g.group} positioned`);
    } catch (error) {
      observed.groups.set(g.group, { state: 'failed', topic: g.topic, owner: g.owner, error: messageOf(error), ...where });
      logger.warn({ group: g.group, topic: g.topic, err: error }, `consumer group ${g.group}: ${messageOf(error)}`);
    }
  });
  return todo.length;
}

/**
 * Deletes consumer groups whose trigger is gone, then topics whose broker is gone. Called after
 * the contract without them is published, so the data plane lets go first; a deletion that fails
 * (e.g. Kafka refuses to delete a group whose members are still leaving) stays observed and is
 * tried again on a later pass.
 */
export async function deleteObsolete(
  logFor: LogFor,
  obsolete: { readonly groups: readonly string[]; readonly topics: readonly string[] },
  observed: ObservedState,
  logger: Logger,
): Promise<void> {
  await forEachLimited(obsolete.groups, async (group) => {
    try {
      await (await logFor(observed.groups.get(group)?.cluster)).deleteGroup(group);
      observed.groups.delete(group);
      logger.info({ group }, `consumer group ${group} deleted`);
    } catch (error) {
      logger.warn({ group, err: error }, `consumer group ${group} not deleted yet: ${messageOf(error)}`);
    }
  });
  await forEachLimited(obsolete.topics, async (topic) => {
    try {
      await (await logFor(observed.topics.get(topic)?.cluster)).deleteTopic(topic);
      observed.topics.delete(topic);
      // Offsets of a deleted topic are gone with it: its groups must be positioned again.
      for (const [group, seen] of observed.groups) if (seen.topic === topic) observed.groups.delete(group);
      logger.info({ topic }, `topic ${topic} deleted`);
    } catch (error) {
      logger.warn({ topic, err: error }, `topic ${topic} not deleted yet: ${messageOf(error)}`);
    }
  });
}

function sameCluster(a: ClusterRef | undefined, b: ClusterRef | undefined): boolean {
  return (a === undefined ? '' : clusterKey(a)) === (b === undefined ? '' : clusterKey(b));
}

async function forEachLimited<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
