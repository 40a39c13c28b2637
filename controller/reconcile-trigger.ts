import type { Egress } from '../core/contract/types.js';
import { triggerGroup } from '../core/contract/paths.js';
import { formatFieldErrors, type AdmittedBroker, type AdmittedTrigger } from './admission.js';
import * as c from './conditions.js';
import type { AddressBook } from './destinations.js';
import { egressConfig, topicOf, type BrokerOutcome } from './reconcile-broker.js';
import { resolveDeadLetterSink } from './reconcile-steps.js';
import type { ObjectKey } from './resources.js';
import type { DesiredGroup, Observed, ReconcileSettings } from './state.js';

/**
 * One Trigger, pure: its consumer group, its egress and its status.
 *
 *   broker serving? -> subscriber resolved? -> dead-letter sink resolved? -> consumer group
 *   starting offsets fixed (observed)? -> egress in the contract -> Ready
 *
 * Ready means ready: the egress enters the contract only once the group's starting position is
 * fixed (`initGroup(group, topic, 'latest')`), so every event the ingress accepts after the
 * trigger reports Ready reaches it. The position is fixed once, when the trigger first gets that
 * far; a changed filter, subscriber or delivery keeps the group and its position.
 */

export interface TriggerOutcome {
  readonly key: ObjectKey;
  /** The broker resource this trigger's egress belongs to. */
  readonly brokerKey: ObjectKey;
  readonly group: DesiredGroup | null;
  readonly egress: Egress | null;
  readonly status: c.ObjectStatus;
}

export interface TriggerContext {
  /** The trigger's broker: admitted and reconciled, refused (with its status), or absent. */
  readonly broker:
    | { readonly state: 'admitted'; readonly broker: AdmittedBroker; readonly outcome: BrokerOutcome }
    | { readonly state: 'refused'; readonly status: c.ObjectStatus }
    | { readonly state: 'absent' };
  readonly brokerKey: ObjectKey;
  readonly addresses: AddressBook;
  readonly observed: Observed;
  readonly settings: ReconcileSettings;
  /** Group name -> the trigger that claimed it first (by key order). */
  readonly groupClaims: ReadonlyMap<string, ObjectKey>;
}

export function reconcileTrigger(trigger: AdmittedTrigger, ctx: TriggerContext): TriggerOutcome {
  const { metadata } = trigger.object;
  const group = triggerGroup(metadata.namespace, metadata.name);
  const conditions: c.Condition[] = [];
  const broker = ctx.broker.state === 'admitted' ? ctx.broker : null;

  // 1. The broker.
  if (ctx.broker.state === 'absent') conditions.push(c.brokerDoesNotExist(metadata.namespace, trigger.broker));
  else if (ctx.broker.state === 'refused') conditions.push(c.brokerNotReady(trigger.broker, c.readyCondition(ctx.broker.status)));
  else if (c.isReady(ctx.broker.outcome.status)) conditions.push(c.brokerReady());
  else conditions.push(c.brokerNotReady(trigger.broker, c.readyCondition(ctx.broker.outcome.status)));
  const serving = broker?.outcome.resource ?? null;

  // 2. The subscriber.
  const subscriber = ctx.addresses.resolve(trigger.subscriber);
  conditions.push(subscriber.ok ? c.subscriberResolved() : c.subscriberUnresolved(subscriber.message));

  // 3. The dead-letter sink: the trigger's own, else its broker's.
  const { uri: deadLetter, ok: deadLetterOk, condition: deadLetterCondition } =
    resolveDeadLetterSink(trigger.delivery?.deadLetterSink, ctx.addresses, broker?.outcome.status.deadLetterSinkUri);
  conditions.push(deadLetterCondition);

  // 4. The consumer group: wanted once everything above is in place; Ready once its offsets are fixed.
  const claimedBy = ctx.groupClaims.get(group);
  const conflict = claimedBy !== undefined && claimedBy !== trigger.key;
  const wanted = serving !== null && broker !== null && subscriber.ok && deadLetterOk && !conflict;
  const topic = broker === null ? null : topicOf(broker.broker);
  const seen = ctx.observed.groups.get(group);
  const groupReady = seen?.state === 'ready' && seen.topic === topic;
  if (conflict) conditions.push(c.groupNameConflict(group, claimedBy));
  else if (groupReady) conditions.push(c.subscriptionReady(group));
  else if (seen?.state === 'failed' && seen.topic === topic) conditions.push(c.failedToInitGroup(group, seen.error));
  else conditions.push(c.subscriptionPending(group, wanted ? 'fixing its starting offsets' : `waiting for ${serving === null ? 'the broker' : 'its destinations to resolve'}`));

  const egress: Egress | null = wanted && groupReady && subscriber.ok
    ? {
        uid: metadata.uid,
        reference: { kind: 'Trigger', namespace: metadata.namespace, name: metadata.name, uid: metadata.uid },
        consumerGroup: group,
        destination: subscriber.uri,
        // Knative broker semantics: a reply is a new event on the broker (it passes every trigger's filter).
        reply: { kind: 'topic' },
        filter: trigger.filter,
        deliveryOrder: trigger.deliveryOrder,
        contentMode: (trigger.delivery?.format ?? broker.broker.delivery?.format) === 'json' ? 'structured' : 'binary',
        egressConfig: trigger.delivery === null ? null : egressConfig(trigger.delivery, broker.broker.delivery, deadLetter, ctx.settings),
      }
    : null;

  const warnings = trigger.warnings.length === 0 ? undefined : `warning: ${formatFieldErrors(trigger.warnings)}`;
  const status: c.ObjectStatus = {
    observedGeneration: metadata.generation,
    conditions: c.withReady(c.TRIGGER_CONDITIONS, conditions, warnings),
    ...(subscriber.ok ? { subscriberUri: subscriber.uri } : {}),
    ...(deadLetter === null ? {} : { deadLetterSinkUri: deadLetter }),
  };
  return {
    key: trigger.key,
    brokerKey: ctx.brokerKey,
    group: wanted && topic !== null ? { group, topic, owner: trigger.key } : null,
    egress,
    status,
  };
}
