import type { BackoffPolicy, DeliveryOrder, EgressConfig } from '../../core/contract/types.js';
import * as c from '../conditions.js';
import type { AddressBook, Destination, KReference } from '../destinations.js';

export type { Destination, KReference } from '../destinations.js';
import { DELIVERY_ORDER_ANNOTATION, type KnObject } from '../resources.js';
import type { ReconcileSettings } from '../state.js';
import { isRecord, unknownFields, type FieldError } from './admission.js';
import { parseDuration } from './durations.js';
import { isHttpUrl } from '../../core/values.js';

/**
 * What every kind that sends events on says the same way: Knative's `DeliverySpec`, its
 * `Destination` and `KReference` (admitted here), and, once admitted, the contract's EgressConfig
 * and the dead-letter sink they lead to. Pure.
 */

/** Knative `DeliverySpec`, checked and with its durations in milliseconds; null = not given. */
export interface Delivery {
  readonly deadLetterSink: Destination | null;
  readonly retry: number | null;
  readonly backoffPolicy: BackoffPolicy | null;
  readonly backoffDelayMs: number | null;
  readonly timeoutMs: number | null;
  readonly retryAfterMaxMs: number | null;
  readonly format: 'json' | 'binary' | null;
}

// ---- Admission ----

const DELIVERY_FIELDS = ['deadLetterSink', 'retry', 'backoffPolicy', 'backoffDelay', 'timeout', 'retryAfterMax', 'format'] as const;

/** An optional `spec.delivery`: null when absent, else checked (null again when invalid, with the errors pushed). */
export const optionalDelivery = (value: unknown, path: string, namespace: string, errors: FieldError[]): Delivery | null =>
  value === undefined || value === null ? null : deliverySpec(value, path, namespace, errors);

/** Knative `DeliverySpec.Validate` (eventing pkg/apis/duck/v1/delivery_types.go). */
export function deliverySpec(value: unknown, path: string, namespace: string, errors: FieldError[]): Delivery | null {
  if (!isRecord(value)) {
    errors.push({ path, message: 'expected an object' });
    return null;
  }
  const before = errors.length;
  errors.push(...unknownFields(value, DELIVERY_FIELDS, path));
  const deadLetterSink = value['deadLetterSink'] === undefined || value['deadLetterSink'] === null
    ? null
    : destination(value['deadLetterSink'], `${path}.deadLetterSink`, namespace, errors);
  let retry: number | null = null;
  if (value['retry'] !== undefined && value['retry'] !== null) {
    const r = value['retry'];
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r > 2 ** 31 - 1) errors.push({ path: `${path}.retry`, message: `invalid value: ${JSON.stringify(r)} (a whole number >= 0)` });
    else retry = r;
  }
  let backoffPolicy: BackoffPolicy | null = null;
  if (value['backoffPolicy'] !== undefined && value['backoffPolicy'] !== null) {
    const p = value['backoffPolicy'];
    if (p === 'linear' || p === 'exponential') backoffPolicy = p;
    else errors.push({ path: `${path}.backoffPolicy`, message: `invalid value: ${JSON.stringify(p)} (linear or exponential)` });
  }
  const backoffDelayMs = duration(value['backoffDelay'], `${path}.backoffDelay`, errors, { allowZero: true });
  // Knative: a timeout must be greater than zero; retryAfterMax may be zero (opts out of Retry-After).
  const timeoutMs = duration(value['timeout'], `${path}.timeout`, errors, { allowZero: false });
  const retryAfterMaxMs = duration(value['retryAfterMax'], `${path}.retryAfterMax`, errors, { allowZero: true });
  let format: 'json' | 'binary' | null = null;
  if (value['format'] !== undefined && value['format'] !== null) {
    const f = value['format'];
    if (f === 'json' || f === 'binary') format = f;
    else errors.push({ path: `${path}.format`, message: `invalid value: ${JSON.stringify(f)} (json or binary)` });
  }
  if (errors.length > before) return null;
  return { deadLetterSink, retry, backoffPolicy, backoffDelayMs, timeoutMs, retryAfterMaxMs, format };
}

function duration(value: unknown, path: string, errors: FieldError[], { allowZero }: { allowZero: boolean }): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') {
    errors.push({ path, message: `invalid value: ${JSON.stringify(value)} (an ISO 8601 duration such as PT0.5S)` });
    return null;
  }
  const parsed = parseDuration(value);
  if (!parsed.ok) {
    errors.push({ path, message: `invalid value: ${parsed.message}` });
    return null;
  }
  if (parsed.ms < 0 || (!allowZero && parsed.ms === 0)) {
    errors.push({ path, message: `invalid value: "${value}" (must be ${allowZero ? 'zero or more' : 'greater than zero'})` });
    return null;
  }
  return parsed.ms;
}

const DESTINATION_FIELDS = ['ref', 'uri', 'CACerts', 'audience'] as const;

