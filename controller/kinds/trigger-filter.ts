/**
 * A Trigger's filters, as users write them, into the contract's `Filter`: the part of a
 * Trigger's admission that checks `spec.filter` and `spec.filters`.
 *
 *   spec:
 *     filter:                     # legacy: exact match, "" = attribute must be present
 *       attributes: { type: com.example.order }
 *     filters:                    # Subscriptions API dialects; all of them must pass
 *       - exact:  { type: com.example.order }
 *       - any:
 *           - prefix: { source: /orders/ }
 *           - not: { suffix: { subject: .tmp } }
 *       - cesql: "EXISTS priority AND INT(priority) > 3"
 *
 * A non-empty `spec.filters` replaces `spec.filter` (Knative Eventing); `spec.filter` is then
 * only validated and reported as ignored, a warning that does not stop the trigger. Validation
 * collects every problem as a field error for the Trigger's status, each with the path of the
 * offending field (`spec.filters[1].any[0]`); a CESQL problem also keeps its position in the
 * expression. Pure: no I/O.
 */
import type { CesqlError } from '../../core/cesql/index.js';
import { compileCesql } from '../../core/cesql/index.js';
import type { Filter } from '../../core/filters/types.js';
import type { FieldError } from './admission.js';
import { ATTRIBUTE_NAME } from '../../core/cloudevents/event.js';

export interface FilterProblem extends FieldError {
  /** Where, e.g. `spec.filters[1].any[0].exact.Type`. */
  readonly path: string;
  readonly message: string;
  /** For CESQL problems: 0-based offset in the expression. */
  readonly position?: number;
}

export type TriggerFilter =
  | { readonly ok: true; readonly filter: Filter | null; readonly warnings: readonly FilterProblem[] }
  | { readonly ok: false; readonly errors: readonly FilterProblem[]; readonly warnings: readonly FilterProblem[] };

/** Deeper nesting of all/any/not is refused, so that validation and evaluation stay within the stack. */
export const MAX_FILTER_NESTING = 64;

/** CloudEvents attribute naming (CloudEvents 1.0 §3.1.1): lower-case letters and digits. */

const DIALECTS = ['exact', 'prefix', 'suffix', 'all', 'any', 'not', 'cesql'] as const;
type Dialect = (typeof DIALECTS)[number];
const DIALECT_LIST = DIALECTS.join(', ');

