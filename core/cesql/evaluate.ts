/**
 * CESQL evaluation (spec §3). The AST is compiled once into a tree of closures, which is then
 * run per event; `evaluate(ast, event)` is the one-shot form of the same code.
 *
 * Error semantics. The spec makes every operator total (§3.3): an error comes with a value. The
 * conformance kit pins down which value, and this is the one rule that satisfies all of it:
 *
 *  - An error raised by a node itself (a failed implicit cast of an operand, division by zero,
 *    a function's own error) leaves the node's defined value: `NOT 10` is `true` with a
 *    CastError (the operand becomes the Boolean zero, false), `ABS(-2147483648)` is 2147483647
 *    with a MathError, `LEFT('abc', -2)` is 'abc' with a FunctionEvaluationError.
 *  - An error coming up from an operand stops the node, which returns the zero value of its own
 *    type (§3.2, §4.1 "fail fast"): `missing / 0` is 0 with a MissingAttributeError and no
 *    MathError; `NOT missing` is false; `true AND (1 != 1 / 0)` is false with a MathError.
 *
 * Evaluation stops at the first error that comes up from an operand, so a result carries at most
 * a handful of errors; the first one is reported. AND and OR short-circuit (§3.4.2).
 *
 * Allocation. A compiled expression owns one mutable context and reuses it for every run; an
 * error that doesn't depend on the event (missing attribute, division by zero, overflow,
 * missing function) is built once at compile time. A run that raises none of the others
 * allocates nothing beyond what string functions themselves create.
 */
import type { AttributeValue, CloudEvent } from '../cloudevents/event.js';
import { clampInt32, describeValue, isInt32Overflow, parseBoolean, parseInteger, toCesqlString } from './cast.js';
import type { FunctionFailureKind, ParameterType } from './functions.js';
import { FunctionOutcome, parameterType, resolveFunction } from './functions.js';
import { compileLike } from './like.js';
import { missingFunctionError, staticType } from './typecheck.js';
import type {
  BinaryOperator,
  CesqlError,
  CesqlType,
  CesqlValue,
  EvaluationResult,
  Expr,
  StaticType,
} from './types.js';
import { assertNever, column, INT32_MAX, INT32_MIN, typeOfValue, zeroValue } from './types.js';

type Attributes = Readonly<Record<string, AttributeValue>>;

/** Mutable state of one run. `errorCount` lets a node tell whether an operand raised anything. */
interface EvalContext {
  attributes: Attributes;
  errorCount: number;
  error: CesqlError | undefined;
}

type Node = (ctx: EvalContext) => CesqlValue;

const NO_ATTRIBUTES: Attributes = Object.freeze({});

function raise(ctx: EvalContext, error: CesqlError): void {
  if (ctx.errorCount++ === 0) ctx.error = error;
}

// -- attributes (§3.2) ---------------------------------------------------------------------------

/**
 * The CESQL value of an attribute, or undefined when the event lacks it. Only own data values
 * count: a name such as `constructor` must not find Object.prototype's. A number that is not a
 * 32-bit integer is not a CESQL Integer and is represented as a String (§3.2).
 */
export function readAttribute(attributes: Attributes, name: string): CesqlValue | undefined {
  const value = attributes[name];
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return (value | 0) === value ? value | 0 : String(value);
    default:
      return undefined;
  }
}

function hasAttribute(attributes: Attributes, name: string): boolean {
  const type = typeof attributes[name];
  return type === 'string' || type === 'number' || type === 'boolean';
}

// -- implicit casts (§3.7) -----------------------------------------------------------------------

function castError(value: CesqlValue, to: CesqlType, what: string, position: number): CesqlError {
  const from = typeOfValue(value);
  return {
    kind: 'cast',
    from,
    to,
    message: `${what} at column ${column(position)}: cannot cast ${from} ${describeValue(value)} to ${to}`,
    position,
  };
}

function toInteger(ctx: EvalContext, value: CesqlValue, what: string, position: number): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  const parsed = parseInteger(value);
  if (parsed !== undefined) return parsed;
  raise(ctx, castError(value, 'Integer', what, position));
  return 0;
}

/** Integer -> Boolean is not implicit: see implicitCastSucceeds in typecheck.ts. */
function toBoolean(ctx: EvalContext, value: CesqlValue, what: string, position: number): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const parsed = parseBoolean(value);
    if (parsed !== undefined) return parsed;
  }
  raise(ctx, castError(value, 'Boolean', what, position));
  return false;
}

