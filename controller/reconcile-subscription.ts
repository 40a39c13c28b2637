import { channelTopic, subscriptionGroup } from '../core/contract/paths.js';
import type { Egress } from '../core/contract/types.js';
import type { AdmittedSubscription, Destination } from './admission.js';
import * as c from './conditions.js';
import type { AddressBook } from './destinations.js';
import { egressConfig } from './reconcile-broker.js';
import type { ChannelableOutcome } from './reconcile-channel.js';
import type { ObjectKey } from './resources.js';
import type { DesiredGroup, Observed, ReconcileSettings } from './state.js';

/**
 * One Subscription, pure: its consumer group, its egress on its channel's resource, its status,
 * and its entry in the channel's `status.subscribers`.
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
    group: wanted ? { group, topic, owner: subscription.key } : null,
    egress,
    status,
    subscriber: entry,
  };
}
