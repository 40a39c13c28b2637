/**
 * Built-in CESQL functions (spec §3.5). A function is identified by its name and arity (§3.5:
 * overloading by arity; a variadic overload only when its fixed arguments outnumber every other
 * overload's arity). The evaluator casts each argument to its parameter type before the call
 * (§3.7 rule 3), so implementations receive values of the declared types.
 *
 * "Character" is a Unicode code point: LENGTH('😀') is 1, and LEFT/RIGHT/SUBSTRING never split a
 * surrogate pair.
 */
import { parseBoolean, parseInteger, toCesqlString } from './cast.js';
import type { CesqlType, CesqlValue } from './types.js';
import { INT32_MAX, INT32_MIN } from './types.js';

/** `Any` parameters take the argument as it is: the explicit casts and type tests. */
export type ParameterType = CesqlType | 'Any';

export type FunctionFailureKind = 'math' | 'functionEvaluation' | 'cast';

/**
 * Where a function reports an error (§3.5.3: it still returns a value of its type). One instance
 * is reused for every call of one call site, so a successful call allocates nothing.
 */
export class FunctionOutcome {
  failure: { kind: FunctionFailureKind; message: string; from?: CesqlType; to?: CesqlType } | undefined;

  fail(kind: FunctionFailureKind, message: string, from?: CesqlType, to?: CesqlType): void {
    this.failure ??= { kind, message, from, to };
  }
}

export interface FunctionDefinition {
  readonly name: string;
  readonly parameters: readonly ParameterType[];
  /** Type of each argument after the fixed ones; absent for fixed arity. */
  readonly variadic?: CesqlType;
  readonly returns: CesqlType;
  readonly call: (args: readonly CesqlValue[], outcome: FunctionOutcome) => CesqlValue;
}

// -- code-point helpers --------------------------------------------------------------------------

const SURROGATE = /[\uD800-\uDFFF]/;

function codePointLength(text: string): number {
  if (!SURROGATE.test(text)) return text.length;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A low surrogate after a high one completes a pair already counted.
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const previous = text.charCodeAt(i - 1);
      if (previous >= 0xd800 && previous <= 0xdbff) continue;
    }
    count++;
  }
  return count;
}

/** Code points [start, end) of `text`, indexes 0-based. */
function codePointSlice(text: string, start: number, end: number): string {
  if (!SURROGATE.test(text)) return text.slice(start, end);
  return Array.from(text).slice(start, end).join('');
}

/**
 * White_Space characters of the Unicode Character Database (§3.5.1 TRIM: "whitespaces (as defined
 * by unicode)"). Not String.prototype.trim, which also strips U+FEFF and keeps U+0085.
 */
const UNICODE_WHITESPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const TRIM = new RegExp(`^[${UNICODE_WHITESPACE}]+|[${UNICODE_WHITESPACE}]+$`, 'g');

// -- the table ----------------------------------------------------------------------------------

function str(args: readonly CesqlValue[], index: number): string {
  return args[index] as string;
}

function int(args: readonly CesqlValue[], index: number): number {
  return args[index] as number;
}

