import { channelTopic, subscriptionGroup } from '../../core/contract/paths.js';
import type { DeliveryOrder, Egress } from '../../core/contract/types.js';
import * as c from '../conditions.js';
import type { AddressBook } from '../destinations.js';
import { apiGroup, keyOf, MESSAGING_GROUP, objectKey, type KnObject, type ObjectKey } from '../resources.js';
import type { DesiredGroup, Observed, ReconcileSettings } from '../state.js';
import { invalid, isRecord, specNotAnObject, unknownFields, type Admission, type FieldError } from './admission.js';
import { isChannelableKind, type BackingChannels, type ChannelableOutcome } from './backing-channel.js';
import { backingKeyOf, type Channels } from './channel.js';
import { deliveryOrderOf, destination, egressConfig, kReference, optionalDelivery, type Delivery, type Destination, type KReference } from './delivery.js';
import { addEgress, admitOnce, followReadyCause, type Pass } from './pass.js';

/**
 * Subscription (messaging.knative.dev/v1), pure: admission, then its consumer group, its egress on
 * its channel's resource, its status, and its entry in the channel's `status.subscribers`.
 *
 *   channel exists and serving? -> subscriber, reply, dead-letter sink resolved? -> consumer group
 *   starting offsets fixed (observed)? -> egress in the contract (AddedToChannel) -> Ready
 *
 * A channel does no filtering: every event on it goes to every subscription. A subscriber's reply
 * goes to `spec.reply` by HTTP, or is discarded without one (Knative). Like a trigger, the egress
 * enters the contract only once the group's starting position is fixed ('latest', once), so every
 * event the channel accepts after the Subscription reports Ready reaches it. A Subscription whose
 * channel does not exist yet waits, and becomes Ready when the channel appears.
 *
 * The consumer group is eventing-kafka-broker's: `kafka.<namespace>.<channel>.<subscription uid>`,
 * so a Subscription deleted and created again starts afresh rather than where the old one stopped.
 * A Subscription on a Channel subscribes to its backing channel, which has the Channel's name.
 */

export const isSubscription = (object: KnObject): boolean => object.kind === 'Subscription' && apiGroup(object.apiVersion) === MESSAGING_GROUP;

// ---- Admission ----

export interface AdmittedSubscription {
  readonly key: ObjectKey;
  readonly object: KnObject;
  /** `spec.channel`, its namespace defaulted to the Subscription's. */
  readonly channel: KReference;
  readonly subscriber: Destination;
  readonly reply: Destination | null;
  readonly delivery: Delivery | null;
  readonly deliveryOrder: DeliveryOrder;
}

const SUBSCRIPTION_SPEC_FIELDS = ['channel', 'subscriber', 'reply', 'delivery'] as const;

/** Knative's `Subscription.Validate`: a channel and a subscriber are required; spec.channel never changes. */
export function admitSubscription(object: KnObject, previous: KnObject | undefined): Admission<AdmittedSubscription> {
  const namespace = object.metadata.namespace;
  if (!isRecord(object.spec)) return specNotAnObject(object.spec);
  const spec = object.spec;
  const before = previous !== undefined && isRecord(previous.spec) && isRecord(previous.spec['channel']) ? previous.spec['channel'] : undefined;
  const now = spec['channel'];
  if (before !== undefined && isRecord(now)) {
    // The subscription's consumer group and its position live on that channel's topic.
    const same = before['kind'] === now['kind'] && before['name'] === now['name']
      && apiGroup(String(before['apiVersion'])) === apiGroup(String(now['apiVersion']))
      && (before['namespace'] || namespace) === (now['namespace'] || namespace);
    if (!same) {
      return {
        ok: false,
        reason: 'ImmutableFieldChanged',
        errors: [{ path: 'spec.channel', message: `Immutable field changed (was ${String(before['kind'])} "${String(before['name'])}", now ${String(now['kind'])} "${String(now['name'])}"); delete the Subscription and create it again to move it` }],
      };
    }
  }
  const errors: FieldError[] = [...unknownFields(spec, SUBSCRIPTION_SPEC_FIELDS, 'spec')];
  let channel: KReference | null = null;
  if (now === undefined || now === null) errors.push({ path: 'spec.channel', message: 'missing field(s): the Subscription must reference a channel' });
  else {
    channel = kReference(now, 'spec.channel', namespace, errors, false);
    if (channel !== null && apiGroup(channel.apiVersion) !== MESSAGING_GROUP) {
      errors.push({ path: 'spec.channel.apiVersion', message: `invalid value: ${channel.apiVersion} (a channel of ${MESSAGING_GROUP})` });
    }
  }
  let subscriber: Destination | null = null;
  if (spec['subscriber'] === undefined || spec['subscriber'] === null) errors.push({ path: 'spec.subscriber', message: 'missing field(s): the Subscription must reference a subscriber' });
  else subscriber = destination(spec['subscriber'], 'spec.subscriber', namespace, errors);
  const reply = spec['reply'] === undefined || spec['reply'] === null ? null : destination(spec['reply'], 'spec.reply', namespace, errors);
  const delivery = optionalDelivery(spec['delivery'], 'spec.delivery', namespace, errors);
  const deliveryOrder = deliveryOrderOf(object, errors);
  if (errors.length > 0 || channel === null || subscriber === null) return invalid(errors);
  return { ok: true, value: { key: keyOf(object), object, channel, subscriber, reply, delivery, deliveryOrder } };
}

