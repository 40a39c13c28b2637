import { isUtf8 } from 'node:buffer';
import { BrokerError } from '../errors.js';
import { setAttribute, type AttributeValue, type CloudEvent } from './event.js';
import { attributeOfHeader } from './header-attributes.js';
import {
  BATCH_JSON, STRUCTURED_JSON, decodeBatchJson, decodeStructuredJson, encodeBatchJson, encodeStructuredJson, invalid,
} from './json-format.js';
import { errorsOf, validateEvent, type ValidationIssue } from './validate.js';

/**
 * The CloudEvents HTTP protocol binding (1.0.2; 0.3 reads the same way), all three content modes:
 *
 *   binary      attributes in `ce-<name>` headers, `datacontenttype` in Content-Type, body = data
 *   structured  Content-Type application/cloudevents+json, body = the event in the JSON format
 *   batch       Content-Type application/cloudevents-batch+json, body = a JSON array of events
 *
 * The mode is chosen by Content-Type first (§3.1 and §3.2: a `application/cloudevents…` type
 * means structured or batch), then by the presence of `ce-specversion` (binary). Anything else is
 * not a CloudEvent. Decoding validates: a result is either valid events or an error naming every
 * problem.
 */

export type HttpHeaders = Readonly<Record<string, string | string[] | undefined>>;

export type HttpDecodeResult =
  | {
      readonly ok: true;
      readonly events: CloudEvent[];
      readonly mode: 'binary' | 'structured' | 'batch';
      /** Issues that do not make the events invalid (e.g. over-long attribute names). */
      readonly warnings?: readonly ValidationIssue[];
    }
  | { readonly ok: false; readonly error: BrokerError };

export interface HttpMessage<B extends Buffer | undefined = Buffer | undefined> {
  readonly headers: Record<string, string>;
  readonly body: B;
}

const HEADER_PREFIX = 'ce-';
const STRUCTURED_CONTENT_TYPE = `${STRUCTURED_JSON}; charset=utf-8`;
const BATCH_CONTENT_TYPE = `${BATCH_JSON}; charset=utf-8`;

/**
 * Decodes an HTTP request or response into CloudEvents and validates them.
 * Header names are lower-case, as Node gives them.
 */
export function decodeHttp(headers: HttpHeaders, body: Buffer): HttpDecodeResult {
  const contentType = single(headers['content-type']);
  const kind = contentType === undefined ? 'other' : contentKind(contentType);
  switch (kind) {
    case 'structured': {
      const result = decodeStructuredJson(body);
      if (!result.ok) return result;
      return result.warnings ? { ok: true, events: [result.event], mode: 'structured', warnings: result.warnings } : { ok: true, events: [result.event], mode: 'structured' };
    }
    case 'batch': {
      const result = decodeBatchJson(body);
      if (!result.ok) return result;
      return result.warnings ? { ok: true, events: result.events, mode: 'batch', warnings: result.warnings } : { ok: true, events: result.events, mode: 'batch' };
    }
    case 'unsupported-format':
      return {
        ok: false,
        error: new BrokerError('UNSUPPORTED_MEDIA_TYPE', `unsupported CloudEvents event format '${contentType}': only ${STRUCTURED_JSON} and ${BATCH_JSON} are supported`, {
          details: { contentType },
        }),
      };
    case 'other':
      return decodeBinary(headers, contentType, body);
    default: {
      const unreachable: never = kind;
      throw new Error(`unknown content kind ${String(unreachable)}`);
    }
  }
}

/** Whether a message carries a CloudEvent (in any mode): for replies from subscribers. */
export function isHttpCloudEvent(headers: HttpHeaders): boolean {
  if (headers['ce-specversion'] !== undefined) return true;
  const contentType = single(headers['content-type']);
  if (contentType === undefined) return false;
  const kind = contentKind(contentType);
  return kind === 'structured' || kind === 'batch' || kind === 'unsupported-format';
}

