import { isUtf8 } from 'node:buffer';
import { BrokerError } from '../errors.js';
import { setAttribute, type AttributeValue, type CloudEvent } from './event.js';
import { validateEvent, type ValidationIssue } from './validate.js';

/**
 * The JSON event format (CloudEvents JSON format 1.0.2, and 0.3) and the JSON batch format (§4).
 * Used by HTTP structured and batch mode and by the Kafka binding's structured mode.
 *
 * `data` handling (§3.1):
 *  - `data_base64` (1.0) is decoded to bytes; 0.3 marks base64 with `datacontentencoding`, which
 *    describes the envelope, not the event, so it is decoded and dropped from the attributes.
 *  - When the content type is JSON (`*\/json`, `*\/*+json`) the event's data is the exact bytes of
 *    the `data` member's JSON text, so the payload round-trips byte for byte.
 *  - A `data` member with no `datacontenttype` is JSON (§3.1.2), and the decoded event gets
 *    `datacontenttype: application/json` explicitly, because §3.1.2 says a re-serialisation in
 *    another format or binding (our Kafka records, HTTP binary delivery) SHOULD state it.
 *  - Otherwise a string `data` is that string's UTF-8 bytes; any other JSON value is kept as its
 *    JSON text (the spec lets us fail instead; keeping it loses nothing).
 */

export const STRUCTURED_JSON = 'application/cloudevents+json';
export const BATCH_JSON = 'application/cloudevents-batch+json';

export type DecodeResult =
  | { readonly ok: true; readonly event: CloudEvent; readonly warnings?: readonly ValidationIssue[] }
  | { readonly ok: false; readonly error: BrokerError };

export type DecodeBatchResult =
  | { readonly ok: true; readonly events: CloudEvent[]; readonly warnings?: readonly ValidationIssue[] }
  | { readonly ok: false; readonly error: BrokerError };

/** Whether a media type (already lower-cased, without parameters) declares JSON content. */
export function isJsonMediaType(mediaType: string): boolean {
  return mediaType.endsWith('/json') || mediaType.endsWith('+json');
}

/** The media type of a content-type value: lower-case, without parameters. */
export function mediaTypeOf(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/** Decodes one event in the JSON format, and validates it. */
export function decodeStructuredJson(body: Buffer): DecodeResult {
  const parsed = parseJson(body);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: invalid('the body must be a JSON object (CloudEvents JSON format §3)', [formatIssue('(body)', 'json-object', 'the body must be a JSON object (CloudEvents JSON format §3)')]) };
  }
  const dataSpan = 'data' in value ? scanObject(body, skipWhitespace(body, 0)).data : undefined;
  return finish(eventFromJsonObject(value as Record<string, unknown>, body, dataSpan));
}

/** Decodes a JSON batch (JSON format §4): every event is validated; one bad event fails all. */
export function decodeBatchJson(body: Buffer): DecodeBatchResult {
  const parsed = parseJson(body);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  if (!Array.isArray(value)) {
    return { ok: false, error: invalid('a batch must be a JSON array (CloudEvents JSON format §4.1)', [formatIssue('(body)', 'json-array', 'a batch must be a JSON array (CloudEvents JSON format §4.1)')]) };
  }
  const events: CloudEvent[] = [];
  let warnings: ValidationIssue[] | undefined;
  let position = skipWhitespace(body, 0) + 1; // past '['
  for (let index = 0; index < value.length; index++) {
    const element: unknown = value[index];
    position = skipWhitespace(body, position);
    if (body[position] === 0x2c) position = skipWhitespace(body, position + 1); // ','
    if (typeof element !== 'object' || element === null || Array.isArray(element)) {
      const message = `batch element ${index} must be a JSON object (CloudEvents JSON format §4.1)`;
      return { ok: false, error: invalid(message, [formatIssue('(body)', 'json-object', message)], index) };
    }
    const scanned = scanObject(body, position);
    position = scanned.end;
    const decoded = eventFromJsonObject(element as Record<string, unknown>, body, scanned.data);
    const result = finish(decoded, index);
    if (!result.ok) return result;
    events.push(result.event);
    if (result.warnings) (warnings ??= []).push(...result.warnings);
  }
  return warnings ? { ok: true, events, warnings } : { ok: true, events };
}

/**
 * Encodes one event in the JSON format. JSON data (by content type, and parseable) is embedded
 * as is; text data as a string; anything else as `data_base64` (0.3: base64 in `data` with
 * `datacontentencoding`).
 */
export function encodeStructuredJson(event: CloudEvent): Buffer {
  return Buffer.from(encodeObject(event), 'utf8');
}

