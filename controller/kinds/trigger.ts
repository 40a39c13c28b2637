import { createHash } from 'node:crypto';
import type { DeliveryOrder, Egress, EgressAuth } from '../../core/contract/types.js';
import { triggerGroup } from '../../core/contract/paths.js';
import { describeHeld, describeSkipped } from '../../core/egress-faults.js';
import * as c from '../conditions.js';
import type { AddressBook } from '../destinations.js';
import { apiGroup, EVENTING_GROUP, keyOf, objectKey, type KnObject, type ObjectKey } from '../resources.js';
import type { DesiredGroup, Observed, ReconcileSettings } from '../state.js';
import { formatFieldErrors, invalid, isRecord, specNotAnObject, unknownFields, type Admission, type FieldError } from './admission.js';
import { topicOf, type AdmittedBroker, type BrokerOutcome, type Brokers } from './broker.js';
import { deliveryOrderOf, destination, egressConfig, optionalDelivery, resolveDeadLetterSink, type Delivery, type Destination } from './delivery.js';
import { addEgress, admitInto, followReadyCause, type Pass } from './pass.js';
import { triggerFilter } from './trigger-filter.js';
import { rewindRecords, rewindRequestOf } from './trigger-rewind.js';
import type { Filter } from '../../core/filters/types.js';

/**
 * Trigger (eventing.knative.dev/v1), pure: admission (its filter in trigger-filter.ts), then its
 * consumer group, its egress on its broker's resource and its status.
 *
 *   broker serving? -> subscriber resolved? -> dead-letter sink resolved? -> consumer group
 *   starting offsets fixed (observed)? -> egress in the contract -> Ready
 *
 * Ready means ready: the egress enters the contract only once the group's starting position is
 * fixed (`initGroup(group, topic, 'latest')`), so every event the ingress accepts after the
 * trigger reports Ready reaches it. The position is fixed once, when the trigger first gets that
 * far; a changed filter, subscriber or delivery keeps the group and its position.
 */

export const isTrigger = (object: KnObject): boolean => object.kind === 'Trigger' && apiGroup(object.apiVersion) === EVENTING_GROUP;

/**
 * A Trigger's OIDC identity (`status.auth.serviceAccountName`): the ServiceAccount, in its
 * namespace, whose tokens the dispatcher presents to its destinations. `oidc-trigger-<name>`; a
 * name that would pass the 63 characters of a DNS label is cut and ends in a hash of the whole.
 */