function castTo(ctx: EvalContext, value: CesqlValue, type: ParameterType, what: string, position: number): CesqlValue {
  switch (type) {
    case 'Any':
      return value;
    case 'String':
      return typeof value === 'string' ? value : toCesqlString(value);
    case 'Integer':
      return toInteger(ctx, value, what, position);
    case 'Boolean':
      return toBoolean(ctx, value, what, position);
    default:
      return assertNever(type);
  }
}

/**
 * `x = y` (§3.4.2, §3.7): `=` is ambiguous, so the type of `y` decides and `x` is cast to it.
 * `IN` uses the same comparison with the roles swapped (§3.7: the left operand's type is the
 * target), which is why this takes the target value first.
 */
function equalsAsTypeOf(ctx: EvalContext, target: CesqlValue, other: CesqlValue, what: string, position: number): boolean {
  switch (typeof target) {
    case 'string':
      return (typeof other === 'string' ? other : toCesqlString(other)) === target;
    case 'number':
      return toInteger(ctx, other, what, position) === target;
    default:
      return toBoolean(ctx, other, what, position) === target;
  }
}

// -- compilation -----------------------------------------------------------------------------------

function compileNode(expr: Expr): Node {
  switch (expr.kind) {
    case 'literal': {
      const value = expr.value;
      return () => value;
    }
    case 'attribute':
      return compileAttribute(expr.name, expr.position);
    case 'exists': {
      const name = expr.name;
      return (ctx) => hasAttribute(ctx.attributes, name);
    }
    case 'not': {
      const operand = compileNode(expr.operand);
      const position = expr.position;
      return (ctx) => {
        const before = ctx.errorCount;
        const value = operand(ctx);
        if (ctx.errorCount !== before) return false;
        return !toBoolean(ctx, value, 'NOT', position);
      };
    }
    case 'negate':
      return compileNegate(compileNode(expr.operand), expr.position);
    case 'binary':
      return compileBinary(expr.operator, compileNode(expr.left), compileNode(expr.right), expr.position);
    case 'like': {
      const operand = compileNode(expr.operand);
      const matches = compileLike(expr.pattern);
      const negated = expr.negated;
      return (ctx) => {
        const before = ctx.errorCount;
        const value = operand(ctx);
        if (ctx.errorCount !== before) return false;
        // §3.4.3: a non-String left operand is cast to String, which never fails.
        return matches(typeof value === 'string' ? value : toCesqlString(value)) !== negated;
      };
    }
    case 'in':
      return compileIn(compileNode(expr.operand), expr.set.map(compileNode), expr.negated, expr.position);
    case 'call':
      return compileCall(expr);
    default:
      return assertNever(expr);
  }
}

function compileAttribute(name: string, position: number): Node {
  const missing: CesqlError = {
    kind: 'missingAttribute',
    attribute: name,
    message: `attribute '${name}' at column ${column(position)} is not in the event`,
    position,
  };
  return (ctx) => {
    const value = readAttribute(ctx.attributes, name);
    if (value === undefined) {
      raise(ctx, missing);
      return false; // the Boolean zero: an attribute's type is unknown (§3.2)
    }
    return value;
  };
}

function mathError(message: string, position: number): CesqlError {
  return { kind: 'math', message: `${message} at column ${column(position)}`, position };
}

function compileNegate(operand: Node, position: number): Node {
  const overflow = mathError(`-(${INT32_MIN}) overflows a 32-bit integer`, position);
  return (ctx) => {
    const before = ctx.errorCount;
    const value = operand(ctx);
    if (ctx.errorCount !== before) return 0;
    const integer = toInteger(ctx, value, "unary '-'", position);
    if (integer === INT32_MIN) {
      raise(ctx, overflow);
      return INT32_MAX;
    }
    return -integer | 0;
  };
}