/**
 * Binary content mode (HTTP binding §3.1): every attribute but `datacontenttype` becomes a
 * `ce-` header, percent-encoded (§3.1.3.2); `datacontenttype` becomes Content-Type. `omit`
 * names an attribute left out (the broker's TTL, on the way to a subscriber) without copying
 * the event first. The headers object is the caller's to add to.
 */
export function encodeHttpBinary(event: CloudEvent, omit?: string): HttpMessage {
  const headers: Record<string, string> = {};
  const attributes = event.attributes;
  for (const name in attributes) {
    if (name === omit) continue;
    const value = attributes[name] as AttributeValue;
    if (name === 'datacontenttype') headers['content-type'] = String(value);
    else headers[headerNameOf(name)] = percentEncode(String(value));
  }
  return { headers, body: event.data };
}

/**
 * `ce-<name>`, made once per attribute name: a new string per event and attribute had to be
 * looked up again each time it became a property name, here and in the HTTP client. Bounded.
 */
const headerNames = new Map<string, string>();
const HEADER_NAMES_MAX = 1024;

function headerNameOf(attribute: string): string {
  let header = headerNames.get(attribute);
  if (header === undefined) {
    header = HEADER_PREFIX + attribute;
    if (headerNames.size >= HEADER_NAMES_MAX) headerNames.clear();
    headerNames.set(attribute, header);
  }
  return header;
}

/** Structured content mode (HTTP binding §3.2) in the JSON event format. */
export function encodeHttpStructured(event: CloudEvent): HttpMessage<Buffer> {
  return { headers: { 'content-type': STRUCTURED_CONTENT_TYPE }, body: encodeStructuredJson(event) };
}

/** Batched content mode (HTTP binding §3.3) in the JSON batch format. */
export function encodeHttpBatch(events: readonly CloudEvent[]): HttpMessage<Buffer> {
  return { headers: { 'content-type': BATCH_CONTENT_TYPE }, body: encodeBatchJson(events) };
}

// ---- binary mode decoding