function isDialect(key: string): key is Dialect {
  return (DIALECTS as readonly string[]).includes(key);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function keyPath(path: string, key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

class Collector {
  readonly problems: FilterProblem[] = [];
  readonly warnings: FilterProblem[] = [];

  problem(path: string, message: string, position?: number): undefined {
    this.problems.push(fieldProblem(path, message, position));
    return undefined;
  }

  warning(path: string, message: string, position?: number): void {
    this.warnings.push(fieldProblem(path, message, position));
  }
}

function fieldProblem(path: string, message: string, position: number | undefined): FilterProblem {
  if (position === undefined) return { path, message };
  // CESQL messages usually name the column already; add it when they do not.
  const at = /column \d+/.test(message) ? '' : ` (at column ${position + 1} of the expression)`;
  return { path, message: `${message}${at}`, position };
}

/**
 * Reads a Trigger's `spec` (plain JSON/YAML data) and returns its filter, `null` when it has none
 * (every event passes), or the list of problems.
 */
export function triggerFilter(spec: unknown): TriggerFilter {
  const collector = new Collector();
  let filter: Filter | null = null;
  if (isPlainObject(spec)) {
    const legacy = convertLegacy(spec.filter, collector);
    const filters = convertFilters(spec.filters, collector);
    if (filters !== undefined && filters.length > 0) {
      filter = { kind: 'all', filters };
      if (legacy !== null && legacy !== undefined) collector.warning('spec.filter', 'ignored: spec.filters is set and replaces spec.filter');
    } else {
      filter = legacy ?? null; // an empty spec.filters is the same as none
    }
  } else if (spec !== undefined && spec !== null) {
    collector.problem('spec', `must be an object, found ${describe(spec)}`);
  }
  if (collector.problems.length > 0) {
    return { ok: false, errors: collector.problems, warnings: collector.warnings };
  }
  return { ok: true, filter, warnings: collector.warnings };
}

/** `spec.filter`: only `attributes` (Knative's TriggerFilter). Undefined when invalid. */
function convertLegacy(raw: unknown, collector: Collector): Filter | null | undefined {
  const path = 'spec.filter';
  if (raw === undefined || raw === null) return null;
  if (!isPlainObject(raw)) return collector.problem(path, `must be an object with 'attributes', found ${describe(raw)}`);
  let valid = true;
  for (const key of Object.keys(raw)) {
    if (key === 'attributes') continue;
    valid = false;
    const hint = isDialect(key) ? `; '${key}' belongs in a spec.filters entry` : '';
    collector.problem(keyPath(path, key), `unknown field '${key}': spec.filter has only 'attributes'${hint}`);
  }
  const attributes = raw.attributes;
  if (attributes === undefined || attributes === null) return valid ? null : undefined;
  const attributesPath = `${path}.attributes`;
  if (!isPlainObject(attributes)) {
    return collector.problem(attributesPath, `must map attribute names to values, found ${describe(attributes)}`);
  }
  const converted: Record<string, string> = {};
  for (const [name, value] of Object.entries(attributes)) {
    const entryPath = keyPath(attributesPath, name);
    if (!checkAttributeName(name, entryPath, collector)) valid = false;
    if (typeof value !== 'string') {
      valid = false;
      collector.problem(entryPath, `the value of '${name}' must be a string, found ${describe(value)} (quote it in YAML)`);
      continue;
    }
    converted[name] = value;
  }
  if (!valid) return undefined;
  // An empty map filters nothing (Knative): same as no filter.
  return Object.keys(converted).length === 0 ? null : { kind: 'attributes', attributes: converted };
}

/** `spec.filters`: a list; undefined when absent or invalid. */
function convertFilters(raw: unknown, collector: Collector): Filter[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) {
    return collector.problem('spec.filters', `must be a list of filters, found ${describe(raw)}`);
  }
  return convertList(raw, 'spec.filters', 1, collector);
}

function convertList(raw: readonly unknown[], path: string, depth: number, collector: Collector): Filter[] | undefined {
  const filters: Filter[] = [];
  let valid = true;
  raw.forEach((entry, index) => {
    const converted = convertFilter(entry, `${path}[${index}]`, depth, collector);
    if (converted === undefined) valid = false;
    else filters.push(converted);
  });
  return valid ? filters : undefined;
}

/** One filter object: exactly one dialect. `depth` counts the filter objects it is nested in. */
function convertFilter(raw: unknown, path: string, depth: number, collector: Collector): Filter | undefined {
  if (depth > MAX_FILTER_NESTING) {
    return collector.problem(path, `filters nested too deeply (more than ${MAX_FILTER_NESTING} levels of all/any/not)`);
  }
  if (!isPlainObject(raw)) {
    return collector.problem(path, `must be an object with one of ${DIALECT_LIST}, found ${describe(raw)}`);
  }
  const keys = Object.keys(raw);
  const unknown = keys.filter((key) => !isDialect(key));
  for (const key of unknown) {
    collector.problem(keyPath(path, key), `unknown filter dialect '${key}': expected one of ${DIALECT_LIST}`);
  }
  const dialects = keys.filter(isDialect);
  if (dialects.length > 1) {
    return collector.problem(
      path,
      `more than one dialect in one filter (${dialects.join(', ')}): a filter holds exactly one; ` +
        `give each its own entry, or nest them in 'all'`,
    );
  }
  const [dialect] = dialects;
  if (dialect === undefined) {
    if (unknown.length > 0) return undefined;
    return collector.problem(path, `empty filter: set exactly one of ${DIALECT_LIST}`);
  }
  if (unknown.length > 0) return undefined;
  return convertDialect(dialect, raw[dialect], `${path}.${dialect}`, depth, collector);
}

function convertDialect(dialect: Dialect, value: unknown, path: string, depth: number, collector: Collector): Filter | undefined {
  switch (dialect) {
    case 'exact':
    case 'prefix':
    case 'suffix': {
      const attributes = convertAttributeMap(dialect, value, path, collector);
      return attributes === undefined ? undefined : { kind: dialect, attributes };
    }
    case 'all':
    case 'any': {
      if (!Array.isArray(value)) {
        return collector.problem(path, `must be a list of filters, found ${describe(value)}`);
      }
      if (value.length === 0) {
        return collector.problem(path, `empty '${dialect}': it must contain at least one filter`);
      }
      const filters = convertList(value, path, depth + 1, collector);
      return filters === undefined ? undefined : { kind: dialect, filters };
    }
    case 'not': {
      if (Array.isArray(value)) {
        return collector.problem(path, `'not' takes one filter, not a list (wrap several in 'all' or 'any')`);
      }
      if (value === null || value === undefined || (isPlainObject(value) && Object.keys(value).length === 0)) {
        return collector.problem(path, `empty 'not': it must contain one filter`);
      }
      const filter = convertFilter(value, path, depth + 1, collector);
      return filter === undefined ? undefined : { kind: 'not', filter };
    }
    case 'cesql':
      return convertCesql(value, path, collector);
    default: {
      const unreachable: never = dialect;
      return unreachable;
    }
  }
}

function convertAttributeMap(
  dialect: 'exact' | 'prefix' | 'suffix',
  value: unknown,
  path: string,
  collector: Collector,
): Record<string, string> | undefined {
  if (value === null || value === undefined) {
    return collector.problem(path, `empty '${dialect}': map at least one attribute to a value`);
  }
  if (!isPlainObject(value)) {
    return collector.problem(path, `must map attribute names to values, found ${describe(value)}`);
  }
  const entries = Object.entries(value);
  if (entries.length === 0) {
    return collector.problem(path, `empty '${dialect}': map at least one attribute to a value`);
  }
  const attributes: Record<string, string> = {};
  let valid = true;
  for (const [name, attributeValue] of entries) {
    const entryPath = keyPath(path, name);
    if (!checkAttributeName(name, entryPath, collector)) valid = false;
    if (typeof attributeValue !== 'string') {
      valid = false;
      collector.problem(entryPath, `the value of '${name}' must be a string, found ${describe(attributeValue)} (quote it in YAML)`);
      continue;
    }
    if (attributeValue === '') {
      // Knative rejects empty values in these dialects; say what was probably meant.
      valid = false;
      collector.problem(
        entryPath,
        `the value of '${name}' is empty: ${dialect} needs a non-empty value (to require only that the attribute is present, use cesql "EXISTS ${ATTRIBUTE_NAME.test(name) ? name : 'name'}")`,
      );
      continue;
    }
    attributes[name] = attributeValue;
  }
  return valid ? attributes : undefined;
}

function checkAttributeName(name: string, path: string, collector: Collector): boolean {
  if (ATTRIBUTE_NAME.test(name)) return true;
  const hint = /^[A-Za-z0-9]+$/.test(name) ? ` (did you mean '${name.toLowerCase()}'?)` : '';
  collector.problem(
    path,
    `invalid attribute name ${JSON.stringify(name)}: CloudEvents attribute names are lower-case letters and digits only (^[a-z0-9]+$)${hint}`,
  );
  return false;
}

function convertCesql(value: unknown, path: string, collector: Collector): Filter | undefined {
  if (typeof value !== 'string') {
    return collector.problem(path, `must be a CESQL expression string, found ${describe(value)}`);
  }
  if (value.trim() === '') return collector.problem(path, 'empty CESQL expression');
  const compiled = compileCesql(value);
  if (!compiled.ok) {
    return collector.problem(path, `invalid CESQL expression: ${compiled.error.message}${excerpt(value, compiled.error.position)}`, compiled.error.position);
  }
  let valid = true;
  for (const diagnostic of compiled.diagnostics) {
    valid = false;
    collector.problem(path, `CESQL expression always fails: ${describeDiagnostic(diagnostic)}`, diagnostic.position);
  }
  if (compiled.resultType !== 'Boolean' && compiled.resultType !== 'Any') {
    valid = false;
    collector.problem(
      path,
      `CESQL expression evaluates to ${compiled.resultType === 'Integer' ? 'an' : 'a'} ${compiled.resultType}; a filter needs a Boolean (CESQL §1.2)`,
    );
  }
  for (const warning of compiled.warnings) collector.warning(path, warning.message, warning.position);
  return valid ? { kind: 'cesql', expression: value } : undefined;
}

function describeDiagnostic(error: CesqlError): string {
  return `${error.kind} error: ${error.message}`;
}

/** ` near "…text…"` around the offending position, for a one-line status message. */
function excerpt(expression: string, position: number): string {
  if (expression.length <= 40) return ` in "${expression}"`;
  const start = Math.max(0, position - 15);
  const end = Math.min(expression.length, position + 15);
  return ` near "${start > 0 ? '…' : ''}${expression.slice(start, end)}${end < expression.length ? '…' : ''}"`;
}
