import { isDeepStrictEqual } from 'node:util';
import type { Condition, ObjectStatus } from '../conditions.js';
import type { KindInfo } from '../api-kinds.js';
import type { ApiObject } from './api.js';
import { apiGroup, type KnObject, type ObjectMeta } from '../resources.js';
import { isRecord } from '../../core/values.js';
import { recordedRewinds, rewindRequestedBy } from '../kinds/trigger-rewind.js';

/**
 * Pure helpers between the API's JSON and the controller core: API objects become `KnObject`s
 * (the envelope every source hands over), wanted statuses become merge patches of the status
 * subresource, and the finalizer is added and removed by patches guarded by resourceVersion.
 */

/**
 * The controller's finalizer: an object carrying it is not removed by the API server until the
 * controller has deleted what it created for it (a Broker's topic, a Trigger's consumer group).
 */
export const FINALIZER = 'kafka.eventing.knative.dev/kafka-broker';

export const isDeleting = (object: ApiObject): boolean => typeof object.metadata?.deletionTimestamp === 'string';
export const hasFinalizer = (object: ApiObject): boolean => (object.metadata?.finalizers ?? []).includes(FINALIZER);

/**
 * The core's view of an API object, or a reason why it has none (no name, no uid). The kind and
 * apiVersion come from the informer's table row: the API leaves them out of list items of
 * built-in kinds.
 */
export function toKnObject(info: KindInfo, object: ApiObject): KnObject | string {
  const meta = object.metadata;
  if (meta === undefined || typeof meta.name !== 'string' || meta.name === '') return 'metadata.name is missing';
  if (typeof meta.uid !== 'string' || meta.uid === '') return 'metadata.uid is missing';
  const metadata: ObjectMeta = {
    name: meta.name,
    namespace: typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default',
    uid: meta.uid,
    // Built-in kinds without a spec (ConfigMaps) have no generation; their content is `data`.
    generation: typeof meta.generation === 'number' ? meta.generation : 1,
    creationTimestamp: typeof meta.creationTimestamp === 'string' ? meta.creationTimestamp : new Date(0).toISOString(),
    annotations: stringMap(meta.annotations),
    labels: stringMap(meta.labels),
    ...(Array.isArray(meta.ownerReferences) && meta.ownerReferences.length > 0 ? { ownerReferences: meta.ownerReferences as NonNullable<ObjectMeta['ownerReferences']> } : {}),
  };
  const apiVersion = info.group === '' ? info.version : `${info.group}/${info.version}`;
  // A Trigger's rewinds are recorded in its status; who asked is the annotation's last writer.
  const requestedBy = info.kind === 'Trigger' ? rewindRequestedBy(meta.managedFields) : undefined;
  return {
    apiVersion,
    kind: info.kind,
    metadata,
    ...(object.spec === undefined ? {} : { spec: object.spec }),
    ...(object.data === undefined ? {} : { data: object.data }),
    ...(info.kind === 'Trigger' ? { recorded: { rewinds: recordedRewinds(object.status), ...(requestedBy === undefined ? {} : { requestedBy }) } } : {}),
  };
}

/** Whether two conversions differ in anything the core reads (status and resourceVersion are not read). */
export const sameForCore = (a: KnObject, b: KnObject): boolean => jsonEqual(a, b);

/**
 * The merge patch (RFC 7386) that makes the status subresource say `wanted`, or undefined when it
 * already does. Conditions whose status, reason and message are unchanged keep the time the API
 * has (so a new leader, which stamps every condition afresh, rewrites nothing); status fields the
 * controller no longer sets are removed (null in a merge patch).
 */
export function statusPatch(current: unknown, wanted: ObjectStatus): { status: Record<string, unknown> } | undefined {
  const before = isRecord(current) ? current : {};
  const kept = new Map<string, Record<string, unknown>>();
  if (Array.isArray(before['conditions'])) for (const c of before['conditions']) if (isRecord(c) && typeof c['type'] === 'string') kept.set(c['type'], c);
  const conditions = wanted.conditions.map((c) => withKeptTime(c, kept.get(c.type)));
  const after: Record<string, unknown> = { ...wanted, conditions };
  if (isDeepStrictEqual(withoutUndefined(before), withoutUndefined(after))) return undefined;
  const patch: Record<string, unknown> = { ...after };
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  return { status: patch };
}

function withKeptTime(condition: Condition, old: Record<string, unknown> | undefined): Condition {
  const same = old !== undefined && old['status'] === condition.status && old['reason'] === condition.reason && old['message'] === condition.message;
  if (!same || typeof old['lastTransitionTime'] !== 'string') return condition;
  return { ...condition, lastTransitionTime: old['lastTransitionTime'] };
}

/** Adds the finalizer; the resourceVersion makes the API refuse (409) a patch of a stale copy. */
export function addFinalizerPatch(object: ApiObject): unknown {
  const finalizers = object.metadata?.finalizers ?? [];
  return { metadata: { finalizers: [...finalizers, FINALIZER], resourceVersion: object.metadata?.resourceVersion } };
}

export function removeFinalizerPatch(object: ApiObject): unknown {
  const finalizers = (object.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER);
  return { metadata: { finalizers, resourceVersion: object.metadata?.resourceVersion } };
}

/** A destination's `ref` (Knative KReference), its namespace defaulted to the referring object's. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export const refKey = (ref: ObjectRef): string => `${apiGroup(ref.apiVersion)}/${ref.kind}/${ref.namespace}/${ref.name}`;

/** Fields that hold a Knative `Destination` in the specs of the kinds served (subscriber, reply, dead-letter sink, sink). */
const DESTINATION_FIELDS = new Set(['subscriber', 'reply', 'deadLetterSink', 'sink']);

/**
 * Every destination `ref` in an object's spec, found by field name at any depth (a Trigger's
 * `spec.subscriber`, a Broker's `spec.delivery.deadLetterSink`, a Subscription's `spec.reply`),
 * so that kinds added to api-kinds.ts need no code here.
 */
export function destinationRefs(object: KnObject): ObjectRef[] {
  const refs: ObjectRef[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (depth > 6) return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
      return;
    }
    if (!isRecord(value)) return;
    for (const [field, inner] of Object.entries(value)) {
      if (DESTINATION_FIELDS.has(field) && isRecord(inner) && isRecord(inner['ref'])) {
        const ref = inner['ref'];
        const { apiVersion, kind, name, namespace } = ref;
        if (typeof apiVersion === 'string' && typeof kind === 'string' && typeof name === 'string' && apiVersion !== '' && kind !== '' && name !== '') {
          refs.push({ apiVersion, kind, name, namespace: typeof namespace === 'string' && namespace !== '' ? namespace : object.metadata.namespace });
        }
      }
      visit(inner, depth + 1);
    }
  };
  visit(object.spec, 0);
  return refs;
}

/** Deep equality of JSON values (plain objects, arrays, primitives); faster than isDeepStrictEqual on small ones. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

function stringMap(value: unknown): Readonly<Record<string, string>> {
  if (!isRecord(value)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

function withoutUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}