/** Knative `duckv1.Destination.Validate`: exactly a ref, an absolute URI, or a ref plus a relative URI. */
export function destination(value: unknown, path: string, namespace: string, errors: FieldError[]): Destination | null {
  if (!isRecord(value)) {
    errors.push({ path, message: 'expected an object' });
    return null;
  }
  const before = errors.length;
  errors.push(...unknownFields(value, DESTINATION_FIELDS, path));
  const hasRef = value['ref'] !== undefined && value['ref'] !== null;
  const hasUri = value['uri'] !== undefined && value['uri'] !== null && value['uri'] !== '';
  if (!hasRef && !hasUri) {
    errors.push({ path, message: 'expected exactly one, got neither: ref, uri' });
    return null;
  }
  const ref = hasRef ? kReference(value['ref'], `${path}.ref`, namespace, errors, false) : null;
  let uri: string | null = null;
  if (hasUri) {
    const u = value['uri'];
    if (typeof u !== 'string') errors.push({ path: `${path}.uri`, message: 'expected a string' });
    else if (hasRef) {
      // With a ref, the URI is a path (and query) relative to the ref's address.
      if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(u)) errors.push({ path: `${path}.uri`, message: `invalid value: "${u}" (with a ref, the uri must be relative)` });
      else uri = u;
    } else if (!isHttpUrl(u)) {
      errors.push({ path: `${path}.uri`, message: `invalid value: "${u}" (an absolute http or https URL)` });
    } else uri = u;
  }
  const audience = value['audience'];
  if (audience !== undefined && audience !== null && (typeof audience !== 'string' || audience === '')) errors.push({ path: `${path}.audience`, message: 'expected a non-empty string' });
  if (errors.length > before) return null;
  return { ref, uri, ...(typeof audience === 'string' ? { audience } : {}) };
}

const REFERENCE_FIELDS = ['apiVersion', 'kind', 'name', 'namespace', 'group', 'address'] as const;

export function kReference(value: unknown, path: string, namespace: string, errors: FieldError[], allowOtherNamespace: boolean): KReference | null {
  if (!isRecord(value)) {
    errors.push({ path, message: 'expected an object' });
    return null;
  }
  const before = errors.length;
  errors.push(...unknownFields(value, REFERENCE_FIELDS, path));
  const missing = (['apiVersion', 'kind', 'name'] as const).filter((f) => typeof value[f] !== 'string' || value[f] === '');
  if (missing.length > 0) errors.push({ path: missing.map((f) => `${path}.${f}`).join(', '), message: 'missing field(s)' });
  const ns = value['namespace'];
  if (ns !== undefined && typeof ns !== 'string') errors.push({ path: `${path}.namespace`, message: 'expected a string' });
  // Knative allows a destination in another namespace only with the cross-namespace feature on.
  if (!allowOtherNamespace && typeof ns === 'string' && ns !== '' && ns !== namespace) {
    errors.push({ path: `${path}.namespace`, message: `mismatched namespaces: "${ns}" (references stay in namespace "${namespace}")` });
  }
  if (errors.length > before) return null;
  return {
    apiVersion: value['apiVersion'] as string,
    kind: value['kind'] as string,
    name: value['name'] as string,
    namespace: typeof ns === 'string' && ns !== '' ? ns : namespace,
  };
}

/** Knative Kafka's `kafka.eventing.knative.dev/delivery.order` annotation: unordered unless it says ordered. */
export function deliveryOrderOf(object: KnObject, errors: FieldError[]): DeliveryOrder {
  const order = object.metadata.annotations[DELIVERY_ORDER_ANNOTATION];
  if (order === undefined || order === 'unordered') return 'unordered';
  if (order === 'ordered') return 'ordered';
  errors.push({ path: `metadata.annotations[${DELIVERY_ORDER_ANNOTATION}]`, message: `invalid value: "${order}" (expected ordered or unordered)` });
  return 'unordered';
}

// ---- Reconciling ----

/**
 * Knative delivery settings as the contract's EgressConfig. A trigger's own settings are merged
 * field by field over its broker's (as Knative Kafka does), then the controller's defaults.
 */
export function egressConfig(own: Delivery, inherited: Delivery | null, deadLetter: string | null, settings: ReconcileSettings): EgressConfig {
  return {
    retry: own.retry ?? inherited?.retry ?? 0,
    backoffPolicy: own.backoffPolicy ?? inherited?.backoffPolicy ?? 'exponential',
    backoffDelayMs: own.backoffDelayMs ?? inherited?.backoffDelayMs ?? settings.defaultBackoffDelayMs,
    timeoutMs: own.timeoutMs ?? inherited?.timeoutMs ?? null,
    deadLetter,
    retryAfterMaxMs: own.retryAfterMaxMs ?? inherited?.retryAfterMaxMs ?? null,
  };
}

export interface DeadLetterStep {
  /** The resolved dead-letter sink, or null when none is configured or it does not resolve. */
  readonly uri: string | null;
  /** False only when a configured sink does not resolve. */
  readonly ok: boolean;
  readonly condition: c.Condition;
  /** The sink's OIDC audience, when it has one. */
  readonly audience?: string;
}

/**
 * DeadLetterSinkResolved: the object's own dead-letter sink, else `inherited` (a trigger's
 * broker's, already resolved), else none (which Knative reports True, DeadLetterSinkNotConfigured).
 */
export function resolveDeadLetterSink(sink: Destination | null | undefined, addresses: AddressBook, inherited?: string): DeadLetterStep {
  if (sink) {
    const resolved = addresses.resolve(sink);
    return resolved.ok
      ? { uri: resolved.uri, ok: true, condition: c.deadLetterSinkResolved(), ...(resolved.audience === undefined ? {} : { audience: resolved.audience }) }
      : { uri: null, ok: false, condition: c.deadLetterSinkUnresolved(resolved.message) };
  }
  if (inherited !== undefined) return { uri: inherited, ok: true, condition: c.deadLetterSinkResolved() };
  return { uri: null, ok: true, condition: c.deadLetterSinkNotConfigured() };
}
