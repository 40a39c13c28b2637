import type { AttributeValue, CloudEvent } from '../core/cloudevents/event.js';
import { PARTITION_KEY } from '../core/cloudevents/event.js';
import { fromKafkaRecord, type KafkaDecodeResult } from '../core/cloudevents/kafka-binding.js';
import { isCloudEventsString } from '../core/cloudevents/validate.js';
import type { KeyType, RecordConversion } from '../core/contract/types.js';
import type { ConsumedRecord } from '../core/event-log/port.js';

/**
 * A KafkaSource's record as a CloudEvent, the way Knative's source dispatcher makes one
 * (eventing-kafka-broker: CloudEventDeserializer, InvalidCloudEventInterceptor, KeyDeserializer,
 * CloudEventOverridesMutator). Pure.
 *
 *   record decodes as a CloudEvent (ce_ headers, or application/cloudevents+json)?
 *     yes -> that event, as it is
 *     no  -> a new event:
 *            type        dev.knative.kafka.event
 *            source      /apis/v1/namespaces/<ns>/kafkasources/<name>#<topic>
 *            subject     partition:<p>#<offset>
 *            id          partition:<p>/offset:<offset>
 *            time        the record's timestamp
 *            key, partitionkey   the record key, read as the key type says (none when absent or empty)
 *            kafkaheader<name>   each header but content-type; the name lower-cased and stripped
 *                                to a-z0-9, the value as UTF-8 text
 *            (a key or header value read as text that is no CloudEvents String, e.g. a binary
 *            int key read as a string, goes base64-encoded instead: see textOrBase64)
 *            datacontenttype     the content-type header, lower-cased
 *            data                the record value
 *   then, on either: the source's ceOverrides extensions.
 *
 * Knative converts a record that claims to be a CloudEvent but is not a valid one too (its
 * deserializer falls back to the conversion on any failure); so does this.
 */
export const KAFKA_EVENT_TYPE = 'dev.knative.kafka.event';

/** Header names become extension names: CloudEvents allows only a-z and 0-9. */
export function headerExtensionName(header: string): string {
  return `kafkaheader${header.toLowerCase().replace(/[^a-z0-9]/g, '')}`;
}

/**
 * The record key as Knative's KeyDeserializer reads it, as an attribute value:
 *  - string (the default): UTF-8 text;
 *  - int: a 4-byte big-endian signed integer, else the key as text (Java's IntegerDeserializer
 *    takes exactly 4 bytes and Knative falls back to text);
 *  - float: 4 bytes as a float32, 8 as a float64 (big-endian), else text;
 *  - byte-array: the bytes, which a CloudEvent carries base64-encoded (the `binary` type).
 * An absent or empty key is no key.
 */
export function keyAttribute(key: Buffer | null, keyType: KeyType): AttributeValue | undefined {
  if (key === null || key.length === 0) return undefined;
  switch (keyType) {
    case 'string':
      return textOrBase64(key);
    case 'int':
      return key.length === 4 ? key.readInt32BE(0) : textOrBase64(key);
    case 'float':
      if (key.length === 4) return shortestFloat32(key.readFloatBE(0));
      if (key.length === 8) return numberText(key.readDoubleBE(0));
      return textOrBase64(key);
    case 'byte-array':
      return key.toString('base64');
    default: {
      const unreachable: never = keyType;
      return unreachable;
    }
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes as text when they are UTF-8 that a CloudEvents String may hold, else base64 (the
 * `binary` type). Knative sends such bytes as text anyway, and the result is no valid event: a
 * binary int key read with the default key type, sent that way, is refused by every receiver
 * that validates (the SDKs, our own ingress), so it would be delivered and never seen.
 */
export function textOrBase64(bytes: Buffer): string {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return bytes.toString('base64');
  }
  return isCloudEventsString(text) ? text : bytes.toString('base64');
}

/** A float32 as Java prints it: the fewest digits that read back as the same float32. */
function shortestFloat32(value: number): string {
  if (!Number.isFinite(value)) return numberText(value);
  for (let digits = 1; digits <= 9; digits++) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === value) return numberText(Number(text));
  }
  return numberText(value);
}

/** Numbers that are not finite have no JSON form; CloudEvents attributes carry them as text. */
function numberText(value: number): string {
  return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
}

export type SourceRecord = Pick<ConsumedRecord, 'topic' | 'partition' | 'offset' | 'key' | 'value' | 'headers' | 'timestamp'>;

/** The event a KafkaSource sends for `record`; never fails on what the record holds. */
export function sourceEventOf(record: SourceRecord, conversion: RecordConversion): KafkaDecodeResult {
  const decoded = fromKafkaRecord(record);
  const event = decoded.ok ? decoded.event : convert(record, conversion);
  const withOverrides = applyOverrides(event, conversion);
  return decoded.ok && decoded.warnings !== undefined ? { ok: true, event: withOverrides, warnings: decoded.warnings } : { ok: true, event: withOverrides };
}

function convert(record: SourceRecord, conversion: RecordConversion): CloudEvent {
  const attributes = new Map<string, AttributeValue>([
    ['specversion', '1.0'],
    ['id', `partition:${record.partition}/offset:${record.offset}`],
    ['source', `/apis/v1/namespaces/${conversion.namespace}/kafkasources/${conversion.name}#${record.topic}`],
    ['type', KAFKA_EVENT_TYPE],
    ['subject', `partition:${record.partition}#${record.offset}`],
    ['time', new Date(Number.isFinite(record.timestamp) ? record.timestamp : 0).toISOString()],
  ]);
  const key = keyAttribute(record.key, conversion.keyType);
  if (key !== undefined) {
    attributes.set(PARTITION_KEY, key);
    attributes.set('key', key);
  }
  let contentType: string | undefined;
  for (const name of Object.keys(record.headers)) {
    const bytes = record.headers[name]!;
    // Knative compares the name case-insensitively and keeps the last content-type it sees.
    if (name.toLowerCase() === 'content-type') contentType = bytes.toString('utf8').toLowerCase();
    else attributes.set(headerExtensionName(name), textOrBase64(bytes));
  }
  // A content type no String may hold would make the event invalid: the data goes without one.
  if (contentType !== undefined && isCloudEventsString(contentType)) attributes.set('datacontenttype', contentType);
  return build(attributes, record.value);
}

function applyOverrides(event: CloudEvent, conversion: RecordConversion): CloudEvent {
  if (conversion.overrides.length === 0) return event;
  const attributes = new Map(Object.entries(event.attributes));
  for (const { name, value } of conversion.overrides) attributes.set(name, value);
  return build(attributes, event.data ?? null);
}

/** Attribute names come from producers' headers: built into a null-prototype object. */
function build(attributes: ReadonlyMap<string, AttributeValue>, data: Buffer | null): CloudEvent {
  const out = Object.create(null) as Record<string, AttributeValue>;
  for (const [name, value] of attributes) out[name] = value;
  return data === null ? { attributes: out } : { attributes: out, data };
}