function decodeBinary(headers: HttpHeaders, contentType: string | undefined, body: Buffer): HttpDecodeResult {
  if (headers['ce-specversion'] === undefined) {
    return {
      ok: false,
      error: new BrokerError('NOT_A_CLOUDEVENT', `the request is not a CloudEvent: it has no ce-specversion header (binary mode) and its content type ${contentType === undefined ? 'is missing' : `'${contentType}'`} is not ${STRUCTURED_JSON} or ${BATCH_JSON} (CloudEvents HTTP binding §3)`, {
        details: { contentType: contentType ?? null },
      }),
    };
  }
  const attributes: Record<string, AttributeValue> = {};
  let problems: ValidationIssue[] | undefined;
  for (const name in headers) {
    // 'c' 'e' '-': cheaper than startsWith on every header of every request.
    if (name.charCodeAt(0) !== 0x63 || name.charCodeAt(1) !== 0x65 || name.charCodeAt(2) !== 0x2d) continue;
    const raw = headers[name];
    if (raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    const attribute = attributeOfHeader(name);
    const decoded = decodeHeaderValue(value);
    if (typeof decoded === 'string') {
      setAttribute(attributes, attribute, decoded);
    } else {
      (problems ??= []).push(headerIssue(attribute, value, decoded));
    }
  }
  // §3.1.1: in binary mode Content-Type carries datacontenttype.
  if (contentType !== undefined) attributes['datacontenttype'] = contentType;
  const event: CloudEvent = body.length === 0 ? { attributes } : { attributes, data: body };
  const issues = validateEvent(event);
  if (problems === undefined && issues.length === 0) return { ok: true, events: [event], mode: 'binary' };
  const all = problems === undefined ? issues : [...problems, ...issues];
  const errors = errorsOf(all);
  if (errors.length > 0) return { ok: false, error: invalid(errors[0]!.message, errors) };
  return { ok: true, events: [event], mode: 'binary', warnings: all };
}

const BAD_PERCENT = 1;
const BAD_UTF8 = 2;
type HeaderProblem = typeof BAD_PERCENT | typeof BAD_UTF8;

function headerIssue(attribute: string, value: string, problem: HeaderProblem): ValidationIssue {
  const message = problem === BAD_PERCENT
    ? `header 'ce-${attribute}' has an invalid percent-encoding: '%' must be followed by two hex digits (CloudEvents HTTP binding §3.1.3.2)`
    : `header 'ce-${attribute}' does not decode to valid UTF-8 (CloudEvents HTTP binding §3.1.3.2)`;
  return { attribute, value, rule: problem === BAD_PERCENT ? 'percent-encoding' : 'utf-8', message, severity: 'error' };
}

// Values that are plain printable ASCII with no '%' or '"' need no decoding: the common case.
// eslint-disable-next-line no-control-regex
const NEEDS_DECODING = /[%"\u0000-\u001f\u007f-\uffff]/;

/**
 * HTTP binding §3.1.3.2: unquote a quoted-string (RFC 7230 §3.2.6), percent-decode once, and
 * read the bytes as UTF-8, rejecting invalid sequences. Node hands header bytes over as latin1
 * characters, so each character below U+0100 is one byte.
 */
export function decodeHeaderValue(value: string): string | HeaderProblem {
  if (!NEEDS_DECODING.test(value)) return value;
  let text = value;
  if (text.length >= 2 && text.charCodeAt(0) === 0x22 && text.charCodeAt(text.length - 1) === 0x22) {
    text = text.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  // A caller that already decoded the bytes as Unicode (not Node's http) gets the UTF-8 bytes back.
  const source = hasWideCharacter(text) ? Buffer.from(text, 'utf8') : Buffer.from(text, 'latin1');
  const out = Buffer.allocUnsafe(source.length);
  let n = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c !== 0x25) {
      out[n++] = c;
      continue;
    }
    const high = hexValue(source[i + 1]);
    const low = hexValue(source[i + 2]);
    if (high < 0 || low < 0) return BAD_PERCENT;
    out[n++] = high * 16 + low;
    i += 2;
  }
  const bytes = out.subarray(0, n);
  if (!isUtf8(bytes)) return BAD_UTF8;
  return bytes.toString('utf8');
}

function hasWideCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return true;
  return false;
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

// §3.1.3.2: space, double quote, percent and anything outside U+0021–U+007E are percent-encoded
// (as the bytes of their UTF-8 form).
const NEEDS_ENCODING = /[^\u0021\u0023\u0024\u0026-\u007e]/;

export function percentEncode(value: string): string {
  if (!NEEDS_ENCODING.test(value)) return value;
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (b > 0x20 && b < 0x7f && b !== 0x22 && b !== 0x25) out += String.fromCharCode(b);
    else out += `%${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}`;
  }
  return out;
}

// ---- content types

type ContentKind = 'structured' | 'batch' | 'unsupported-format' | 'other';

// Producers send one or two distinct Content-Type strings; remembering their kind saves parsing
// each request's. Bounded, so arbitrary values cannot grow it.
const contentKinds = new Map<string, ContentKind>();
const CONTENT_KIND_CACHE_MAX = 256;

function contentKind(contentType: string): ContentKind {
  let kind = contentKinds.get(contentType);
  if (kind !== undefined) return kind;
  const semicolon = contentType.indexOf(';');
  const media = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  if (media === STRUCTURED_JSON) kind = 'structured';
  else if (media === BATCH_JSON) kind = 'batch';
  else if (media.startsWith('application/cloudevents+') || media.startsWith('application/cloudevents-batch+')) kind = 'unsupported-format';
  else kind = 'other';
  if (contentKinds.size >= CONTENT_KIND_CACHE_MAX) contentKinds.clear();
  contentKinds.set(contentType, kind);
  return kind;
}

/** A header's one value; an empty Content-Type is taken as none. */
function single(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === '' ? undefined : first;
}