/** Encodes events in the JSON batch format (§4). */
export function encodeBatchJson(events: readonly CloudEvent[]): Buffer {
  return Buffer.from(`[${events.map(encodeObject).join(',')}]`, 'utf8');
}

function encodeObject(event: CloudEvent): string {
  const { data, attributes } = event;
  const attrs: Record<string, AttributeValue> = { ...attributes };
  let dataMember = '';
  if (data !== undefined) {
    const contentType = attributes['datacontenttype'];
    const media = typeof contentType === 'string' ? mediaTypeOf(contentType) : 'application/json';
    const text = isUtf8(data) ? data.toString('utf8') : undefined;
    if (text !== undefined && isJsonMediaType(media) && isJsonText(text)) {
      dataMember = `"data":${text}`;
    } else if (text !== undefined && isTextMediaType(media)) {
      dataMember = `"data":${JSON.stringify(text)}`;
    } else if (attributes['specversion'] === '0.3') {
      attrs['datacontentencoding'] = 'base64';
      dataMember = `"data":"${data.toString('base64')}"`;
    } else {
      dataMember = `"data_base64":"${data.toString('base64')}"`;
    }
  }
  const head = JSON.stringify(attrs);
  if (dataMember === '') return head;
  return head === '{}' ? `{${dataMember}}` : `${head.slice(0, -1)},${dataMember}}`;
}

function isTextMediaType(media: string): boolean {
  return media.startsWith('text/') || media.endsWith('/xml') || media.endsWith('+xml');
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

interface Span {
  readonly start: number;
  readonly end: number;
}

/** An event read from a JSON object, with the format problems found on the way (if any). */
interface Partial {
  readonly event: CloudEvent;
  readonly issues: ValidationIssue[] | undefined;
}

function eventFromJsonObject(object: Record<string, unknown>, body: Buffer, dataSpan: Span | undefined): Partial {
  const attributes: Record<string, AttributeValue> = {};
  let issues: ValidationIssue[] | undefined;
  let hasData = false;
  let dataValue: unknown;
  let base64: unknown;
  for (const name in object) {
    const value = object[name];
    if (name === 'data') {
      hasData = true;
      dataValue = value;
      continue;
    }
    if (name === 'data_base64') {
      base64 = value;
      continue;
    }
    // JSON format §2.2: a null attribute is the same as an absent one.
    if (value === null) continue;
    if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') {
      setAttribute(attributes, name, value);
    } else {
      (issues ??= []).push(formatIssue(name, 'value-type', `attribute '${name}' must be a string, number or boolean, got ${Array.isArray(value) ? 'an array' : 'an object'} (CloudEvents JSON format §2.2)`, value));
    }
  }
  let data: Buffer | undefined;
  if (base64 !== undefined && base64 !== null) {
    if (hasData) {
      (issues ??= []).push(formatIssue('data_base64', 'data-exclusive', "'data' and 'data_base64' must not both be present (CloudEvents JSON format §3.1.1)"));
    } else if (typeof base64 !== 'string' || !BASE64.test(base64)) {
      (issues ??= []).push(formatIssue('data_base64', 'base64', "'data_base64' must be a Base64 string (RFC 4648) (CloudEvents JSON format §3.1.2)", base64));
    } else {
      data = Buffer.from(base64, 'base64');
    }
  } else if (hasData) {
    if (attributes['specversion'] === '0.3' && attributes['datacontentencoding'] === 'base64') {
      // 0.3 JSON format §3.1: base64 data is a string member marked by datacontentencoding.
      if (typeof dataValue !== 'string' || !BASE64.test(dataValue)) {
        (issues ??= []).push(formatIssue('data', 'base64', "with datacontentencoding 'base64', 'data' must be a Base64 string (CloudEvents 0.3 JSON format §3.1)", dataValue));
      } else {
        data = Buffer.from(dataValue, 'base64');
        delete attributes['datacontentencoding'];
      }
    } else {
      const contentType = attributes['datacontenttype'];
      if (contentType === undefined) attributes['datacontenttype'] = 'application/json';
      const json = typeof contentType !== 'string' || isJsonMediaType(mediaTypeOf(contentType));
      if (!json && typeof dataValue === 'string') data = Buffer.from(dataValue, 'utf8');
      else if (dataSpan !== undefined) data = body.subarray(dataSpan.start, dataSpan.end);
      else data = Buffer.from(JSON.stringify(dataValue), 'utf8');
    }
  }
  return { event: data === undefined ? { attributes } : { attributes, data }, issues };
}

