/**
 * Turns a contract `Filter` into a predicate over events, once per contract generation; the
 * dispatcher then calls the predicate for every event.
 *
 * Semantics (Knative Eventing trigger filters):
 *  - no filter: every event passes;
 *  - `attributes` (legacy): each listed attribute equals the given value exactly; the value ""
 *    only requires the attribute to be present;
 *  - `exact`, `prefix`, `suffix`: every entry holds; an absent attribute fails;
 *  - `all` / `any` / `not`: and / or / negation of nested filters (an empty `all` passes, an
 *    empty `any` fails: the identities of "and" and "or");
 *  - `cesql`: passes only when the expression is Boolean TRUE without error (CESQL §1.2); an
 *    error is not thrown but goes to `onEvaluationError` and counts as "does not pass". Under
 *    `not`, such a failure becomes a pass, as in Knative.
 *
 * Attribute values are compared as strings: a number or boolean attribute (JSON events) is
 * compared in its CloudEvents canonical string form (`5`, `true`).
 *
 * The predicates close over precomputed values and allocate nothing when run, except to
 * stringify a non-string attribute for a prefix/suffix test.
 */
import type { AttributeValue, CloudEvent } from '../cloudevents/event.js';
import type { CesqlError } from '../cesql/index.js';
import { compileCesql } from '../cesql/index.js';
import type { Filter } from './types.js';

export type EventPredicate = (event: CloudEvent) => boolean;

export interface FilterHooks {
  /** A CESQL expression raised an error (or gave a non-Boolean) for an event: it did not pass. */
  onEvaluationError?(error: CesqlError, expression: string): void;
  /**
   * A CESQL expression in the filter does not parse. The controller validates expressions before
   * they reach a contract, so this means a contract that bypassed validation; the filter then
   * fails closed (that part never passes) rather than delivering events it cannot judge.
   */
  onCompileError?(error: CesqlError, expression: string): void;
}

const PASS: EventPredicate = () => true;
const FAIL: EventPredicate = () => false;

/** Compiles `filter` (null: no filter) into a predicate. Never throws. */
export function compileFilter(filter: Filter | null, hooks: FilterHooks = {}): EventPredicate {
  return filter === null ? PASS : compileNode(filter, hooks);
}

function compileNode(filter: Filter, hooks: FilterHooks): EventPredicate {
  switch (filter.kind) {
    case 'attributes':
      return allOf(
        Object.entries(filter.attributes).map(([name, value]) =>
          value === '' ? attributePresent(name) : attributeEquals(name, value),
        ),
      );
    case 'exact':
      return allOf(Object.entries(filter.attributes).map(([name, value]) => attributeEquals(name, value)));
    case 'prefix':
      return allOf(Object.entries(filter.attributes).map(([name, value]) => attributeStartsWith(name, value)));
    case 'suffix':
      return allOf(Object.entries(filter.attributes).map(([name, value]) => attributeEndsWith(name, value)));
    case 'all':
      return allOf(filter.filters.map((nested) => compileNode(nested, hooks)));
    case 'any':
      return anyOf(filter.filters.map((nested) => compileNode(nested, hooks)));
    case 'not': {
      const nested = compileNode(filter.filter, hooks);
      return (event) => !nested(event);
    }
    case 'cesql':
      return compileCesqlFilter(filter.expression, hooks);
    default: {
      const unknown: never = filter;
      // The contract parser rejects unknown kinds; fail closed should one get here anyway.
      void unknown;
      return FAIL;
    }
  }
}

function compileCesqlFilter(expression: string, hooks: FilterHooks): EventPredicate {
  const compiled = compileCesql(expression);
  if (!compiled.ok) {
    hooks.onCompileError?.(compiled.error, expression);
    return FAIL;
  }
  const report = hooks.onEvaluationError;
  // Built once, so that a failing evaluation doesn't allocate a callback.
  const onError = report === undefined ? undefined : (error: CesqlError): void => report.call(hooks, error, expression);
  return (event) => compiled.matches(event, onError);
}

// -- attribute tests -----------------------------------------------------------------------------

/** Own data value only: `constructor` must not find Object.prototype's. */
function isAttributeValue(value: unknown): value is AttributeValue {
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'boolean';
}

/** CloudEvents canonical string form of a JSON-typed attribute value. */
function canonical(value: number | boolean): string {
  return typeof value === 'boolean' ? (value ? 'true' : 'false') : String(value);
}

function attributePresent(name: string): EventPredicate {
  return (event) => isAttributeValue(event.attributes[name]);
}

function attributeEquals(name: string, expected: string): EventPredicate {
  // The number / boolean whose canonical form is `expected`, so that typed attributes compare
  // without building a string.
  const asNumber = expected.trim() !== '' && String(Number(expected)) === expected ? Number(expected) : undefined;
  const asBoolean = expected === 'true' ? true : expected === 'false' ? false : undefined;
  return (event) => {
    const value = event.attributes[name];
    if (typeof value === 'string') return value === expected;
    if (typeof value === 'number') return value === asNumber;
    if (typeof value === 'boolean') return value === asBoolean;
    return false;
  };
}

function attributeStartsWith(name: string, prefix: string): EventPredicate {
  return (event) => {
    const value = event.attributes[name];
    if (typeof value === 'string') return value.startsWith(prefix);
    return isAttributeValue(value) && canonical(value).startsWith(prefix);
  };
}

function attributeEndsWith(name: string, suffix: string): EventPredicate {
  return (event) => {
    const value = event.attributes[name];
    if (typeof value === 'string') return value.endsWith(suffix);
    return isAttributeValue(value) && canonical(value).endsWith(suffix);
  };
}

// -- combinators ---------------------------------------------------------------------------------
// Small arities get their own closures: no loop, and the common one-clause case adds no call.

function allOf(predicates: readonly EventPredicate[]): EventPredicate {
  const [first, second] = predicates;
  if (first === undefined) return PASS;
  if (second === undefined) return first;
  if (predicates.length === 2) return (event) => first(event) && second(event);
  return (event) => {
    for (let i = 0; i < predicates.length; i++) if (!(predicates[i] as EventPredicate)(event)) return false;
    return true;
  };
}

function anyOf(predicates: readonly EventPredicate[]): EventPredicate {
  const [first, second] = predicates;
  if (first === undefined) return FAIL;
  if (second === undefined) return first;
  if (predicates.length === 2) return (event) => first(event) || second(event);
  return (event) => {
    for (let i = 0; i < predicates.length; i++) if ((predicates[i] as EventPredicate)(event)) return true;
    return false;
  };
}
