import { isUtf8 } from 'node:buffer';
import { ByteStrings } from '../byte-strings.js';
import { BrokerError } from '../errors.js';
import type { AppendRecord } from '../event-log/port.js';
import { TRACEPARENT, TRACESTATE, type TraceHeaders } from '../trace-context.js';
import { attributeOfHeader } from './header-attributes.js';
import { PARTITION_KEY, setAttribute, type AttributeValue, type CloudEvent } from './event.js';
import { STRUCTURED_JSON, decodeStructuredJson, encodeStructuredJson, invalid, mediaTypeOf } from './json-format.js';
import { errorsOf, validateEvent, type ValidationIssue } from './validate.js';

/**
 * The CloudEvents Kafka protocol binding (1.0.2):
 *
 *   binary      every attribute but `datacontenttype` in a `ce_<name>` header (UTF-8, no
 *               percent-encoding: Kafka header values are bytes, §3.2.3), `datacontenttype` in
 *               `content-type`, value = data
 *   structured  `content-type: application/cloudevents+json; charset=UTF-8`, value = the event
 *               in the JSON format (§3.3)
 *
 * Key mapping (§3.1): the record key is the `partitionkey` extension when the event has one
 * (so one key's events share a partition and keep their order), else null. When decoding a
 * record whose key is set and that carries no `partitionkey`, the key becomes `partitionkey`.
 *
 * Trace context: the hop's W3C context travels in plain `traceparent` / `tracestate` headers, as
 * Knative's data plane writes them; they are not attributes, and decoding ignores them. The
 * distributed-tracing extension (`ce_traceparent`) is an attribute like any other (docs/tracing.md).
 */

export type KafkaDecodeResult =
  | { readonly ok: true; readonly event: CloudEvent; readonly warnings?: readonly ValidationIssue[] }
  | { readonly ok: false; readonly error: BrokerError };

export interface KafkaRecordIn {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer>>;
}

const HEADER_PREFIX = 'ce_';
const STRUCTURED_CONTENT_TYPE = Buffer.from(`${STRUCTURED_JSON}; charset=UTF-8`);

/**
 * Header values encoded once and shared between records (nobody writes into a record's header
 * bytes): the attributes whose values repeat from event to event, where a producer sends the same
 * source, type and content type over and over and the broker stamps the same TTL. Encoding each
 * again cost about half a microsecond a header on every event. Bounded: emptied when full.
 */
const REPEATING = new Set(['specversion', 'source', 'type', 'datacontenttype', 'dataschema', 'knativebrokerttl']);
const REPEATING_MAX_ENTRIES = 1024;
const REPEATING_MAX_LENGTH = 256;
const repeatingValues = new Map<string, Buffer>();

/** The same attributes' values read back from records: decoded once (see core/byte-strings.ts). */
const repeatingText = new ByteStrings(REPEATING_MAX_ENTRIES, REPEATING_MAX_LENGTH);

/** `ce_<name>`, made once per attribute name (a new string each time had to be looked up as a property key each time). */
const headerNames = new Map<string, string>();

function headerName(name: string): string {
  let header = headerNames.get(name);
  if (header === undefined) {
    if (headerNames.size >= REPEATING_MAX_ENTRIES) headerNames.clear();
    header = HEADER_PREFIX + name;
    headerNames.set(name, header);
  }
  return header;
}

function headerValue(name: string, text: string): Buffer {
  if (!REPEATING.has(name) || text.length > REPEATING_MAX_LENGTH) return Buffer.from(text, 'utf8');
  let bytes = repeatingValues.get(text);
  if (bytes === undefined) {
    if (repeatingValues.size >= REPEATING_MAX_ENTRIES) repeatingValues.clear();
    bytes = Buffer.from(text, 'utf8');
    repeatingValues.set(text, bytes);
  }
  return bytes;
}

