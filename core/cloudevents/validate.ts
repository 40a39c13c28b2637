import { ATTRIBUTE_NAME, ATTRIBUTE_NAME_ADVISED_MAX, type AttributeValue, type CloudEvent } from './event.js';

/**
 * Validation of a decoded CloudEvent against the core spec (1.0.2 and 0.3). Pure, and written to
 * cost almost nothing on a valid event: one pass over the attributes, no allocation unless an
 * issue is found.
 *
 * Rules (the `rule` field of an issue):
 *   required            id, source, specversion, type must be present
 *   specversion         must be "1.0" or "0.3"
 *   string              the attribute's type is String (or URI…, Timestamp), so it must be a string
 *   non-empty           id, type, source, subject, dataschema, datacontenttype must not be ""
 *   characters          Strings must not hold control characters, lone surrogates or
 *                       noncharacters (1.0 "Type System", String)
 *   integer             a number must be an integer in the signed 32-bit range (1.0 "Type System")
 *   uri-reference       source (and 0.3 schemaurl) must be an RFC 3986 URI-reference
 *   uri                 dataschema must be an RFC 3986 URI-reference; not absolute → warning
 *   rfc3339             time must be an RFC 3339 timestamp (with real dates and times)
 *   media-type          datacontenttype must be an RFC 2046 media type (type/subtype[; params])
 *   datacontentencoding 0.3 only: must be "base64"
 *   name                attribute names are [a-z0-9]+ ("Attribute Naming Convention")
 *   name-length         warning: names SHOULD NOT exceed 20 characters
 *   reserved            "data" is the payload, never an attribute (JSON format §3)
 */

