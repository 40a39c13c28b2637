import { createHash } from 'node:crypto';
import { channelPath, channelTopic } from '../core/contract/paths.js';
import type { Resource } from '../core/contract/types.js';
import type { TopicSpec } from '../core/event-log/port.js';
import {
  IN_MEMORY_CHANNEL_TEMPLATE, isChannelableKind, type AdmittedChannel, type AdmittedChannelable, type ChannelTemplate,
} from './admission.js';
import * as c from './conditions.js';
import type { AddressBook, AddressEntry } from './destinations.js';
import { egressConfig } from './reconcile-broker.js';
import { addressableCondition, dataPlaneCondition, resolveDeadLetterSink } from './reconcile-steps.js';
import { apiGroup, MESSAGING_GROUP, MESSAGING_V1BETA1, objectKey, type KnObject, type ObjectKey } from './resources.js';
import type { DesiredTopic, Observed, ReconcileSettings } from './state.js';

/**
 * Channels, pure. Two kinds of object, as in Knative:
 *
 *   Channel (messaging.knative.dev/v1)  ──creates──▶  backing channel, same name, the template's kind
 *        ▲ mirrors status, address, subscribers          │
 *        └───────────────────────────────────────────────┘
 *   KafkaChannel / InMemoryChannel: topic knative-messaging-kafka.<ns>.<name> -> topic observed ready?
 *        -> dead-letter sink resolved? -> contract resource, ingress /channels/<ns>/<name> -> Ready
 *
 * Both backing kinds are one data plane: a topic in the event log the process runs on, an ingress
 * path, and one egress per Subscription (reconcile-subscription.ts) with no filter. What differs
 * is where the topic lives, and the status says so: an InMemoryChannel on Kafka is a Kafka topic
 * (durable, which a production user expects of a channel that "works"); a KafkaChannel on the
 * in-memory log is a topic in this process (events do not survive a restart).
 *
 * The channel's Ready does not wait for its subscriptions (Knative's channels do not); each
 * Subscription's state is in `status.subscribers` instead.
 */

export interface ChannelableOutcome {
  readonly key: ObjectKey;
  readonly channel: AdmittedChannelable;
  readonly topic: DesiredTopic | null;
  /** The channel's contract resource without egresses (subscriptions add them), or null while it cannot take events. */
  readonly resource: Resource | null;
  /** Without `subscribers`; `withSubscribers` adds them once the subscriptions are reconciled. */
  readonly status: c.ObjectStatus;
}

export interface ChannelableContext {
  readonly observed: Observed;
  readonly settings: ReconcileSettings;
  readonly addresses: AddressBook;
  /** Channel topic -> the channel (KafkaChannel or InMemoryChannel) that claimed it first, by key order. */
  readonly claims: ReadonlyMap<string, ObjectKey>;
}

export const channelTopicOf = (channel: { readonly object: KnObject }): string => channelTopic(channel.object.metadata.namespace, channel.object.metadata.name);

/** A channel's address: the ingress URL plus `/channels/<namespace>/<name>`, known before anything is created. */
export const channelAddressOf = (namespace: string, name: string, settings: ReconcileSettings): string =>
  `${settings.ingressUrl.replace(/\/+$/, '')}${channelPath(namespace, name)}`;

const onKafka = (settings: ReconcileSettings): boolean => (settings.kafkaBootstrapServers?.length ?? 0) > 0;

const defaultTemplates = new WeakMap<ReconcileSettings, ChannelTemplate>();

/**
 * The backing kind of a Channel without `spec.channelTemplate` (Knative's `default-ch-webhook`):
 * the one configured, else InMemoryChannel on the in-memory log and KafkaChannel on Kafka, with
 * the controller's topic settings. One object per settings, so admission results can be reused.
 */
export function defaultChannelTemplate(settings: ReconcileSettings): ChannelTemplate {
  const configured = settings.admission.channelTemplate;
  if (configured !== undefined) return configured;
  let template = defaultTemplates.get(settings);
  if (template === undefined) {
    template = onKafka(settings)
      ? { apiVersion: MESSAGING_V1BETA1, kind: 'KafkaChannel', spec: { numPartitions: settings.topicPartitions, replicationFactor: settings.topicReplicationFactor } }
      : IN_MEMORY_CHANNEL_TEMPLATE;
    defaultTemplates.set(settings, template);
  }
  return template;
}

