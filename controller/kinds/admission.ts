import { isRecord } from '../../core/values.js';

/**
 * Admission: what Knative's webhook does before an object is stored — apply defaults, validate,
 * refuse changes to immutable fields — done here because a folder of manifests has no webhook.
 * Each kind admits its own objects (broker.ts, trigger.ts, ...); this module holds what they share.
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

export type Admission<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly FieldError[]; readonly reason: 'ValidationFailed' | 'ImmutableFieldChanged' };

export interface AdmissionDefaults {
  /** Knative `config-br-defaults` `brokerClass`: the class of a Broker without the annotation. */
  readonly brokerClass: string;
  /** Knative `config-br-defaults` `delivery`: a Broker's `spec.delivery` when it has none. */
  readonly brokerDelivery: Readonly<Record<string, unknown>>;
  /**
   * Knative `default-ch-webhook` `clusterDefault`: the `spec.channelTemplate` of a Channel without
   * one. Absent, it follows the event log (see `defaultChannelTemplate` in channel.ts).
   */
  readonly channelTemplate?: ChannelTemplate;
}

export function invalid(errors: readonly FieldError[]): Admission<never> {
  return { ok: false, reason: 'ValidationFailed', errors };
}

/** Like `kubectl apply --validate=strict`: a misspelt field is an error, not silently ignored. */
export function unknownFields(value: Record<string, unknown>, known: readonly string[], path: string): FieldError[] {
  return Object.keys(value)
    .filter((k) => !known.includes(k))
    .map((k) => ({ path: `${path}.${k}`, message: 'unknown field' }));
}

/**
 * An optional object in a spec, so that a nested shape (`spec.auth`, `spec.auth.secret`, ...) is
 * checked one call a level: the object, with its unknown keys recorded; null when it is absent, or
 * when it is not an object (recorded as such).
 */
export function optionalObject(value: unknown, path: string, known: readonly string[], errors: FieldError[]): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  if (!isRecord(value)) {
    errors.push({ path, message: 'expected an object' });
    return null;
  }
  errors.push(...unknownFields(value, known, path));
  return value;
}

/** `spec` missing or not an object: the first check of most kinds. */
export const specNotAnObject = (spec: unknown): Admission<never> =>
  invalid([{ path: 'spec', message: spec === undefined ? 'missing field(s)' : 'expected an object' }]);

/** A Channel's `spec.channelTemplate`: the kind of its backing channel and that channel's spec. */
export interface ChannelTemplate {
  readonly apiVersion: string;
  readonly kind: string;
  readonly spec?: Readonly<Record<string, unknown>>;
}

export { isRecord };