const BUILT_INS: readonly FunctionDefinition[] = [
  // §3.5.1 String manipulation
  {
    name: 'LENGTH',
    parameters: ['String'],
    returns: 'Integer',
    call: (args) => codePointLength(str(args, 0)),
  },
  {
    name: 'CONCAT',
    parameters: [],
    variadic: 'String',
    returns: 'String',
    call: (args) => (args.length === 0 ? '' : args.join('')),
  },
  {
    name: 'CONCAT_WS',
    parameters: ['String'],
    variadic: 'String',
    returns: 'String',
    call: (args) => args.slice(1).join(str(args, 0)),
  },
  { name: 'LOWER', parameters: ['String'], returns: 'String', call: (args) => str(args, 0).toLowerCase() },
  { name: 'UPPER', parameters: ['String'], returns: 'String', call: (args) => str(args, 0).toUpperCase() },
  { name: 'TRIM', parameters: ['String'], returns: 'String', call: (args) => str(args, 0).replace(TRIM, '') },
  {
    name: 'LEFT',
    parameters: ['String', 'Integer'],
    returns: 'String',
    call: (args, outcome) => {
      const text = str(args, 0);
      const count = int(args, 1);
      if (count < 0) {
        // §3.5.1: "Returns x if y < 0 and a FunctionEvaluationError".
        outcome.fail('functionEvaluation', `LEFT: the length must not be negative, got ${count}`);
        return text;
      }
      return codePointSlice(text, 0, count);
    },
  },
  {
    name: 'RIGHT',
    parameters: ['String', 'Integer'],
    returns: 'String',
    call: (args, outcome) => {
      const text = str(args, 0);
      const count = int(args, 1);
      if (count < 0) {
        outcome.fail('functionEvaluation', `RIGHT: the length must not be negative, got ${count}`);
        return text;
      }
      const length = codePointLength(text);
      return count >= length ? text : codePointSlice(text, length - count, length);
    },
  },
  {
    name: 'SUBSTRING',
    parameters: ['String', 'Integer'],
    returns: 'String',
    call: (args, outcome) => substring(str(args, 0), int(args, 1), undefined, outcome),
  },
  {
    name: 'SUBSTRING',
    parameters: ['String', 'Integer', 'Integer'],
    returns: 'String',
    call: (args, outcome) => substring(str(args, 0), int(args, 1), int(args, 2), outcome),
  },

  // §3.5.2 Math
  {
    name: 'ABS',
    parameters: ['Integer'],
    returns: 'Integer',
    call: (args, outcome) => {
      const value = int(args, 0);
      if (value === INT32_MIN) {
        outcome.fail('math', `ABS(${INT32_MIN}) overflows a 32-bit integer`);
        return INT32_MAX;
      }
      return value < 0 ? -value : value;
    },
  },

  // Explicit casts (§3.7 semantics; named in the spec's examples, §2, and the conformance kit).
  {
    name: 'INT',
    parameters: ['Any'],
    returns: 'Integer',
    call: (args, outcome) => {
      const value = args[0] as CesqlValue;
      if (typeof value === 'number') return value;
      if (typeof value === 'boolean') return value ? 1 : 0;
      const parsed = parseInteger(value);
      if (parsed === undefined) {
        outcome.fail('cast', `INT: cannot cast ${quote(value)} to Integer`, 'String', 'Integer');
        return 0;
      }
      return parsed;
    },
  },
  {
    name: 'BOOL',
    parameters: ['Any'],
    returns: 'Boolean',
    call: (args, outcome) => {
      const value = args[0] as CesqlValue;
      if (typeof value === 'boolean') return value;
      if (typeof value === 'number') return value !== 0;
      const parsed = parseBoolean(value);
      if (parsed === undefined) {
        outcome.fail('cast', `BOOL: cannot cast ${quote(value)} to Boolean`, 'String', 'Boolean');
        return false;
      }
      return parsed;
    },
  },
  { name: 'STRING', parameters: ['Any'], returns: 'String', call: (args) => toCesqlString(args[0] as CesqlValue) },
  // Type tests on the String form of the argument (as in the conformance kit before v1, which
  // had IS_BOOL(1) false and IS_INT(TRUE) false).
  {
    name: 'IS_BOOL',
    parameters: ['String'],
    returns: 'Boolean',
    call: (args) => parseBoolean(str(args, 0)) !== undefined,
  },
  {
    name: 'IS_INT',
    parameters: ['String'],
    returns: 'Boolean',
    call: (args) => parseInteger(str(args, 0)) !== undefined,
  },
];

function quote(text: string): string {
  return `'${text.length > 64 ? `${text.slice(0, 61)}...` : text}'`;
}

/**
 * §3.5.1 SUBSTRING: 1-based `pos`; negative counts from the end; 0 gives ''. Out of range
 * (pos > LENGTH or pos < -LENGTH) or a negative `len` gives '' and a FunctionEvaluationError.
 */
function substring(text: string, pos: number, len: number | undefined, outcome: FunctionOutcome): string {
  const length = codePointLength(text);
  if (pos > length || pos < -length) {
    outcome.fail('functionEvaluation', `SUBSTRING: position ${pos} is outside a string of length ${length}`);
    return '';
  }
  if (len !== undefined && len < 0) {
    outcome.fail('functionEvaluation', `SUBSTRING: the length must not be negative, got ${len}`);
    return '';
  }
  if (pos === 0) return '';
  const start = pos > 0 ? pos - 1 : length + pos;
  const end = len === undefined ? length : Math.min(length, start + len);
  return codePointSlice(text, start, end);
}

const BY_NAME: ReadonlyMap<string, readonly FunctionDefinition[]> = (() => {
  const map = new Map<string, FunctionDefinition[]>();
  for (const definition of BUILT_INS) {
    const overloads = map.get(definition.name) ?? [];
    overloads.push(definition);
    map.set(definition.name, overloads);
  }
  return map;
})();

/**
 * The overload of `name` (upper case) that accepts `arity` arguments, or undefined: a
 * MissingFunctionError (§3.5). Fixed-arity overloads win over a variadic one.
 */
export function resolveFunction(name: string, arity: number): FunctionDefinition | undefined {
  const overloads = BY_NAME.get(name);
  if (overloads === undefined) return undefined;
  let variadic: FunctionDefinition | undefined;
  for (const overload of overloads) {
    if (overload.variadic === undefined) {
      if (overload.parameters.length === arity) return overload;
    } else if (arity >= overload.parameters.length) {
      variadic = overload;
    }
  }
  return variadic;
}

/** Names of the built-in functions, for messages. */
export function builtInFunctionNames(): readonly string[] {
  return [...BY_NAME.keys()];
}

/** The declared type of argument `index` of a resolved overload. */
export function parameterType(definition: FunctionDefinition, index: number): ParameterType {
  return definition.parameters[index] ?? definition.variadic ?? 'Any';
}