/** Whether this controller serves the Channel's backing kind (else another controller does, or none). */
export const servesTemplate = (template: ChannelTemplate): boolean => apiGroup(template.apiVersion) === MESSAGING_GROUP && isChannelableKind(template.kind);

export const backingKeyOf = (channel: AdmittedChannel): ObjectKey =>
  objectKey(channel.template.kind, channel.object.metadata.namespace, channel.object.metadata.name);

const backings = new WeakMap<KnObject, KnObject>();

/**
 * The backing channel a Channel creates (Knative: same name and namespace, the template's
 * apiVersion and kind, the template's spec plus the Channel's delivery, owned by the Channel). Its
 * uid is derived from the Channel's, so it is the same on every pass and every restart. The same
 * object is returned while the Channel's admitted object is unchanged.
 */
export function backingChannelOf(channel: AdmittedChannel): KnObject {
  const cached = backings.get(channel.object);
  if (cached !== undefined) return cached;
  const { metadata } = channel.object;
  const spec = { ...(channel.template.spec ?? {}), ...(channel.rawDelivery === null ? {} : { delivery: channel.rawDelivery }) };
  const backing: KnObject = {
    apiVersion: channel.template.apiVersion,
    kind: channel.template.kind,
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      uid: derivedUid(metadata.uid, channel.template.kind),
      // Its spec never changes: a Channel's spec is immutable.
      generation: 1,
      creationTimestamp: metadata.creationTimestamp,
      annotations: {},
      labels: {},
      ownerReferences: [{ apiVersion: channel.object.apiVersion, kind: 'Channel', name: metadata.name, uid: metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec,
  };
  backings.set(channel.object, backing);
  return backing;
}

/** What a destination referring to this channel resolves to: its address once its topic is ready. */
export function channelAddressEntry(channel: AdmittedChannelable, ctx: Omit<ChannelableContext, 'addresses'>): AddressEntry {
  const topic = channelTopicOf(channel);
  const claimedBy = ctx.claims.get(topic);
  if (claimedBy !== undefined && claimedBy !== channel.key) return { url: null, why: `its name is taken by ${claimedBy}` };
  return ctx.observed.topics.get(topic)?.state === 'ready'
    ? { url: channelAddressOf(channel.object.metadata.namespace, channel.object.metadata.name, ctx.settings) }
    : { url: null, why: `its topic ${topic} is not ready` };
}

/** Topic settings: a KafkaChannel's own spec (with `retentionDuration` as `retention.ms`), else the controller's. */
export function channelTopicSpec(channel: AdmittedChannelable, settings: ReconcileSettings): TopicSpec {
  if (channel.topic === null) return { partitions: settings.topicPartitions, replicationFactor: settings.topicReplicationFactor };
  return { partitions: channel.topic.partitions, replicationFactor: channel.topic.replicationFactor, config: { 'retention.ms': String(channel.topic.retentionMs) } };
}

export function reconcileChannelable(channel: AdmittedChannelable, ctx: ChannelableContext): ChannelableOutcome {
  const { metadata } = channel.object;
  const topicName = channelTopicOf(channel);
  const conditions: c.Condition[] = [];

  // 1. The topic.
  let topic: DesiredTopic | null = null;
  const claimedBy = ctx.claims.get(topicName);
  if (claimedBy !== undefined && claimedBy !== channel.key) conditions.push(c.channelNameConflict(topicName, claimedBy));
  else {
    topic = { name: topicName, owner: channel.key, external: false, spec: channelTopicSpec(channel, ctx.settings) };
    const seen = ctx.observed.topics.get(topicName);
    switch (seen?.state) {
      case undefined:
        conditions.push(c.topicPending(topicName));
        break;
      case 'ready':
        conditions.push(c.channelTopicReady(topicName, seen.partitions, whereNote(channel, ctx.settings)));
        break;
      case 'missing':
      case 'failed':
        conditions.push(c.failedToCreateTopic(topicName, seen.state === 'failed' ? seen.error : 'the topic is missing'));
        break;
      default: {
        const unreachable: never = seen;
        return unreachable;
      }
    }
  }
  const topicReady = topic !== null && ctx.observed.topics.get(topicName)?.state === 'ready';

  // 2. The dead-letter sink of its delivery settings (the default of its subscriptions).
  const { uri: deadLetter, ok: deadLetterOk, condition: deadLetterCondition } = resolveDeadLetterSink(channel.delivery?.deadLetterSink, ctx.addresses);
  conditions.push(deadLetterCondition);

  // 3. The data plane, and the address once the channel can take events.
  conditions.push(dataPlaneCondition(ctx.observed.dataPlane));
  const serving = topicReady && deadLetterOk;
  conditions.push(addressableCondition(topicName, topicReady, deadLetterOk));

  const reference = { kind: channel.kind, namespace: metadata.namespace, name: metadata.name, uid: metadata.uid };
  const resource: Resource | null = serving
    ? {
        uid: metadata.uid,
        kind: channel.kind,
        reference,
        topics: [topicName],
        // Channels carry no hop limit (the ingress applies the TTL rule to brokers only).
        ingress: { path: channelPath(metadata.namespace, metadata.name), contentMode: 'binary' },
        egressConfig: channel.delivery === null ? null : egressConfig(channel.delivery, null, deadLetter, ctx.settings),
        egresses: [],
      }
    : null;
  const status: c.ObjectStatus = {
    observedGeneration: metadata.generation,
    conditions: c.withReady(c.CHANNELABLE_CONDITIONS, conditions),
    ...(serving ? { address: { url: channelAddressOf(metadata.namespace, metadata.name, ctx.settings) } } : {}),
    ...(deadLetter === null ? {} : { deadLetterSinkUri: deadLetter }),
  };
  return { key: channel.key, channel, topic, resource, status };
}

/** Where the topic lives, said when it is not what the kind suggests. */
function whereNote(channel: AdmittedChannelable, settings: ReconcileSettings): string {
  if (onKafka(settings)) return channel.kind === 'InMemoryChannel' ? 'this process runs on Kafka, so this InMemoryChannel is a Kafka topic and its events are durable' : '';
  return channel.kind === 'KafkaChannel' ? 'in the in-memory event log (dev mode): events do not survive a restart' : 'in the in-memory event log';
}

/** The channel's status with one entry per Subscription on it, in key order. */
export function withSubscribers(status: c.ObjectStatus, subscribers: readonly c.SubscriberStatus[]): c.ObjectStatus {
  return subscribers.length === 0 ? status : { ...status, subscribers };
}

/**
 * A Channel's status (Knative `ChannelStatus.PropagateStatuses`): its backing channel's Ready as
 * BackingChannelReady, its topic and dead-letter conditions as they are, its address and its
 * subscribers; `status.channel` names the backing channel.
 */
export function reconcileChannel(channel: AdmittedChannel, backing: c.ObjectStatus | undefined): c.ObjectStatus {
  const { metadata } = channel.object;
  const find = (type: string): c.Condition | undefined => backing?.conditions.find((x) => x.type === type);
  const conditions = [
    c.isReady(backing) ? c.backingChannelReady() : c.backingChannelNotReady(channel.template.kind, metadata.name, c.readyCondition(backing)),
    c.mirrored('TopicReady', find('TopicReady')),
    c.mirrored('DeadLetterSinkResolved', find('DeadLetterSinkResolved')),
    backing?.address === undefined ? c.notAddressable(`the backing ${channel.template.kind} "${metadata.name}" has no address yet`) : c.addressable(),
  ];
  return {
    observedGeneration: metadata.generation,
    conditions: c.withReady(c.CHANNEL_CONDITIONS, conditions),
    channel: { apiVersion: channel.template.apiVersion, kind: channel.template.kind, name: metadata.name, namespace: metadata.namespace },
    ...(backing?.address === undefined ? {} : { address: backing.address }),
    ...(backing?.subscribers === undefined ? {} : { subscribers: backing.subscribers }),
    ...(backing?.deadLetterSinkUri === undefined ? {} : { deadLetterSinkUri: backing.deadLetterSinkUri }),
  };
}

/** A UUID (version 5 layout) derived from an owner's uid and a kind: stable, and distinct from the owner's. */
function derivedUid(ownerUid: string, kind: string): string {
  const hash = createHash('sha1').update(`${ownerUid}/${kind}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