function finish(partial: Partial, index?: number): DecodeResult {
  const validation = validateEvent(partial.event);
  const issues = partial.issues === undefined ? validation : [...partial.issues, ...validation];
  if (issues.length === 0) return { ok: true, event: partial.event };
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length > 0) return { ok: false, error: invalid(errors[0]!.message, errors, index) };
  return { ok: true, event: partial.event, warnings: issues };
}

/** The EVENT_INVALID error for a list of issues: the first one's message, all of them in details. */
export function invalid(message: string, issues: readonly ValidationIssue[], index?: number): BrokerError {
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  const where = index === undefined ? '' : `batch event ${index}: `;
  const details: Record<string, unknown> = { issues: issues.map(withoutSeverity) };
  if (index !== undefined) details['index'] = index;
  return new BrokerError('EVENT_INVALID', `${where}${message}${more}`, { details });
}

function withoutSeverity(issue: ValidationIssue): Omit<ValidationIssue, 'severity'> {
  const { severity: _severity, ...rest } = issue;
  return rest;
}

function formatIssue(attribute: string, rule: string, message: string, value?: unknown): ValidationIssue {
  return value === undefined ? { attribute, rule, message, severity: 'error' } : { attribute, value, rule, message, severity: 'error' };
}

// RFC 4648 §4 alphabet with padding; no line breaks or whitespace.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false; error: BrokerError } {
  // RFC 8259 §8.1: JSON text exchanged between systems MUST be UTF-8.
  if (!isUtf8(body)) {
    const message = 'the body is not valid UTF-8, which JSON requires (RFC 8259 §8.1)';
    return { ok: false, error: invalid(message, [formatIssue('(body)', 'utf-8', message)]) };
  }
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch (error) {
    const message = `the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, error: invalid(message, [formatIssue('(body)', 'json', message)]) };
  }
}

// ---- A scanner over JSON text already accepted by JSON.parse, to find the exact bytes of the
// top-level `data` member. It works on UTF-8 bytes: every structural character is ASCII, and
// bytes of multi-byte sequences are all ≥ 0x80, so they are never mistaken for one.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function skipWhitespace(buf: Buffer, i: number): number {
  while (i < buf.length) {
    const c = buf[i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else break;
  }
  return i;
}

/** `i` is at an opening quote; returns the index after the closing one. */
function skipString(buf: Buffer, i: number): number {
  let from = i + 1;
  for (;;) {
    const quote = buf.indexOf(QUOTE, from);
    if (quote < 0) return buf.length;
    let backslashes = 0;
    for (let b = quote - 1; buf[b] === BACKSLASH; b--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** `i` is at the first byte of a value; returns the index after it. */
function skipValue(buf: Buffer, i: number): number {
  const c = buf[i];
  if (c === QUOTE) return skipString(buf, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    while (i < buf.length) {
      const b = buf[i]!;
      if (b === QUOTE) {
        i = skipString(buf, i);
        continue;
      }
      if (b === 0x7b || b === 0x5b) depth++;
      else if (b === 0x7d || b === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  // A number, true, false or null: up to the next delimiter.
  while (i < buf.length) {
    const b = buf[i];
    if (b === 0x2c || b === 0x7d || b === 0x5d || b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) break;
    i++;
  }
  return i;
}

/** `i` is at '{'; returns the index after '}' and the span of the last `data` member's value. */
function scanObject(buf: Buffer, i: number): { end: number; data: Span | undefined } {
  let data: Span | undefined;
  i = skipWhitespace(buf, i + 1);
  if (buf[i] === 0x7d) return { end: i + 1, data };
  while (i < buf.length) {
    const keyStart = i;
    const keyEnd = skipString(buf, i);
    const isData = isDataKey(buf, keyStart, keyEnd);
    i = skipWhitespace(buf, keyEnd);
    i = skipWhitespace(buf, i + 1); // past ':'
    const valueEnd = skipValue(buf, i);
    if (isData) data = { start: i, end: valueEnd };
    i = skipWhitespace(buf, valueEnd);
    if (buf[i] === 0x2c) {
      i = skipWhitespace(buf, i + 1);
      continue;
    }
    return { end: i + 1, data };
  }
  return { end: i, data };
}

/** Whether the key string at [start, end) (quotes included) is "data", escapes and all. */
function isDataKey(buf: Buffer, start: number, end: number): boolean {
  if (end - start === 6) {
    return buf[start + 1] === 0x64 && buf[start + 2] === 0x61 && buf[start + 3] === 0x74 && buf[start + 4] === 0x61;
  }
  for (let i = start + 1; i < end; i++) {
    if (buf[i] === BACKSLASH) return JSON.parse(buf.toString('utf8', start, end)) === 'data';
  }
  return false;
}