function compileBinary(operator: BinaryOperator, left: Node, right: Node, position: number): Node {
  const what = `'${operator}'`;
  switch (operator) {
    case 'AND':
      return (ctx) => {
        const before = ctx.errorCount;
        const a = left(ctx);
        if (ctx.errorCount !== before) return false;
        if (!toBoolean(ctx, a, 'AND', position)) return false; // short circuit (§3.4.2)
        const middle = ctx.errorCount;
        const b = right(ctx);
        if (ctx.errorCount !== middle) return false;
        return toBoolean(ctx, b, 'AND', position);
      };
    case 'OR':
      return (ctx) => {
        const before = ctx.errorCount;
        const a = left(ctx);
        if (ctx.errorCount !== before) return false;
        if (toBoolean(ctx, a, 'OR', position)) return true; // short circuit (§3.4.2)
        const middle = ctx.errorCount;
        const b = right(ctx);
        if (ctx.errorCount !== middle) return false;
        return toBoolean(ctx, b, 'OR', position);
      };
    case 'XOR':
      return (ctx) => {
        const before = ctx.errorCount;
        const a = left(ctx);
        if (ctx.errorCount !== before) return false;
        const b = right(ctx);
        if (ctx.errorCount !== before) return false;
        return toBoolean(ctx, a, 'XOR', position) !== toBoolean(ctx, b, 'XOR', position);
      };
    case '=':
    case '!=': {
      const negated = operator === '!=';
      return (ctx) => {
        const before = ctx.errorCount;
        const a = left(ctx);
        if (ctx.errorCount !== before) return false;
        const b = right(ctx);
        if (ctx.errorCount !== before) return false;
        if (typeof a === 'string' && typeof b === 'string') return (a === b) !== negated; // fast path
        return equalsAsTypeOf(ctx, b, a, what, position) !== negated;
      };
    }
    case '<':
    case '<=':
    case '>':
    case '>=':
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
      return compileIntegerOperator(operator, left, right, position);
    default:
      return assertNever(operator);
  }
}

function compileIntegerOperator(
  operator: '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '%',
  left: Node,
  right: Node,
  position: number,
): Node {
  const what = `'${operator}'`;
  const zero = operator === '<' || operator === '<=' || operator === '>' || operator === '>=' ? false : 0;
  const apply = integerOperation(operator, position);
  return (ctx) => {
    const before = ctx.errorCount;
    const a = left(ctx);
    if (ctx.errorCount !== before) return zero;
    const b = right(ctx);
    if (ctx.errorCount !== before) return zero;
    return apply(ctx, toInteger(ctx, a, what, position), toInteger(ctx, b, what, position));
  };
}

function integerOperation(
  operator: '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '%',
  position: number,
): (ctx: EvalContext, a: number, b: number) => CesqlValue {
  const overflow = mathError(`'${operator}' overflows a 32-bit integer`, position);
  const divisionByZero = mathError(`'${operator}' by zero`, position);
  // §3.4.2: / and % truncate toward zero, the remainder takes the dividend's sign, and a zero
  // divisor gives 0 and a MathError. Overflow: see clampInt32.
  const checked = (ctx: EvalContext, result: number): number => {
    if (!isInt32Overflow(result)) return result | 0;
    raise(ctx, overflow);
    return clampInt32(result);
  };
  switch (operator) {
    case '<':
      return (_ctx, a, b) => a < b;
    case '<=':
      return (_ctx, a, b) => a <= b;
    case '>':
      return (_ctx, a, b) => a > b;
    case '>=':
      return (_ctx, a, b) => a >= b;
    // Sums and differences of int32s are exact in doubles; products are too large to be exact
    // but never small enough to hide an overflow.
    case '+':
      return (ctx, a, b) => checked(ctx, a + b);
    case '-':
      return (ctx, a, b) => checked(ctx, a - b);
    case '*':
      return (ctx, a, b) => checked(ctx, a * b);
    case '/':
      return (ctx, a, b) => {
        if (b === 0) {
          raise(ctx, divisionByZero);
          return 0;
        }
        return checked(ctx, Math.trunc(a / b));
      };
    case '%':
      return (ctx, a, b) => {
        if (b === 0) {
          raise(ctx, divisionByZero);
          return 0;
        }
        return (a % b) | 0;
      };
    default:
      return assertNever(operator);
  }
}

function compileIn(operand: Node, set: readonly Node[], negated: boolean, position: number): Node {
  return (ctx) => {
    const before = ctx.errorCount;
    const target = operand(ctx);
    if (ctx.errorCount !== before) return false;
    for (let i = 0; i < set.length; i++) {
      const elementStart = ctx.errorCount;
      const element = (set[i] as Node)(ctx);
      if (ctx.errorCount !== elementStart) return false;
      if (equalsAsTypeOf(ctx, target, element, 'IN', position)) return !negated;
    }
    return negated;
  };
}