// ---- One subscription ----

export interface SubscriptionOutcome {
  readonly key: ObjectKey;
  /** The backing channel (KafkaChannel or InMemoryChannel) whose resource gets the egress; null when there is none. */
  readonly channelKey: ObjectKey | null;
  readonly group: DesiredGroup | null;
  readonly egress: Egress | null;
  readonly status: c.ObjectStatus;
  /** The entry in the channel's `status.subscribers`; null when there is no channel to list it. */
  readonly subscriber: c.SubscriberStatus | null;
}

export interface SubscriptionContext {
  /** The channel `spec.channel` leads to (through a Channel to its backing channel). */
  readonly channel:
    | { readonly state: 'admitted'; readonly outcome: ChannelableOutcome }
    | { readonly state: 'refused'; readonly status: c.ObjectStatus }
    | { readonly state: 'absent' };
  readonly addresses: AddressBook;
  readonly observed: Observed;
  readonly settings: ReconcileSettings;
}

/** The subscription's group: on the channel its `spec.channel` names (a Channel's backing channel has its name). */
export const groupOf = (namespace: string, channelName: string, uid: string): string => subscriptionGroup(namespace, channelName, uid);

export function reconcileSubscription(subscription: AdmittedSubscription, ctx: SubscriptionContext): SubscriptionOutcome {
  const { metadata } = subscription.object;
  const ref = subscription.channel;
  const group = groupOf(ref.namespace, ref.name, metadata.uid);
  const topic = channelTopic(ref.namespace, ref.name);
  const conditions: c.Condition[] = [];
  const channel = ctx.channel.state === 'admitted' ? ctx.channel.outcome : null;

  // 1. The channel.
  switch (ctx.channel.state) {
    case 'absent':
      conditions.push(c.channelDoesNotExist(ref.kind, ref.namespace, ref.name));
      break;
    case 'refused':
      conditions.push(c.channelNotReady(ref.kind, ref.name, c.readyCondition(ctx.channel.status)));
      break;
    case 'admitted':
      conditions.push(c.isReady(ctx.channel.outcome.status) ? c.channelReady() : c.channelNotReady(ref.kind, ref.name, c.readyCondition(ctx.channel.outcome.status)));
      break;
    default: {
      const unreachable: never = ctx.channel;
      return unreachable;
    }
  }
  const serving = channel?.resource ?? null;

  // 2. The references: subscriber, reply, dead-letter sink (its own, else its channel's).
  const resolve = (d: Destination) => ctx.addresses.resolve(d);
  const subscriber = resolve(subscription.subscriber);
  const reply = subscription.reply === null ? null : resolve(subscription.reply);
  const ownDeadLetter = subscription.delivery?.deadLetterSink ? resolve(subscription.delivery.deadLetterSink) : null;
  const deadLetter = ownDeadLetter?.ok ? ownDeadLetter.uri : ownDeadLetter === null ? channel?.status.deadLetterSinkUri ?? null : null;
  if (!subscriber.ok) conditions.push(c.referencesUnresolved('SubscriberResolveFailed', `spec.subscriber: ${subscriber.message}`));
  else if (reply !== null && !reply.ok) conditions.push(c.referencesUnresolved('ReplyResolveFailed', `spec.reply: ${reply.message}`));
  else if (ownDeadLetter !== null && !ownDeadLetter.ok) conditions.push(c.referencesUnresolved('DeadLetterSinkResolveFailed', `spec.delivery.deadLetterSink: ${ownDeadLetter.message}`));
  else conditions.push(c.referencesResolved());
  const referencesOk = subscriber.ok && (reply === null || reply.ok) && (ownDeadLetter === null || ownDeadLetter.ok);

  // 3. The consumer group: wanted once the channel serves and the references resolve; added once its offsets are fixed.
  const wanted = serving !== null && referencesOk;
  const seen = ctx.observed.groups.get(group);
  const groupReady = seen?.state === 'ready' && seen.topic === topic;
  const egress: Egress | null = wanted && groupReady && subscriber.ok && channel !== null
    ? {
        uid: metadata.uid,
        reference: { kind: 'Subscription', namespace: metadata.namespace, name: metadata.name, uid: metadata.uid },
        consumerGroup: group,
        destination: subscriber.uri,
        reply: reply?.ok ? { kind: 'url', url: reply.uri } : { kind: 'discard' },
        // A channel hands every event to every subscription.
        filter: null,
        deliveryOrder: subscription.deliveryOrder,
        contentMode: (subscription.delivery?.format ?? channel.channel.delivery?.format) === 'json' ? 'structured' : 'binary',
        // Without its own delivery settings the channel's apply (the resource's egressConfig).
        egressConfig: subscription.delivery === null ? null : egressConfig(subscription.delivery, channel.channel.delivery, deadLetter, ctx.settings),
      }
    : null;
  if (egress !== null) conditions.push(c.addedToChannel(group));
  else if (seen?.state === 'failed' && seen.topic === topic) conditions.push(c.failedToAddToChannel(group, seen.error));
  else conditions.push(c.addingToChannel(group, wanted ? 'fixing its starting offsets' : `waiting for ${serving === null ? 'the channel' : 'its destinations to resolve'}`));

  const physical = {
    ...(subscriber.ok ? { subscriberUri: subscriber.uri } : {}),
    ...(reply?.ok ? { replyUri: reply.uri } : {}),
    ...(deadLetter === null ? {} : { deadLetterSinkUri: deadLetter }),
  };
  const status: c.ObjectStatus = {
    observedGeneration: metadata.generation,
    conditions: c.withReady(c.SUBSCRIPTION_CONDITIONS, conditions),
    physicalSubscription: physical,
  };
  const ready = c.readyCondition(status);
  const entry: c.SubscriberStatus | null = channel === null
    ? null
    : {
        uid: metadata.uid,
        observedGeneration: metadata.generation,
        ready: ready?.status ?? 'Unknown',
        ...(ready?.status !== 'True' && ready?.message !== undefined ? { message: ready.message } : {}),
      };
  return {
    key: subscription.key,
    channelKey: channel?.key ?? null,
    // On the channel's cluster when kafka-channel-config names one.
    group: wanted ? { group, topic, owner: subscription.key, ...(channel?.topic?.cluster === undefined ? {} : { cluster: channel.topic.cluster }) } : null,
    egress,
    status,
    subscriber: entry,
  };
}

