/**
 * Conversions between CESQL types (spec §3.7). These are pure and report failure as `undefined`;
 * the evaluator turns a failure into a CastError and carries on with the zero value.
 */
import type { CesqlValue } from './types.js';
import { INT32_MAX, INT32_MIN } from './types.js';

const INTEGER_TEXT = /^[+-]?[0-9]+$/;

/**
 * String -> Integer (§3.7): base 10, optional leading sign, 32-bit. Leading zeros are accepted
 * ("007" is 7); anything else, including whitespace, is not an integer.
 */
export function parseInteger(text: string): number | undefined {
  if (!INTEGER_TEXT.test(text)) return undefined;
  const value = Number(text);
  if (value < INT32_MIN || value > INT32_MAX) return undefined;
  return value | 0; // also turns "-0" into 0
}

/** String -> Boolean (§3.7): "true" or "false" in any letter case. */
export function parseBoolean(text: string): boolean | undefined {
  // Length first: most strings are neither, and this avoids lower-casing them.
  if (text.length === 4) {
    if (text === 'true' || text.toLowerCase() === 'true') return true;
  } else if (text.length === 5) {
    if (text === 'false' || text.toLowerCase() === 'false') return false;
  }
  return undefined;
}

/** Any -> String (§3.7): never fails. Integers in base 10 without leading zeros. */
export function toCesqlString(value: CesqlValue): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return String(value);
  }
}

/** Short, printable form of a value for error messages. */
export function describeValue(value: CesqlValue): string {
  if (typeof value !== 'string') return String(value);
  const shown = value.length > 64 ? `${value.slice(0, 61)}...` : value;
  return `'${shown}'`;
}

/**
 * Integer results are kept in 32 bits: on overflow the value saturates at the nearest bound and
 * the caller raises a MathError. The spec only fixes this for ABS (§3.5.2: "returns 2147483647
 * as well as a MathError"); the arithmetic operators follow the same rule so that one behaviour
 * covers every overflow.
 */
export function isInt32Overflow(value: number): boolean {
  return value > INT32_MAX || value < INT32_MIN;
}

export function clampInt32(value: number): number {
  return value > INT32_MAX ? INT32_MAX : value < INT32_MIN ? INT32_MIN : value | 0; // `| 0`: no -0
}