function compileCall(expr: Extract<Expr, { kind: 'call' }>): Node {
  const definition = resolveFunction(expr.name, expr.args.length);
  if (definition === undefined) {
    // §3.5: "When a function invocation cannot be dispatched, the return value is false, and a
    // MissingFunctionError is also returned." The arguments are not evaluated.
    const error = missingFunctionError(expr.name, expr.args.length, expr.position);
    return (ctx) => {
      raise(ctx, error);
      return false;
    };
  }
  const name = expr.name;
  const position = expr.position;
  const args = expr.args.map(compileNode);
  const types = expr.args.map((_, index) => parameterType(definition, index));
  const buffer: CesqlValue[] = new Array<CesqlValue>(args.length).fill(false);
  const outcome = new FunctionOutcome();
  const zero = zeroValue(definition.returns);
  const call = definition.call;
  return (ctx) => {
    const before = ctx.errorCount;
    for (let i = 0; i < args.length; i++) {
      const value = (args[i] as Node)(ctx);
      if (ctx.errorCount !== before) return zero;
      buffer[i] = value;
    }
    // §3.7 rules 1 and 3: each argument is cast to its parameter type.
    for (let i = 0; i < args.length; i++) {
      buffer[i] = castTo(ctx, buffer[i] as CesqlValue, types[i] as ParameterType, name, position);
    }
    outcome.failure = undefined;
    const result = call(buffer, outcome);
    const failure = outcome.failure;
    if (failure !== undefined) raise(ctx, functionError(name, position, failure));
    return result;
  };
}

function functionError(
  name: string,
  position: number,
  failure: { kind: FunctionFailureKind; message: string; from?: CesqlType; to?: CesqlType },
): CesqlError {
  const message = `${failure.message} (${name} at column ${column(position)})`;
  switch (failure.kind) {
    case 'math':
      return { kind: 'math', message, position };
    case 'functionEvaluation':
      return { kind: 'functionEvaluation', name, message, position };
    case 'cast':
      return { kind: 'cast', from: failure.from ?? 'String', to: failure.to ?? 'String', message, position };
    default:
      return assertNever(failure.kind);
  }
}

// -- public surface ------------------------------------------------------------------------------

/** A compiled expression. Not re-entrant, which a synchronous single-threaded caller never needs. */
export class CompiledExpression {
  private readonly ctx: EvalContext = { attributes: NO_ATTRIBUTES, errorCount: 0, error: undefined };
  private readonly notBoolean = new Map<CesqlType, CesqlError>();

  constructor(
    private readonly root: Node,
    /** The type of the expression's value, or `Any` when it is a bare attribute reference. */
    readonly resultType: StaticType,
  ) {}

  /** Evaluates against one event: a value always, and the first error raised, if any (§3.3). */
  evaluate(event: CloudEvent): EvaluationResult {
    const value = this.run(event.attributes);
    const error = this.ctx.error;
    this.ctx.error = undefined;
    return error === undefined ? { value } : { value, error };
  }

  /**
   * The filter predicate (spec §1.2): true only when the value is the Boolean TRUE and nothing
   * went wrong. An error, or a value that is not a Boolean, is passed to `onError` and is a
   * "no". Allocates nothing unless an error needs a message built from the event.
   */
  matches(event: CloudEvent, onError?: (error: CesqlError) => void): boolean {
    const value = this.run(event.attributes);
    const error = this.ctx.error;
    if (error !== undefined) {
      this.ctx.error = undefined;
      onError?.(error);
      return false;
    }
    if (value === true) return true;
    if (value !== false) onError?.(this.notBooleanError(typeOfValue(value)));
    return false;
  }

  private run(attributes: Attributes): CesqlValue {
    const ctx = this.ctx;
    ctx.attributes = attributes;
    ctx.errorCount = 0;
    ctx.error = undefined;
    const value = this.root(ctx);
    ctx.attributes = NO_ATTRIBUTES; // don't keep the event alive
    return value;
  }

  private notBooleanError(type: CesqlType): CesqlError {
    let error = this.notBoolean.get(type);
    if (error === undefined) {
      error = {
        kind: 'generic',
        message: `the expression evaluated to ${type === 'Integer' ? 'an' : 'a'} ${type}, not a Boolean: a filter passes only on TRUE (CESQL §1.2)`,
        position: 0,
      };
      this.notBoolean.set(type, error);
    }
    return error;
  }
}

/** Compiles a parsed expression for repeated evaluation. */
export function compileExpression(ast: Expr): CompiledExpression {
  return new CompiledExpression(compileNode(ast), staticType(ast));
}

/** Evaluates a parsed expression once. For repeated use, compile it with compileExpression. */
export function evaluate(ast: Expr, event: CloudEvent): EvaluationResult {
  return compileExpression(ast).evaluate(event);
}