// ---- Phase of the desired state (desired.ts) ----

export interface Subscriptions {
  /** Each backing channel's `status.subscribers`, by its key, in key order. */
  readonly subscribers: ReadonlyMap<ObjectKey, readonly c.SubscriberStatus[]>;
  /** The group of every Subscription there is: kept, with its position, while the Subscription exists. */
  readonly groups: ReadonlySet<string>;
}

/**
 * Admits the Subscriptions and reconciles each on the channel it names: its group, and its egress
 * on the channel's resource. A Subscription on a Channel leads to its backing channel; one on a
 * channel kind this controller does not serve is left alone.
 */
export function reconcileSubscriptions(
  pass: Pass,
  objects: readonly KnObject[],
  channels: Channels,
  backing: BackingChannels,
  backingOutcomes: ReadonlyMap<ObjectKey, ChannelableOutcome>,
): Subscriptions {
  const subscribers = new Map<ObjectKey, c.SubscriberStatus[]>();
  const groups = new Set<string>();
  for (const raw of objects) {
    const key = keyOf(raw);
    const previous = pass.previouslyAdmitted.get(key);
    const admission = admitOnce(raw, previous, pass.settings, () => admitSubscription(raw, previous));
    const channelName = channelNameOf(admission.ok ? admission.value.object : previous);
    if (channelName !== undefined) groups.add(groupOf(raw.metadata.namespace, channelName, raw.metadata.uid));
    if (!admission.ok) {
      if (previous !== undefined) pass.admitted.set(key, previous);
      pass.display.set(key, raw);
      pass.statuses.set(key, { observedGeneration: raw.metadata.generation, conditions: c.refusedConditions(c.SUBSCRIPTION_CONDITIONS, admission.reason, admission.errors) });
      continue;
    }
    const subscription = admission.value;
    const ref = subscription.channel;
    // A Channel leads to its backing channel (which has its name); another controller's channel kind is left alone.
    let channelKey: ObjectKey | undefined;
    if (ref.kind === 'Channel') {
      const owner = objectKey('Channel', ref.namespace, ref.name);
      const ignoredBecause = pass.ignored.get(owner);
      if (ignoredBecause !== undefined) {
        pass.ignored.set(key, `its channel ${owner} is not handled by this controller: ${ignoredBecause}`);
        continue;
      }
      const inForce = channels.inForce.get(owner);
      if (inForce !== undefined) channelKey = backingKeyOf(inForce);
    } else if (isChannelableKind(ref.kind)) channelKey = objectKey(ref.kind, ref.namespace, ref.name);
    else {
      pass.ignored.set(key, `its channel is a ${ref.apiVersion} ${ref.kind}, which this controller does not serve (Channel, KafkaChannel, InMemoryChannel)`);
      continue;
    }
    pass.admitted.set(key, subscription.object);
    pass.display.set(key, subscription.object);
    const outcome = channelKey === undefined ? undefined : backingOutcomes.get(channelKey);
    const refusedStatus = ref.kind === 'Channel' ? pass.statuses.get(objectKey('Channel', ref.namespace, ref.name)) : channelKey === undefined ? undefined : backing.refused.get(channelKey);
    const channelState: SubscriptionContext['channel'] = outcome !== undefined
      ? { state: 'admitted', outcome }
      : refusedStatus !== undefined ? { state: 'refused', status: refusedStatus } : { state: 'absent' };
    const reconciled = reconcileSubscription(subscription, { channel: channelState, addresses: pass.addresses, observed: pass.observed, settings: pass.settings });
    pass.statuses.set(key, reconciled.status);
    if (channelState.state !== 'absent') {
      followReadyCause(pass, key, c.SUBSCRIPTION_CONDITIONS, reconciled.status, 'ChannelReady', channelState.state === 'admitted' ? { key: channelKey, status: outcome?.status } : { status: channelState.status });
    }
    if (reconciled.group !== null) pass.groups.push(reconciled.group);
    if (reconciled.channelKey !== null) {
      if (reconciled.egress !== null) addEgress(pass, reconciled.channelKey, reconciled.egress);
      if (reconciled.subscriber !== null) subscribers.set(reconciled.channelKey, [...(subscribers.get(reconciled.channelKey) ?? []), reconciled.subscriber]);
    }
  }
  return { subscribers, groups };
}

function channelNameOf(object: KnObject | undefined): string | undefined {
  const spec = object?.spec;
  if (typeof spec !== 'object' || spec === null) return undefined;
  const channel = (spec as Record<string, unknown>)['channel'];
  if (typeof channel !== 'object' || channel === null) return undefined;
  const name = (channel as Record<string, unknown>)['name'];
  return typeof name === 'string' && name !== '' ? name : undefined;
}