export function toKafkaRecord(event: CloudEvent, mode: 'binary' | 'structured' = 'binary', trace?: TraceHeaders): AppendRecord {
  const partitionKey = event.attributes[PARTITION_KEY];
  const key = partitionKey === undefined ? null : Buffer.from(String(partitionKey), 'utf8');
  if (mode === 'structured') {
    const headers: Record<string, Buffer> = { 'content-type': STRUCTURED_CONTENT_TYPE };
    if (trace !== undefined) setTrace(headers, trace);
    return { key, value: encodeStructuredJson(event), headers };
  }
  const headers: Record<string, Buffer> = {};
  if (trace !== undefined) setTrace(headers, trace);
  const attributes = event.attributes;
  for (const name in attributes) {
    const bytes = headerValue(name, String(attributes[name] as AttributeValue));
    if (name === 'datacontenttype') headers['content-type'] = bytes;
    else headers[headerName(name)] = bytes;
  }
  return { key, value: event.data ?? null, headers };
}

function setTrace(headers: Record<string, Buffer>, trace: TraceHeaders): void {
  headers[TRACEPARENT] = Buffer.from(trace.traceparent, 'latin1');
  if (trace.tracestate !== undefined) headers[TRACESTATE] = Buffer.from(trace.tracestate, 'latin1');
}

export function fromKafkaRecord(record: KafkaRecordIn): KafkaDecodeResult {
  const headers = record.headers;
  const contentTypeBytes = headers['content-type'];
  const contentType = contentTypeBytes === undefined ? undefined : repeatingText.text(contentTypeBytes);
  if (contentType !== undefined && mediaTypeOf(contentType).startsWith('application/cloudevents')) {
    if (mediaTypeOf(contentType) !== STRUCTURED_JSON) {
      return { ok: false, error: new BrokerError('UNSUPPORTED_MEDIA_TYPE', `unsupported CloudEvents format '${contentType}' in a Kafka record: only ${STRUCTURED_JSON} is supported`, { details: { contentType } }) };
    }
    const result = decodeStructuredJson(record.value ?? Buffer.alloc(0));
    if (!result.ok || record.key === null || result.event.attributes[PARTITION_KEY] !== undefined) return result;
    return withKey(result.event, record.key);
  }
  if (headers['ce_specversion'] === undefined) {
    return { ok: false, error: new BrokerError('NOT_A_CLOUDEVENT', 'the Kafka record is not a CloudEvent: no ce_specversion header and no application/cloudevents content-type (CloudEvents Kafka binding §3)') };
  }
  const attributes: Record<string, AttributeValue> = {};
  let problems: ValidationIssue[] | undefined;
  for (const name in headers) {
    if (name.charCodeAt(0) !== 0x63 || name.charCodeAt(1) !== 0x65 || name.charCodeAt(2) !== 0x5f) continue; // 'ce_'
    const bytes = headers[name]!;
    const attribute = attributeOfHeader(name);
    const text = REPEATING.has(attribute) ? repeatingText.utf8(bytes) : isUtf8(bytes) ? bytes.toString('utf8') : undefined;
    if (text !== undefined) {
      setAttribute(attributes, attribute, text);
    } else {
      (problems ??= []).push({ attribute, rule: 'utf-8', message: `header '${name}' is not valid UTF-8 (CloudEvents Kafka binding §3.2.3)`, severity: 'error' });
    }
  }
  if (contentType !== undefined) attributes['datacontenttype'] = contentType;
  if (record.key !== null && attributes[PARTITION_KEY] === undefined && isUtf8(record.key)) {
    attributes[PARTITION_KEY] = record.key.toString('utf8');
  }
  const event: CloudEvent = record.value === null ? { attributes } : { attributes, data: record.value };
  const issues = validateEvent(event);
  if (problems === undefined && issues.length === 0) return { ok: true, event };
  const all = problems === undefined ? issues : [...problems, ...issues];
  const errors = errorsOf(all);
  if (errors.length > 0) return { ok: false, error: invalid(errors[0]!.message, errors) };
  return { ok: true, event, warnings: all };
}

function withKey(event: CloudEvent, key: Buffer): KafkaDecodeResult {
  if (!isUtf8(key)) return { ok: true, event };
  const attributes = { ...event.attributes, [PARTITION_KEY]: key.toString('utf8') };
  return { ok: true, event: event.data === undefined ? { attributes } : { attributes, data: event.data } };
}
