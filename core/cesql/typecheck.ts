/**
 * Static typing of CESQL expressions (spec §3.4, §3.5, §3.7).
 *
 * Every construct has a declared result type except an attribute reference, whose type comes
 * from the event (`Any`). The evaluator uses the static type to pick the zero value a
 * subexpression returns on error (§3.2, §3.3), and `checkExpression` finds, before any event is
 * seen, the errors that evaluation would certainly raise (§3.3: "some error checks SHOULD be
 * done at compile time"): calls that no built-in accepts, and literals that cannot be cast to
 * the type their operator needs.
 */
import { parseBoolean, parseInteger } from './cast.js';
import type { ParameterType } from './functions.js';
import { parameterType, resolveFunction } from './functions.js';
import type { BinaryOperator, CesqlError, CesqlType, CesqlValue, Expr, StaticType } from './types.js';
import { assertNever, column, typeOfValue } from './types.js';

export function staticType(expr: Expr): StaticType {
  switch (expr.kind) {
    case 'literal':
      return typeOfValue(expr.value);
    case 'attribute':
      return 'Any';
    case 'exists':
    case 'not':
    case 'like':
    case 'in':
      return 'Boolean';
    case 'negate':
      return 'Integer';
    case 'binary':
      switch (expr.operator) {
        case '+':
        case '-':
        case '*':
        case '/':
        case '%':
          return 'Integer';
        default:
          return 'Boolean';
      }
    case 'call':
      // §3.5: a call that cannot be dispatched returns false.
      return resolveFunction(expr.name, expr.args.length)?.returns ?? 'Boolean';
    default:
      return assertNever(expr);
  }
}

/**
 * Whether an implicit cast of `value` to `target` succeeds (§3.7). Integer -> Boolean is not an
 * implicit cast: the conformance kit expects `NOT 10` to raise a CastError (not_operator.yaml,
 * "Invalid int cast"), while the explicit BOOL(10) is true.
 */
export function implicitCastSucceeds(value: CesqlValue, target: CesqlType): boolean {
  switch (target) {
    case 'String':
      return true;
    case 'Integer':
      return typeof value !== 'string' || parseInteger(value) !== undefined;
    case 'Boolean':
      if (typeof value === 'boolean') return true;
      if (typeof value === 'number') return false;
      return parseBoolean(value) !== undefined;
    default:
      return assertNever(target);
  }
}

/** Errors that evaluating `expr` will raise whatever the event, in source order. */
export function checkExpression(expr: Expr): CesqlError[] {
  const errors: CesqlError[] = [];
  visit(expr, errors);
  errors.sort((a, b) => a.position - b.position);
  return errors;
}

function visit(expr: Expr, errors: CesqlError[]): void {
  switch (expr.kind) {
    case 'literal':
    case 'attribute':
    case 'exists':
      return;
    case 'not':
      checkOperand(expr.operand, 'Boolean', 'NOT', expr.position, errors);
      visit(expr.operand, errors);
      return;
    case 'negate':
      checkOperand(expr.operand, 'Integer', "unary '-'", expr.position, errors);
      visit(expr.operand, errors);
      return;
    case 'binary': {
      const target = operandType(expr.operator, staticType(expr.right));
      if (target !== undefined) {
        checkOperand(expr.left, target, `'${expr.operator}'`, expr.position, errors);
        checkOperand(expr.right, target, `'${expr.operator}'`, expr.position, errors);
      }
      visit(expr.left, errors);
      visit(expr.right, errors);
      return;
    }
    case 'like':
      visit(expr.operand, errors);
      return;
    case 'in': {
      const target = staticType(expr.operand);
      for (const element of expr.set) {
        if (target !== 'Any') checkOperand(element, target, 'IN', expr.position, errors);
        visit(element, errors);
      }
      visit(expr.operand, errors);
      return;
    }
    case 'call': {
      const definition = resolveFunction(expr.name, expr.args.length);
      if (definition === undefined) {
        errors.push(missingFunctionError(expr.name, expr.args.length, expr.position));
      } else {
        expr.args.forEach((arg, index) => {
          const type: ParameterType = parameterType(definition, index);
          if (type !== 'Any') checkOperand(arg, type, expr.name, expr.position, errors);
        });
      }
      for (const arg of expr.args) visit(arg, errors);
      return;
    }
    default:
      assertNever(expr);
  }
}

/**
 * The type both operands of a binary operator are cast to, when it is known statically.
 * `=` and `!=` are ambiguous (§3.7): the right operand's type decides, so it is known only when
 * the right operand's type is.
 */
export function operandType(operator: BinaryOperator, rightType: StaticType): CesqlType | undefined {
  switch (operator) {
    case 'AND':
    case 'OR':
    case 'XOR':
      return 'Boolean';
    case '=':
    case '!=':
      return rightType === 'Any' ? undefined : rightType;
    case '<':
    case '<=':
    case '>':
    case '>=':
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
      return 'Integer';
    default:
      return assertNever(operator);
  }
}

function checkOperand(operand: Expr, target: CesqlType, operator: string, position: number, errors: CesqlError[]): void {
  if (operand.kind !== 'literal' || implicitCastSucceeds(operand.value, target)) return;
  const from = typeOfValue(operand.value);
  errors.push({
    kind: 'cast',
    from,
    to: target,
    message: `${operator} at column ${column(position)} needs ${target} operands; the ${from} literal at column ${column(operand.position)} cannot be cast to ${target}`,
    position: operand.position,
  });
}

export function missingFunctionError(name: string, arity: number, position: number): CesqlError {
  const known = resolveFunctionArities(name);
  const detail =
    known.length === 0 ? 'no such built-in function' : `${name} takes ${known.join(' or ')} argument(s)`;
  return {
    kind: 'missingFunction',
    name,
    arity,
    message: `function ${name} with ${arity} argument(s) at column ${column(position)} does not exist: ${detail}`,
    position,
  };
}

function resolveFunctionArities(name: string): string[] {
  const arities: string[] = [];
  for (let arity = 0; arity <= 4; arity++) {
    const definition = resolveFunction(name, arity);
    if (definition === undefined) continue;
    arities.push(definition.variadic === undefined ? String(arity) : `${definition.parameters.length} or more`);
    if (definition.variadic !== undefined) break;
  }
  return arities;
}
