import type { SenderRule } from '../../core/contract/types.js';
import type { Filter } from '../../core/filters/types.js';
import * as c from '../conditions.js';
import { apiGroup, EVENTING_GROUP, keyOf, type KnObject, type ObjectKey } from '../resources.js';
import { invalid, isRecord, specNotAnObject, unknownFields, type Admission, type FieldError } from './admission.js';
import type { AuthorizationMode } from '../state.js';
import { admitInto, type Pass } from './pass.js';
import { triggerFilter } from './trigger-filter.js';

/**
 * EventPolicy (eventing.knative.dev/v1alpha1), pure: which senders may publish to which brokers
 * when OIDC sender authentication is on, as Knative defines it.
 *
 *   spec.to    the resources it applies to, in its namespace: `ref` (by name) or `selector`
 *              (apiVersion, kind and labels); absent or empty: every broker of the namespace
 *   spec.from  who may send: `sub` (a token subject; a trailing `*` matches any suffix) or `ref`
 *              (an object whose OIDC identity is `status.auth.serviceAccountName(s)`, e.g. a
 *              PingSource; resolved to `system:serviceaccount:<namespace>:<name>` subjects)
 *   spec.filters  Subscriptions API filters (as a Trigger's `spec.filters`, validated alike): the
 *              events those senders may send; the ingress answers 403 to any other
 *
 * A broker no policy selects falls back to the default authorization mode (Knative's
 * `default-authorization-mode`: allow-same-namespace unless set).
 */

export const EVENT_POLICY_CONDITIONS = ['SubjectsResolved'] as const;
export const EVENT_POLICY_API_VERSION = `${EVENTING_GROUP}/v1alpha1`;
export const isEventPolicy = (object: KnObject): boolean => object.kind === 'EventPolicy' && apiGroup(object.apiVersion) === EVENTING_GROUP;


interface TargetRef { readonly kind: 'ref'; readonly apiVersion: string; readonly refKind: string; readonly name: string }
interface TargetSelector {
  readonly kind: 'selector';
  readonly apiVersion: string;
  readonly refKind: string;
  readonly matchLabels: ReadonlyMap<string, string>;
  readonly matchExpressions: readonly { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values: readonly string[] }[];
}
type Target = TargetRef | TargetSelector;
type From = { readonly kind: 'sub'; readonly sub: string } | { readonly kind: 'ref'; readonly apiVersion: string; readonly refKind: string; readonly name: string; readonly namespace: string };

export interface AdmittedPolicy {
  readonly key: ObjectKey;
  readonly object: KnObject;
  readonly to: readonly Target[];
  readonly from: readonly From[];
  /** `spec.filters` as one filter; null: every event. */
  readonly filter: Filter | null;
}