export interface ValidationIssue {
  readonly attribute: string;
  readonly value?: unknown;
  readonly rule: string;
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

const SPEC_1_0 = 'CloudEvents 1.0';

type Kind = 'string' | 'nonEmpty' | 'uriRef' | 'dataschema' | 'schemaurl' | 'time' | 'mediaType' | 'encoding' | 'any';

/**
 * How each context attribute of each version is checked; unlisted names are extensions. Maps, not
 * object literals: an extension named `constructor` must not find Object.prototype's.
 */
const KINDS_1_0: ReadonlyMap<string, Kind> = new Map<string, Kind>([
  ['id', 'nonEmpty'], ['source', 'uriRef'], ['specversion', 'string'], ['type', 'nonEmpty'], ['datacontenttype', 'mediaType'],
  ['dataschema', 'dataschema'], ['subject', 'nonEmpty'], ['time', 'time'],
]);
const KINDS_0_3: ReadonlyMap<string, Kind> = new Map<string, Kind>([
  ['id', 'nonEmpty'], ['source', 'uriRef'], ['specversion', 'string'], ['type', 'nonEmpty'], ['datacontenttype', 'mediaType'],
  ['schemaurl', 'schemaurl'], ['subject', 'nonEmpty'], ['time', 'time'], ['datacontentencoding', 'encoding'],
]);

/** Validates one event; an empty array means valid. Warnings never make an event invalid. */
export function validateEvent(event: CloudEvent): ValidationIssue[] {
  const attributes = event.attributes;
  let issues: ValidationIssue[] | undefined;
  const add = (issue: ValidationIssue): void => {
    (issues ??= []).push(issue);
  };

  const specversion = attributes['specversion'];
  let kinds = KINDS_1_0;
  let spec = SPEC_1_0;
  if (specversion === undefined) {
    add(missing('specversion', SPEC_1_0));
  } else if (specversion === '0.3') {
    kinds = KINDS_0_3;
    spec = 'CloudEvents 0.3';
  } else if (specversion !== '1.0') {
    add(issue('specversion', specversion, 'specversion', `attribute 'specversion' must be "1.0" or "0.3", got ${show(specversion)} (${SPEC_1_0}, specversion)`));
  }
  if (attributes['id'] === undefined) add(missing('id', spec));
  if (attributes['source'] === undefined) add(missing('source', spec));
  if (attributes['type'] === undefined) add(missing('type', spec));

  for (const name of Object.keys(attributes)) {
    const value = attributes[name] as AttributeValue;
    if (!isAttributeName(name)) {
      add(issue(name, value, 'name', `attribute name '${name}' must consist of lower-case letters a-z and digits 0-9 only (${spec}, Attribute Naming Convention)`));
      continue;
    }
    if (name.length > ATTRIBUTE_NAME_ADVISED_MAX) {
      add(issue(name, value, 'name-length', `attribute name '${name}' is ${name.length} characters long; names SHOULD NOT exceed 20 (${spec}, Attribute Naming Convention)`, 'warning'));
    }
    if (name === 'data') {
      add(issue(name, value, 'reserved', `'data' is the event payload and cannot be an attribute (CloudEvents JSON format §3)`));
      continue;
    }
    if (name === 'specversion') continue; // checked above
    const kind = kinds.get(name) ?? 'any';
    if (kind === 'any') {
      // Extensions: Boolean, Integer or String-like (every other type is a string on the wire).
      if (typeof value === 'string') checkCharacters(name, value, spec, add);
      else if (typeof value === 'number') checkInteger(name, value, spec, add);
      continue;
    }
    if (typeof value !== 'string') {
      add(issue(name, value, 'string', `attribute '${name}' must be a string, got ${typeof value} ${show(value)} (${spec}, ${name})`));
      continue;
    }
    if (value === '' && kind !== 'string') {
      add(issue(name, value, 'non-empty', `attribute '${name}' must be a non-empty string (${spec}, ${name})`));
      continue;
    }
    if (!checkCharacters(name, value, spec, add)) continue;
    switch (kind) {
      case 'string':
      case 'nonEmpty':
        break;
      case 'uriRef':
      case 'schemaurl':
        if (!isUriReference(value)) {
          add(issue(name, value, 'uri-reference', `attribute '${name}' must be a URI-reference (RFC 3986 §4.1), got ${show(value)} (${spec}, ${name})`));
        }
        break;
      case 'dataschema':
        if (!isUriReference(value)) {
          add(issue(name, value, 'uri', `attribute 'dataschema' must be a URI (RFC 3986), got ${show(value)} (${spec}, dataschema)`));
        } else if (!isAbsoluteUri(value)) {
          // The spec's type is URI (absolute); Knative's Go SDK takes any URI-reference, so a
          // relative one is accepted with a warning rather than rejected.
          add(issue(name, value, 'uri', `attribute 'dataschema' should be an absolute URI, got ${show(value)} (${spec}, dataschema)`, 'warning'));
        }
        break;
      case 'time':
        if (!isRfc3339(value)) {
          add(issue(name, value, 'rfc3339', `attribute 'time' must be an RFC 3339 timestamp such as 2018-04-05T17:31:00Z, got ${show(value)} (${spec}, time)`));
        }
        break;
      case 'mediaType':
        if (!isMediaType(value)) {
          add(issue(name, value, 'media-type', `attribute 'datacontenttype' must be a media type such as application/json (RFC 2046), got ${show(value)} (${spec}, datacontenttype)`));
        }
        break;
      case 'encoding':
        if (value !== 'base64') {
          add(issue(name, value, 'datacontentencoding', `attribute 'datacontentencoding' must be "base64", got ${show(value)} (${spec}, datacontentencoding)`));
        }
        break;
      default: {
        const unreachable: never = kind;
        throw new Error(`unknown attribute kind ${String(unreachable)}`);
      }
    }
  }
  return issues ?? [];
}

/** Only the issues that make an event invalid. */
export function errorsOf(issues: readonly ValidationIssue[]): ValidationIssue[] {
  return issues.filter((i) => i.severity === 'error');
}

function issue(attribute: string, value: unknown, rule: string, message: string, severity: 'error' | 'warning' = 'error'): ValidationIssue {
  return { attribute, value, rule, message, severity };
}

function missing(attribute: string, spec: string): ValidationIssue {
  return { attribute, rule: 'required', message: `attribute '${attribute}' is required (${spec}, REQUIRED Attributes)`, severity: 'error' };
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

// 1.0 "Type System", String: no C0/C1 control characters, no lone surrogates, no noncharacters.
// Supplementary-plane noncharacters (U+1FFFE…) are rare enough not to be worth a slower pattern.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\ufdd0-\ufdef\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether `value` may be a CloudEvents String (no control characters, lone surrogates, noncharacters). */
export function isCloudEventsString(value: string): boolean {
  // Printable ASCII, what nearly every value is, holds none of them: a loop costs less than the pattern.
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return !FORBIDDEN_CHARACTERS.test(value);
  }
  return true;
}

function checkCharacters(name: string, value: string, spec: string, add: (i: ValidationIssue) => void): boolean {
  if (isCloudEventsString(value)) return true;
  add(issue(name, value, 'characters', `attribute '${name}' contains a control character, lone surrogate or noncharacter, which Strings must not (${spec}, Type System)`));
  return false;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function checkInteger(name: string, value: number, spec: string, add: (i: ValidationIssue) => void): void {
  if (Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) return;
  add(issue(name, value, 'integer', `attribute '${name}' is a number, so it must be an integer between -2147483648 and 2147483647, got ${show(value)} (${spec}, Type System)`));
}

// RFC 2046 / RFC 7231 §3.1.1.1: type "/" subtype *( OWS ";" OWS parameter ); parameters are not
// checked beyond their presence.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}[ \\t]*(?:;.*)?$`);

// RFC 3339 §5.6 date-time; the separator may be "T" or "t" (§5.6 also notes a space, which the
// grammar does not allow and neither do we). Ranges are checked after the match.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function isRfc3339(value: string): boolean {
  const m = RFC3339.exec(value);
  if (m === null) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const maxDay = month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day > maxDay) return false;
  // Seconds may be 60 (a leap second, RFC 3339 §5.7).
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 60) return false;
  if (m[7] !== undefined && (Number(m[8]) > 23 || Number(m[9]) > 59)) return false;
  return true;
}

