import type { Egress } from '../../core/contract/types.js';
import { readyBlocker, readyCondition, refusedConditions, type ObjectStatus } from '../conditions.js';
import { AddressBook } from '../destinations.js';
import { keyOf, type KnObject, type ObjectKey } from '../resources.js';
import type { ExternalAddresses } from '../sources/source.js';
import type { DesiredGroup, DesiredTopic, Observed, ReconcileSettings } from '../state.js';
import type { Admission } from './admission.js';

/**
 * One computation of the desired state (desired.ts), as each kind's phases fill it in: the
 * inputs every kind reads, and what they add to the output. Pure: it lives for one call.
 */
export interface Pass {
  /** The versions admitted last time, under the same key: the baseline for immutable fields. */
  readonly previouslyAdmitted: ReadonlyMap<ObjectKey, KnObject>;
  readonly observed: Observed;
  readonly settings: ReconcileSettings;
  /** The last admitted version of every object (DesiredState.admitted). */
  readonly admitted: Map<ObjectKey, KnObject>;
  /** Objects as `get` shows them (DesiredState.objects). */
  readonly display: Map<ObjectKey, KnObject>;
  readonly statuses: Map<ObjectKey, ObjectStatus>;
  /** DesiredState.readyCauses: filled in by `followReadyCause`. */
  readonly readyCauses: Map<ObjectKey, string>;
  readonly ignored: Map<ObjectKey, string>;
  /** What a destination's `ref` resolves to; each addressable kind adds its objects. */
  readonly addresses: AddressBook;
  readonly topics: DesiredTopic[];
  readonly groups: DesiredGroup[];
  /** The egresses of each contract resource (a broker's triggers, a channel's subscriptions), by the resource's key. */
  readonly egresses: Map<ObjectKey, Egress[]>;
}

export function newPass(
  previouslyAdmitted: ReadonlyMap<ObjectKey, KnObject>,
  observed: Observed,
  settings: ReconcileSettings,
  external: ExternalAddresses | undefined,
): Pass {
  const addresses = new AddressBook();
  // Referenced objects outside this controller's kinds that the source looked up (Kubernetes Services, Addressables).
  for (const { group, kind } of external?.kinds ?? []) addresses.addKind(group, kind);
  for (const e of external?.entries ?? []) addresses.set(e.group, e.kind, e.namespace, e.name, e.entry);
  return {
    previouslyAdmitted,
    observed,
    settings,
    admitted: new Map(),
    display: new Map(),
    statuses: new Map(),
    readyCauses: new Map(),
    ignored: new Map(),
    addresses,
    topics: [],
    groups: [],
    egresses: new Map(),
  };
}

/**
 * When `status`'s Ready follows the dependent `via` (a Trigger's BrokerReady), records the reason
 * at the root of it: `upstream`'s own cause, else the reason on its Ready (`upstream.key`
 * undefined: an object with no cause recorded, such as a refused one).
 */
export function followReadyCause(
  pass: Pass,
  key: ObjectKey,
  types: readonly string[],
  status: ObjectStatus,
  via: string,
  upstream: { readonly key?: ObjectKey; readonly status: ObjectStatus | undefined },
): void {
  if (readyBlocker(types, status.conditions)?.type !== via) return;
  const cause = (upstream.key === undefined ? undefined : pass.readyCauses.get(upstream.key)) ?? readyCondition(upstream.status)?.reason;
  if (cause !== undefined) pass.readyCauses.set(key, cause);
}

/** Adds an egress to the resource `key` names. */
export function addEgress(pass: Pass, key: ObjectKey, egress: Egress): void {
  pass.egresses.set(key, [...(pass.egresses.get(key) ?? []), egress]);
}

/**
 * Admits one object the usual way, memoized. Admitted, it is the baseline next time and shown
 * with its defaults. Refused, the previous version stays the baseline, the object is shown as
 * `shown` makes it, and its status says why on Ready (`conditions`: the kind's other conditions,
 * all Unknown).
 */
export function admitInto<T extends { readonly object: KnObject }>(
  pass: Pass,
  raw: KnObject,
  admit: (raw: KnObject, previous: KnObject | undefined) => Admission<T>,
  shown: (raw: KnObject) => KnObject,
  conditions: readonly string[],
): Admission<T> {
  const key = keyOf(raw);
  const previous = pass.previouslyAdmitted.get(key);
  const admission = admitOnce(raw, previous, pass.settings, () => admit(raw, previous));
  if (admission.ok) {
    pass.admitted.set(key, admission.value.object);
    pass.display.set(key, admission.value.object);
  } else {
    if (previous !== undefined) pass.admitted.set(key, previous);
    pass.display.set(key, shown(raw));
    pass.statuses.set(key, { observedGeneration: raw.metadata.generation, conditions: refusedConditions(conditions, admission.reason, admission.errors) });
  }
  return admission;
}

/**
 * Admission depends only on the object, the version admitted before and the settings, so its
 * result is kept per object (sources hand over the same object while it is unchanged): a pass
 * computes the desired state three times, and most passes change one object in thousands.
 * Validating a CESQL filter means compiling it, the costliest part of admission.
 */
const admissions = new WeakMap<KnObject, { previous: KnObject | undefined; settings: ReconcileSettings; result: Admission<{ object: KnObject }> }>();

export function admitOnce<T extends Admission<{ object: KnObject }>>(raw: KnObject, previous: KnObject | undefined, settings: ReconcileSettings, admit: () => T): T {
  const hit = admissions.get(raw);
  // The version admitted before may be this very result (the object did not change since).
  const same = hit !== undefined && (hit.previous === previous || (hit.result.ok && hit.result.value.object === previous));
  if (hit !== undefined && same && hit.settings === settings) return hit.result as T;
  const result = admit();
  admissions.set(raw, { previous, settings, result });
  return result;
}
