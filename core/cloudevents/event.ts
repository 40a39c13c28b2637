/**
 * The in-process shape of a CloudEvent, shared by every component.
 *
 * Attributes are kept by their lower-case name (CloudEvents 1.0 §3.1.1: names are lower-case
 * alphanumerics) and include the required ones (`specversion`, `id`, `source`, `type`), the
 * optional ones and every extension. `data` is never an attribute: it is carried as bytes, so
 * that an event round-trips byte for byte whatever its content type.
 */
export type AttributeValue = string | number | boolean;

export interface CloudEvent {
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** The event's data as raw bytes; undefined when the event has no data. */
  readonly data?: Buffer | undefined;
}

/** The spec versions this codec reads and writes. */
export const SPEC_VERSIONS = ['1.0', '0.3'] as const;
export type SpecVersion = (typeof SPEC_VERSIONS)[number];

/** Attributes every event carries, in every supported version. */
export const REQUIRED_ATTRIBUTES = ['id', 'source', 'specversion', 'type'] as const;

/**
 * Attribute (and extension) names: lower-case ASCII letters and digits only (CloudEvents 1.0,
 * "Attribute Naming Convention"; 0.3 has the same rule).
 */
export const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
/** Names longer than this draw a warning: the spec says they SHOULD NOT exceed 20 characters. */
export const ATTRIBUTE_NAME_ADVISED_MAX = 20;

/** The Partitioning extension's attribute; the Kafka binding maps it to the record key. */
export const PARTITION_KEY = 'partitionkey';

/**
 * Sets an attribute read from the wire. A name of `__proto__` (from a header or a JSON member)
 * would otherwise change the object's prototype and vanish; defined as an own property, it stays
 * visible to validation, which rejects it by name.
 */
export function setAttribute(attributes: Record<string, AttributeValue>, name: string, value: AttributeValue): void {
  if (name === '__proto__') Object.defineProperty(attributes, name, { value, enumerable: true, writable: true, configurable: true });
  else attributes[name] = value;
}
