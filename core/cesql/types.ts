import { assertNever } from '../values.js';

/**
 * Types of the CloudEvents SQL Expression Language (CESQL v1,
 * https://github.com/cloudevents/spec/blob/main/cesql/spec.md): values, the AST the parser
 * builds, and the error kinds the spec names (§3.3).
 */

/** The three primitive types (§3.1). URI, URI-reference and Timestamp attributes are Strings. */
export type CesqlType = 'Boolean' | 'Integer' | 'String';

/**
 * A runtime value. An Integer is a JS number that is always a 32-bit signed integer (never -0);
 * the evaluator keeps it so (§3.1).
 */
export type CesqlValue = boolean | number | string;

/**
 * The type of an expression known before evaluation. `Any` is an attribute reference, whose
 * type is only known from the event (binary-mode events carry Strings, JSON events may carry
 * Integers and Booleans).
 */
export type StaticType = CesqlType | 'Any';

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

/** The zero value of each type (§3.1); `Any` falls back to Boolean (§3.2, last paragraph). */
export function zeroValue(type: StaticType): CesqlValue {
  switch (type) {
    case 'Boolean':
    case 'Any':
      return false;
    case 'Integer':
      return 0;
    case 'String':
      return '';
    default:
      return assertNever(type);
  }
}

export function typeOfValue(value: CesqlValue): CesqlType {
  switch (typeof value) {
    case 'boolean':
      return 'Boolean';
    case 'number':
      return 'Integer';
    default:
      return 'String';
  }
}

// ---------------------------------------------------------------------------------------------
// AST. `position` is the 0-based offset in the expression of the token that names the node
// (the operator, the function name, the literal), used in error messages.

export type LogicOperator = 'AND' | 'OR' | 'XOR';
export type ComparisonOperator = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type ArithmeticOperator = '+' | '-' | '*' | '/' | '%';
export type BinaryOperator = LogicOperator | ComparisonOperator | ArithmeticOperator;

export type Expr =
  | { readonly kind: 'literal'; readonly position: number; readonly value: CesqlValue }
  | { readonly kind: 'attribute'; readonly position: number; readonly name: string }
  | { readonly kind: 'exists'; readonly position: number; readonly name: string }
  | { readonly kind: 'not'; readonly position: number; readonly operand: Expr }
  | { readonly kind: 'negate'; readonly position: number; readonly operand: Expr }
  | {
      readonly kind: 'binary';
      readonly position: number;
      readonly operator: BinaryOperator;
      readonly left: Expr;
      readonly right: Expr;
    }
  | {
      readonly kind: 'like';
      readonly position: number;
      readonly negated: boolean;
      readonly operand: Expr;
      /** The pattern as written, after string-literal unescaping; `\%` and `\_` still escaped. */
      readonly pattern: string;
    }
  | {
      readonly kind: 'in';
      readonly position: number;
      readonly negated: boolean;
      readonly operand: Expr;
      readonly set: readonly Expr[];
    }
  | {
      readonly kind: 'call';
      readonly position: number;
      /** Upper-cased: function names are case-insensitive (§2). */
      readonly name: string;
      readonly args: readonly Expr[];
    };

export type ExprKind = Expr['kind'];

// ---------------------------------------------------------------------------------------------
// Errors (§3.3). They are values: the engine returns them next to a result, never throws them.

export type CesqlErrorKind =
  | 'parse'
  | 'math'
  | 'cast'
  | 'missingFunction'
  | 'functionEvaluation'
  | 'missingAttribute'
  | 'generic';

interface ErrorBase {
  readonly message: string;
  /** 0-based offset in the expression of the construct that raised the error. */
  readonly position: number;
}

export type CesqlError =
  | (ErrorBase & { readonly kind: 'parse' })
  | (ErrorBase & { readonly kind: 'math' })
  | (ErrorBase & { readonly kind: 'cast'; readonly from: CesqlType; readonly to: CesqlType })
  | (ErrorBase & { readonly kind: 'missingFunction'; readonly name: string; readonly arity: number })
  | (ErrorBase & { readonly kind: 'functionEvaluation'; readonly name: string })
  | (ErrorBase & { readonly kind: 'missingAttribute'; readonly attribute: string })
  | (ErrorBase & { readonly kind: 'generic' });

export type CesqlParseError = Extract<CesqlError, { kind: 'parse' }>;

/** Valid but probably not what the author meant (e.g. mixed AND/OR without parentheses). */
export interface CesqlWarning {
  readonly message: string;
  readonly position: number;
}

/** The outcome of one evaluation: always a value; an error when one was raised (§3.3). */
export interface EvaluationResult {
  readonly value: CesqlValue;
  readonly error?: CesqlError;
}

/** 1-based column for messages; positions are 0-based offsets. */
export function column(position: number): number {
  return position + 1;
}

export { assertNever };
