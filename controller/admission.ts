import type { Filter } from '../core/filters/types.js';
import type { BackoffPolicy, DeliveryOrder } from '../core/contract/types.js';
import { parseDuration } from './durations.js';
import {
  BROKER_CLASS_ANNOTATION, DELIVERY_ORDER_ANNOTATION, EXTERNAL_TOPIC_ANNOTATION, keyOf,
  type KnObject, type ObjectKey,
} from './resources.js';
import { triggerFilter } from './trigger-filter.js';

/**
 * Admission: what Knative's webhook does before an object is stored — apply defaults, validate,
 * refuse changes to immutable fields — done here because a folder of manifests has no webhook.
 * Pure: an object (and the last version admitted under the same key) in, a typed object or the
 * field errors out. With the Kubernetes API as the source these checks have already passed; they
 * then cost a little and change nothing.
 */

/** One problem with one field, worded like Knative's `apis.FieldError`. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export const formatFieldErrors = (errors: readonly FieldError[]): string =>
  errors.map((e) => (e.path === '' ? e.message : `${e.message}: ${e.path}`)).join('; ');

/** A reference to another object (Knative `KReference`); the namespace is defaulted. */
export interface KReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
}

/** Knative `duckv1.Destination`: a reference, a URI, or a reference plus a relative URI. */
export interface Destination {
  readonly ref: KReference | null;
  readonly uri: string | null;
}

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

export interface AdmittedBroker {
  readonly key: ObjectKey;
  /** The object with its defaults applied, as `get` shows it. */
  readonly object: KnObject;
  readonly brokerClass: string;
  readonly config: KReference | null;
  readonly delivery: Delivery | null;
  readonly externalTopic: string | null;
}

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

export type Admission<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly FieldError[]; readonly reason: 'ValidationFailed' | 'ImmutableFieldChanged' };

export interface AdmissionDefaults {
  /** Knative `config-br-defaults` `brokerClass`: the class of a Broker without the annotation. */
  readonly brokerClass: string;
  /** Knative `config-br-defaults` `delivery`: a Broker's `spec.delivery` when it has none. */
  readonly brokerDelivery: Readonly<Record<string, unknown>>;
}

// ---- Broker ----

const BROKER_SPEC_FIELDS = ['config', 'delivery'] as const;

export function defaultBroker(object: KnObject, defaults: AdmissionDefaults): KnObject {
  const spec = isRecord(object.spec) ? object.spec : object.spec === undefined || object.spec === null ? {} : object.spec;
  const annotations = object.metadata.annotations[BROKER_CLASS_ANNOTATION] === undefined
    ? { ...object.metadata.annotations, [BROKER_CLASS_ANNOTATION]: defaults.brokerClass }
    : object.metadata.annotations;
  const defaultedSpec = isRecord(spec) && spec['delivery'] === undefined ? { ...spec, delivery: { ...defaults.brokerDelivery } } : spec;
  return { ...object, metadata: { ...object.metadata, annotations }, spec: defaultedSpec };
}

export function admitBroker(raw: KnObject, previous: KnObject | undefined, defaults: AdmissionDefaults): Admission<AdmittedBroker> {
  const object = defaultBroker(raw, defaults);
  const errors: FieldError[] = [];
  const brokerClass = object.metadata.annotations[BROKER_CLASS_ANNOTATION]!;
  if (previous !== undefined) {
    const before = previous.metadata.annotations[BROKER_CLASS_ANNOTATION];
    if (before !== undefined && before !== brokerClass) {
      return {
        ok: false,
        reason: 'ImmutableFieldChanged',
        errors: [{ path: `metadata.annotations[${BROKER_CLASS_ANNOTATION}]`, message: `Immutable field changed (was "${before}", now "${brokerClass}")` }],
      };
    }
  }
  if (!isRecord(object.spec)) return invalid([{ path: 'spec', message: 'expected an object' }]);
  const spec = object.spec;
  errors.push(...unknownFields(spec, BROKER_SPEC_FIELDS, 'spec'));
  let config: KReference | null = null;
  if (spec['config'] !== undefined && spec['config'] !== null) {
    const ref = kReference(spec['config'], 'spec.config', object.metadata.namespace, errors, true);
    if (ref !== null && !(ref.kind === 'ConfigMap' && ref.apiVersion === 'v1')) {
      errors.push({ path: 'spec.config', message: `invalid value: ${ref.apiVersion} ${ref.kind} (a Kafka broker's config is a v1 ConfigMap)` });
    } else config = ref;
  }
  const delivery = spec['delivery'] === undefined || spec['delivery'] === null ? null : deliverySpec(spec['delivery'], 'spec.delivery', object.metadata.namespace, errors);
  let externalTopic: string | null = null;
  const external = object.metadata.annotations[EXTERNAL_TOPIC_ANNOTATION];
  if (external !== undefined) {
    // Kafka topic names: up to 249 of [a-zA-Z0-9._-], not "." or "..".
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(external) || external === '.' || external === '..') {
      errors.push({ path: `metadata.annotations[${EXTERNAL_TOPIC_ANNOTATION}]`, message: `invalid value: "${external}" is not a Kafka topic name` });
    } else externalTopic = external;
  }
  if (errors.length > 0) return invalid(errors);
  return { ok: true, value: { key: keyOf(object), object, brokerClass, config, delivery, externalTopic } };
}

// ---- Trigger ----

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
  if (!isRecord(object.spec)) return invalid([{ path: 'spec', message: object.spec === undefined ? 'missing field(s)' : 'expected an object' }]);
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
  const delivery = spec['delivery'] === undefined || spec['delivery'] === null ? null : deliverySpec(spec['delivery'], 'spec.delivery', namespace, errors);
  let deliveryOrder: DeliveryOrder = 'unordered';
  const order = object.metadata.annotations[DELIVERY_ORDER_ANNOTATION];
  if (order !== undefined) {
    if (order === 'ordered' || order === 'unordered') deliveryOrder = order;
    else errors.push({ path: `metadata.annotations[${DELIVERY_ORDER_ANNOTATION}]`, message: `invalid value: "${order}" (expected ordered or unordered)` });
  }
  if (errors.length > 0 || subscriber === null || !filter.ok || typeof broker !== 'string') return invalid(errors);
  return { ok: true, value: { key: keyOf(object), object, broker, filter: filter.filter, subscriber, delivery, deliveryOrder, warnings: filter.warnings } };
}

// ---- shared pieces: DeliverySpec, Destination, KReference ----

const DELIVERY_FIELDS = ['deadLetterSink', 'retry', 'backoffPolicy', 'backoffDelay', 'timeout', 'retryAfterMax', 'format'] as const;

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
  if (errors.length > before) return null;
  return { ref, uri };
}

const REFERENCE_FIELDS = ['apiVersion', 'kind', 'name', 'namespace', 'group', 'address'] as const;

function kReference(value: unknown, path: string, namespace: string, errors: FieldError[], allowOtherNamespace: boolean): KReference | null {
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

// ---- helpers ----

function invalid(errors: readonly FieldError[]): Admission<never> {
  return { ok: false, reason: 'ValidationFailed', errors };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Like `kubectl apply --validate=strict`: a misspelt field is an error, not silently ignored. */
function unknownFields(value: Record<string, unknown>, known: readonly string[], path: string): FieldError[] {
  return Object.keys(value)
    .filter((k) => !known.includes(k))
    .map((k) => ({ path: `${path}.${k}`, message: 'unknown field' }));
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '';
  } catch {
    return false;
  }
}
