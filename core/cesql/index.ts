/**
 * CloudEvents SQL Expression Language v1 (https://github.com/cloudevents/spec/blob/main/cesql/spec.md).
 *
 *   const compiled = compileCesql("type LIKE 'com.example.%' AND EXISTS subject");
 *   if (!compiled.ok) report(compiled.error);          // a ParseError with its position
 *   compiled.run(event);                               // { value, error? }
 *   compiled.matches(event, onError);                  // the filter predicate, allocation-free
 *
 * Nothing here throws on user input: syntax errors and evaluation errors are values.
 */
import type { CloudEvent } from '../cloudevents/event.js';
import { compileExpression } from './evaluate.js';
import { parse } from './parser.js';
import { checkExpression } from './typecheck.js';
import type { CesqlError, CesqlParseError, CesqlWarning, EvaluationResult, Expr, StaticType } from './types.js';

export type {
  CesqlError,
  CesqlErrorKind,
  CesqlParseError,
  CesqlType,
  CesqlValue,
  CesqlWarning,
  EvaluationResult,
  Expr,
  StaticType,
} from './types.js';
export { parse } from './parser.js';
export { evaluate } from './evaluate.js';

export interface CompiledCesql {
  readonly ok: true;
  readonly expression: string;
  readonly ast: Expr;
  /** Type of the result; `Any` for a bare attribute reference. A filter needs `Boolean`. */
  readonly resultType: StaticType;
  /**
   * Errors that evaluation will raise whatever the event (calls to functions that don't exist,
   * literals that cannot be cast), found at compile time (§3.3). The expression still runs and
   * reports them as the spec says; a validator should reject it.
   */
  readonly diagnostics: readonly CesqlError[];
  /** Legal constructs that are easy to misread (mixed AND/OR, NOT before a comparison). */
  readonly warnings: readonly CesqlWarning[];
  /** Evaluates against one event: the value, and the first error raised if any. */
  run(event: CloudEvent): EvaluationResult;
  /** True only for a Boolean TRUE without error; otherwise false, and the reason goes to onError. */
  matches(event: CloudEvent, onError?: (error: CesqlError) => void): boolean;
}

export type CompileCesqlResult = CompiledCesql | { readonly ok: false; readonly error: CesqlParseError };

/** Parses, type-checks and compiles an expression once, for evaluation against many events. */
export function compileCesql(expression: string): CompileCesqlResult {
  const parsed = parse(expression);
  if (!parsed.ok) return parsed;
  const compiled = compileExpression(parsed.ast);
  return {
    ok: true,
    expression,
    ast: parsed.ast,
    resultType: compiled.resultType,
    diagnostics: checkExpression(parsed.ast),
    warnings: parsed.warnings,
    run: (event) => compiled.evaluate(event),
    matches: (event, onError) => compiled.matches(event, onError),
  };
}