export function triggerServiceAccount(name: string): string {
  const full = `oidc-trigger-${name}`;
  if (full.length <= 63) return full;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${full.slice(0, 52).replace(/[-.]+$/, '')}-${hash}`;
}

// ---- Admission ----

export interface AdmittedTrigger {
  readonly key: ObjectKey;
  readonly object: KnObject;
  readonly broker: string;
  readonly filter: Filter | null;
  readonly subscriber: Destination;
  readonly delivery: Delivery | null;
  readonly deliveryOrder: DeliveryOrder;
  /** Problems that do not stop the trigger (e.g. `spec.filter` ignored because `spec.filters` is set). */
  readonly warnings: readonly FieldError[];
}

const TRIGGER_SPEC_FIELDS = ['broker', 'filter', 'filters', 'subscriber', 'delivery'] as const;

export function defaultTrigger(object: KnObject): KnObject {
  // Knative defaults a missing filter to an empty one (match everything); we keep it absent,
  // which means the same and keeps `get -o yaml` close to what was written.
  if (object.spec === undefined || !isRecord(object.spec)) return object;
  const broker = object.spec['broker'];
  if (typeof broker !== 'string' || broker === '' || object.metadata.labels['eventing.knative.dev/broker'] === broker) return object;
  return { ...object, metadata: { ...object.metadata, labels: { ...object.metadata.labels, 'eventing.knative.dev/broker': broker } } };
}

export function admitTrigger(raw: KnObject, previous: KnObject | undefined): Admission<AdmittedTrigger> {
  const object = defaultTrigger(raw);
  const namespace = object.metadata.namespace;
  if (!isRecord(object.spec)) return specNotAnObject(object.spec);
  const spec = object.spec;
  const errors: FieldError[] = [...unknownFields(spec, TRIGGER_SPEC_FIELDS, 'spec')];
  const broker = spec['broker'];
  if (typeof broker !== 'string' || broker === '') {
    errors.push(broker === undefined || broker === '' ? { path: 'spec.broker', message: 'missing field(s)' } : { path: 'spec.broker', message: 'expected a string' });
  } else if (previous !== undefined && isRecord(previous.spec) && typeof previous.spec['broker'] === 'string' && previous.spec['broker'] !== broker) {
    // Knative: a trigger's broker is immutable (it owns a consumer group on that broker's topic).
    return {
      ok: false,
      reason: 'ImmutableFieldChanged',
      errors: [{ path: 'spec.broker', message: `Immutable field changed (was "${previous.spec['broker']}", now "${broker}"); delete the trigger and create it again to move it` }],
    };
  }
  const filter = triggerFilter(spec);
  if (!filter.ok) errors.push(...filter.errors);
  let subscriber: Destination | null = null;
  if (spec['subscriber'] === undefined) errors.push({ path: 'spec.subscriber', message: 'missing field(s)' });
  else subscriber = destination(spec['subscriber'], 'spec.subscriber', namespace, errors);
  const delivery = optionalDelivery(spec['delivery'], 'spec.delivery', namespace, errors);
  const deliveryOrder = deliveryOrderOf(object, errors);
  if (errors.length > 0 || subscriber === null || !filter.ok || typeof broker !== 'string') return invalid(errors);
  return { ok: true, value: { key: keyOf(object), object, broker, filter: filter.filter, subscriber, delivery, deliveryOrder, warnings: filter.warnings } };
}

// ---- One trigger ----

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
  const { uri: deadLetter, ok: deadLetterOk, condition: deadLetterCondition, audience: deadLetterAudience } =
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

  // 5. OIDC: the trigger's identity, presented to those destinations that have an audience.
  const serviceAccount = ctx.settings.oidc === undefined ? undefined : triggerServiceAccount(metadata.name);
  const ownDeadLetter = trigger.delivery === null ? undefined : deadLetterAudience;
  const auth: EgressAuth | undefined = serviceAccount === undefined || !subscriber.ok || (subscriber.audience === undefined && ownDeadLetter === undefined)
    ? undefined
    : {
        serviceAccount: { namespace: metadata.namespace, name: serviceAccount },
        ...(subscriber.audience === undefined ? {} : { destinationAudience: subscriber.audience }),
        ...(ownDeadLetter === undefined ? {} : { deadLetterAudience: ownDeadLetter }),
      };
  // 5. A rewind its annotations ask for (only where the source keeps status: trigger-rewind.ts).
  const rewind = trigger.object.recorded === undefined ? undefined : rewindRequestOf(trigger.object);
  const records = trigger.object.recorded === undefined ? [] : rewindRecords(trigger.object.recorded.rewinds, ctx.observed.rewindOutcomes?.get(group) ?? []);
  const pending = rewind !== undefined && 'request' in rewind && !records.some((r) => r.id === rewind.request.id) ? rewind.request : undefined;

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
        ...(auth === undefined ? {} : { auth }),
        ...(pending === undefined ? {} : { rewind: pending }),
      }
    : null;

  const allWarnings = [...trigger.warnings, ...(rewind !== undefined && 'problem' in rewind ? [rewind.problem] : [])];
  const warnings = allWarnings.length === 0 ? undefined : `warning: ${formatFieldErrors(allWarnings)}`;
  const fault = ctx.observed.egressFaults?.get(group);
  const skipped = fault === undefined || egress === null ? [] : [
    ...(fault.skippedRecords > 0 ? [c.eventsSkipped(describeSkipped(fault))] : []),
    ...(fault.held === undefined ? [] : [c.eventsHeld(describeHeld(fault.held))]),
  ];
  const status: c.ObjectStatus = {
    observedGeneration: metadata.generation,
    conditions: [...c.withReady(c.TRIGGER_CONDITIONS, conditions, warnings), ...skipped].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)),
    ...(subscriber.ok ? { subscriberUri: subscriber.uri } : {}),
    ...(deadLetter === null ? {} : { deadLetterSinkUri: deadLetter }),
    ...(serviceAccount === undefined ? {} : { auth: { serviceAccountName: serviceAccount } }),
    ...(records.length === 0 ? {} : { rewinds: records }),
  };
  return {
    key: trigger.key,
    brokerKey: ctx.brokerKey,
    group: wanted && topic !== null ? { group, topic, owner: trigger.key, ...(serving?.cluster === undefined ? {} : { cluster: serving.cluster }) } : null,
    egress,
    status,
  };
}

// ---- Phase of the desired state (desired.ts) ----

/**
 * Admits each trigger of a broker of ours (another class's are left to its controller) and
 * reconciles it: its group, and its egress on its broker's resource.
 */
export function reconcileTriggers(
  pass: Pass,
  objects: readonly KnObject[],
  brokers: Brokers,
  brokerOutcomes: ReadonlyMap<ObjectKey, { broker: AdmittedBroker; outcome: BrokerOutcome }>,
): void {
  const groupClaims = new Map<string, ObjectKey>();
  for (const raw of objects) {
    const key = keyOf(raw);
    const brokerName = brokerNameOf(raw) ?? brokerNameOf(pass.previouslyAdmitted.get(key));
    const brokerKey = objectKey('Broker', raw.metadata.namespace, brokerName ?? '');
    const foreignClass = brokers.foreign.get(brokerKey);
    if (foreignClass !== undefined) {
      pass.ignored.set(key, `its broker "${brokerName}" has class "${foreignClass}", which this controller does not handle`);
      continue;
    }
    const admission = admitInto(pass, raw, admitTrigger, defaultTrigger, c.TRIGGER_CONDITIONS);
    if (!admission.ok) continue;
    const trigger = admission.value;
    const group = triggerGroup(raw.metadata.namespace, raw.metadata.name);
    if (!groupClaims.has(group)) groupClaims.set(group, key);
    const ownBroker = brokerOutcomes.get(brokerKey);
    const refused = brokers.refused.get(brokerKey);
    const brokerState: TriggerContext['broker'] = ownBroker !== undefined
      ? { state: 'admitted', broker: ownBroker.broker, outcome: ownBroker.outcome }
      : refused !== undefined ? { state: 'refused', status: refused } : { state: 'absent' };
    const outcome = reconcileTrigger(trigger, { broker: brokerState, brokerKey, addresses: pass.addresses, observed: pass.observed, settings: pass.settings, groupClaims });
    pass.statuses.set(key, outcome.status);
    if (brokerState.state !== 'absent') {
      followReadyCause(pass, key, c.TRIGGER_CONDITIONS, outcome.status, 'BrokerReady', brokerState.state === 'admitted' ? { key: brokerKey, status: brokerState.outcome.status } : { status: brokerState.status });
    }
    if (outcome.group !== null) pass.groups.push(outcome.group);
    if (outcome.egress !== null) addEgress(pass, brokerKey, outcome.egress);
  }
}

function brokerNameOf(object: KnObject | undefined): string | undefined {
  const spec = object?.spec;
  if (typeof spec !== 'object' || spec === null) return undefined;
  const broker = (spec as Record<string, unknown>)['broker'];
  return typeof broker === 'string' && broker !== '' ? broker : undefined;
}