// RFC 3986 §4.1: URI-reference = URI / relative-ref, written out from the ABNF of appendix A.
const UNRESERVED_SUB = "A-Za-z0-9\\-._~!$&'()*+,;=";
const PCT = '%[0-9A-Fa-f]{2}';
const PCHAR = `(?:[${UNRESERVED_SUB}:@]|${PCT})`;
const SEGMENT_NZ_NC = `(?:[${UNRESERVED_SUB}@]|${PCT})+`;
const QUERY_OR_FRAGMENT = `(?:${PCHAR}|[/?])*`;
const IP_LITERAL = `\\[(?:[0-9A-Fa-f:.]+|[vV][0-9A-Fa-f]+\\.[${UNRESERVED_SUB}:]+)\\]`;
const REG_NAME = `(?:[${UNRESERVED_SUB}]|${PCT})*`;
const AUTHORITY = `(?:(?:[${UNRESERVED_SUB}:]|${PCT})*@)?(?:${IP_LITERAL}|${REG_NAME})(?::[0-9]*)?`;
const PATH_ABEMPTY = `(?:/${PCHAR}*)*`;
const PATH_ABSOLUTE = `/(?:${PCHAR}+${PATH_ABEMPTY})?`;
const PATH_ROOTLESS = `${PCHAR}+${PATH_ABEMPTY}`;
const PATH_NOSCHEME = `${SEGMENT_NZ_NC}${PATH_ABEMPTY}`;
const SCHEME = '[A-Za-z][A-Za-z0-9+.\\-]*';
const TAIL = `(?:\\?${QUERY_OR_FRAGMENT})?(?:#${QUERY_OR_FRAGMENT})?`;
const ABSOLUTE_URI = new RegExp(`^${SCHEME}:(?://${AUTHORITY}${PATH_ABEMPTY}|${PATH_ABSOLUTE}|${PATH_ROOTLESS}|)${TAIL}$`);
const RELATIVE_REF = new RegExp(`^(?://${AUTHORITY}${PATH_ABEMPTY}|${PATH_ABSOLUTE}|${PATH_NOSCHEME}|)${TAIL}$`);

export function isAbsoluteUri(value: string): boolean {
  return ABSOLUTE_URI.test(value);
}

export function isUriReference(value: string): boolean {
  return uriReferences.of(value);
}

/**
 * A check of a string remembered: the values these checks see (attribute names, `source`,
 * `datacontenttype`) repeat from event to event, and a look-up costs a fraction of the patterns
 * (issue 17). Bounded: emptied when full, so values that never repeat cannot grow it.
 */
class Remembered {
  private readonly verdicts = new Map<string, boolean>();

  constructor(
    private readonly check: (value: string) => boolean,
    private readonly maxEntries = 1024,
    private readonly maxLength = 256,
  ) {}

  of(value: string): boolean {
    let verdict = this.verdicts.get(value);
    if (verdict === undefined) {
      verdict = this.check(value);
      if (value.length > this.maxLength) return verdict;
      if (this.verdicts.size >= this.maxEntries) this.verdicts.clear();
      this.verdicts.set(value, verdict);
    }
    return verdict;
  }
}

const uriReferences = new Remembered((value) => ABSOLUTE_URI.test(value) || RELATIVE_REF.test(value));
const attributeNames = new Remembered((name) => ATTRIBUTE_NAME.test(name));
const mediaTypes = new Remembered((value) => MEDIA_TYPE.test(value));

const isAttributeName = (name: string): boolean => attributeNames.of(name);
const isMediaType = (value: string): boolean => mediaTypes.of(value);
