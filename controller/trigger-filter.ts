import type { Filter } from '../core/filters/types.js';
import { triggerFilterFromSpec, type FilterProblem } from '../core/filters/knative.js';
import type { FieldError } from './admission.js';

/**
 * A Trigger's `spec.filter` / `spec.filters` as the controller needs them: the contract's filter,
 * or field errors for the status (a CESQL error keeps its position in the expression), plus
 * warnings that do not stop the trigger (e.g. `spec.filter` ignored because `spec.filters` is set).
 */
export type TriggerFilter =
  | { readonly ok: true; readonly filter: Filter | null; readonly warnings: readonly FieldError[] }
  | { readonly ok: false; readonly errors: readonly FieldError[] };

export function triggerFilter(spec: Readonly<Record<string, unknown>>): TriggerFilter {
  const result = triggerFilterFromSpec(spec);
  if (!result.ok) return { ok: false, errors: result.problems.map(toFieldError) };
  return { ok: true, filter: result.filter, warnings: result.warnings.map(toFieldError) };
}

function toFieldError(problem: FilterProblem): FieldError {
  // CESQL messages usually name the column already; add it when they do not.
  const at = problem.position === undefined || /column \d+/.test(problem.message) ? '' : ` (at column ${problem.position + 1} of the expression)`;
  return { path: problem.path, message: `${problem.message}${at}` };
}