export function admitEventPolicy(object: KnObject): Admission<AdmittedPolicy> {
  const spec = object.spec;
  if (!isRecord(spec)) return specNotAnObject(spec);
  const errors: FieldError[] = [...unknownFields(spec, ['to', 'from', 'filters'], 'spec')];
  const to: Target[] = [];
  const from: From[] = [];
  const list = (value: unknown, path: string): unknown[] => {
    if (value === undefined || value === null) return [];
    if (Array.isArray(value)) return value;
    errors.push({ path, message: 'expected a list' });
    return [];
  };
  list(spec['to'], 'spec.to').forEach((entry, i) => {
    const path = `spec.to[${i}]`;
    if (!isRecord(entry) || (entry['ref'] === undefined) === (entry['selector'] === undefined)) {
      errors.push({ path, message: 'expected exactly one of: ref, selector' });
      return;
    }
    const inner = (entry['ref'] ?? entry['selector']) as unknown;
    const where = `${path}.${entry['ref'] !== undefined ? 'ref' : 'selector'}`;
    if (!isRecord(inner) || typeof inner['apiVersion'] !== 'string' || typeof inner['kind'] !== 'string') {
      errors.push({ path: where, message: 'expected apiVersion and kind' });
      return;
    }
    if (entry['ref'] !== undefined) {
      if (typeof inner['name'] !== 'string' || inner['name'] === '') errors.push({ path: `${where}.name`, message: 'missing field(s)' });
      else to.push({ kind: 'ref', apiVersion: inner['apiVersion'], refKind: inner['kind'], name: inner['name'] });
      return;
    }
    const labels = new Map<string, string>();
    if (isRecord(inner['matchLabels'])) for (const [k, v] of Object.entries(inner['matchLabels'])) labels.set(k, String(v));
    const expressions: TargetSelector['matchExpressions'][number][] = [];
    list(inner['matchExpressions'], `${where}.matchExpressions`).forEach((e, j) => {
      const operator = isRecord(e) ? e['operator'] : undefined;
      if (!isRecord(e) || typeof e['key'] !== 'string' || !['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(String(operator))) {
        errors.push({ path: `${where}.matchExpressions[${j}]`, message: 'expected key and operator In, NotIn, Exists or DoesNotExist' });
        return;
      }
      const values = Array.isArray(e['values']) ? e['values'].map(String) : [];
      expressions.push({ key: e['key'], operator: operator as 'In', values });
    });
    to.push({ kind: 'selector', apiVersion: inner['apiVersion'], refKind: inner['kind'], matchLabels: labels, matchExpressions: expressions });
  });
  const fromEntries = list(spec['from'], 'spec.from');
  if (fromEntries.length === 0 && spec['from'] === undefined) errors.push({ path: 'spec.from', message: 'missing field(s)' });
  fromEntries.forEach((entry, i) => {
    const path = `spec.from[${i}]`;
    if (!isRecord(entry) || (entry['ref'] === undefined) === (entry['sub'] === undefined)) {
      errors.push({ path, message: 'expected exactly one of: ref, sub' });
      return;
    }
    if (entry['sub'] !== undefined) {
      if (typeof entry['sub'] !== 'string' || entry['sub'] === '') errors.push({ path: `${path}.sub`, message: 'expected a non-empty string' });
      // Knative allows `*` only as the last character: a prefix match.
      else if (entry['sub'].slice(0, -1).includes('*')) errors.push({ path: `${path}.sub`, message: `invalid value: "${entry['sub']}" ('*' is allowed only at the end)` });
      else from.push({ kind: 'sub', sub: entry['sub'] });
      return;
    }
    const ref = entry['ref'];
    if (!isRecord(ref) || typeof ref['apiVersion'] !== 'string' || typeof ref['kind'] !== 'string' || typeof ref['name'] !== 'string') {
      errors.push({ path: `${path}.ref`, message: 'expected apiVersion, kind and name' });
      return;
    }
    const namespace = typeof ref['namespace'] === 'string' && ref['namespace'] !== '' ? ref['namespace'] : object.metadata.namespace;
    from.push({ kind: 'ref', apiVersion: ref['apiVersion'], refKind: ref['kind'], name: ref['name'], namespace });
  });
  // The trigger filter engine and its validation; `spec.filter` (legacy) is a Trigger's only.
  const filters = triggerFilter({ filters: spec['filters'] });
  if (!filters.ok) errors.push(...filters.errors);
  if (errors.length > 0) return invalid(errors);
  return { ok: true, value: { key: keyOf(object), object, to, from, filter: filters.ok ? filters.filter : null } };
}

/** Whether the policy applies to this object (a Broker), which must be in the policy's namespace. */
export function selects(policy: AdmittedPolicy, target: KnObject): boolean {
  if (target.metadata.namespace !== policy.object.metadata.namespace) return false;
  if (policy.to.length === 0) return true;
  return policy.to.some((t) => {
    if (apiGroup(t.apiVersion) !== apiGroup(target.apiVersion) || t.refKind !== target.kind) return false;
    if (t.kind === 'ref') return t.name === target.metadata.name;
    const labels = target.metadata.labels;
    const label = (key: string): string | undefined => (Object.hasOwn(labels, key) ? labels[key] : undefined);
    for (const [key, value] of t.matchLabels) if (label(key) !== value) return false;
    return t.matchExpressions.every((e) => {
      const value = label(e.key);
      switch (e.operator) {
        case 'In': return value !== undefined && e.values.includes(value);
        case 'NotIn': return value === undefined || !e.values.includes(value);
        case 'Exists': return value !== undefined;
        case 'DoesNotExist': return value === undefined;
      }
    });
  });
}

export interface Policies {
  readonly admitted: readonly AdmittedPolicy[];
  /** Each admitted policy's subjects, its `from.ref`s resolved. */
  readonly subjects: ReadonlyMap<ObjectKey, readonly string[]>;
}

/**
 * Admits the EventPolicies and resolves their `from.ref`s against the source's objects; writes
 * each policy's status (`status.from`: the subjects, SubjectsResolved).
 */
export function reconcileEventPolicies(pass: Pass, objects: readonly KnObject[], all: ReadonlyMap<ObjectKey, KnObject>): Policies {
  const admitted: AdmittedPolicy[] = [];
  const subjects = new Map<ObjectKey, readonly string[]>();
  for (const raw of objects) {
    const admission = admitInto(pass, raw, (r) => admitEventPolicy(r), (r) => r, EVENT_POLICY_CONDITIONS);
    if (!admission.ok) continue;
    const policy = admission.value;
    const resolved: string[] = [];
    const missing: string[] = [];
    for (const f of policy.from) {
      if (f.kind === 'sub') {
        resolved.push(f.sub);
        continue;
      }
      const names = identityOf(all.get(`${f.refKind}/${f.namespace}/${f.name}`));
      if (names === undefined) missing.push(`${f.refKind} ${f.namespace}/${f.name}`);
      else resolved.push(...names.map((sa) => `system:serviceaccount:${f.namespace}:${sa}`));
    }
    admitted.push(policy);
    subjects.set(policy.key, resolved);
    const condition = missing.length === 0
      ? c.subjectsResolved()
      : c.subjectsUnresolved(`no OIDC identity (status.auth.serviceAccountName) for ${missing.join(', ')}`);
    pass.statuses.set(policy.key, {
      observedGeneration: policy.object.metadata.generation,
      conditions: c.withReady(EVENT_POLICY_CONDITIONS, [condition]),
      ...(resolved.length === 0 ? {} : { from: resolved }),
    });
  }
  return { admitted, subjects };
}

/** An object's OIDC identity: its service account name(s), as Knative sources publish them. */
function identityOf(object: KnObject | undefined): string[] | undefined {
  const status = (object as { status?: unknown } | undefined)?.status;
  const auth = isRecord(status) ? status['auth'] : undefined;
  if (!isRecord(auth)) return undefined;
  const names = [auth['serviceAccountName'], ...(Array.isArray(auth['serviceAccountNames']) ? auth['serviceAccountNames'] : [])]
    .filter((n): n is string => typeof n === 'string' && n !== '');
  return names.length === 0 ? undefined : names;
}

export interface SenderAuth {
  readonly senders: readonly SenderRule[] | undefined;
  /** Knative `status.policies`: the EventPolicies applied. */
  readonly applied: readonly { readonly apiVersion: string; readonly name: string }[];
}

/** The sender rules of one broker: the policies that select it, else the default mode's. */
export function sendersFor(target: KnObject, policies: Policies, mode: AuthorizationMode): SenderAuth {
  const applying = policies.admitted.filter((p) => selects(p, target));
  if (applying.length > 0) {
    return {
      senders: applying.map((p) => ({
        policy: `${p.object.metadata.namespace}/${p.object.metadata.name}`,
        subjects: policies.subjects.get(p.key) ?? [],
        ...(p.filter === null ? {} : { filter: p.filter }),
      })),
      applied: applying.map((p) => ({ apiVersion: EVENT_POLICY_API_VERSION, name: p.object.metadata.name })),
    };
  }
  switch (mode) {
    case 'allow-all': return { senders: undefined, applied: [] };
    case 'deny-all': return { senders: [], applied: [] };
    case 'allow-same-namespace':
      return { senders: [{ policy: '(default) allow-same-namespace', subjects: [`system:serviceaccount:${target.metadata.namespace}:*`] }], applied: [] };
  }
}
