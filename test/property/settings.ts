/**
 * Property-test settings. `npm test` runs every property with a fixed seed and 500 runs, so a
 * failure reproduces; FC_RUNS (and FC_SEED) make a longer or different exploration:
 *
 *   FC_RUNS=100000 npx tsx scripts/test.ts test/property
 *   FC_RUNS=20000 FC_SEED=7 npx tsx scripts/test.ts test/property/codec
 */
import type { Parameters } from 'fast-check';

const runs = Number(process.env['FC_RUNS'] ?? '');
const seed = Number(process.env['FC_SEED'] ?? '');

export function settings<T>(defaultRuns = 500): Parameters<T> {
  return { seed: Number.isInteger(seed) && process.env['FC_SEED'] !== undefined ? seed : 42, numRuns: Number.isInteger(runs) && runs > 0 ? runs : defaultRuns };
}

/** Valid CloudEvents names that a plain object finds on, or that spell, Object.prototype's members. */
export const PROTOTYPE_NAMES = ['constructor', 'hasownproperty', 'tostring', 'valueof', 'isprototypeof', 'propertyisenumerable', 'tolocalestring'] as const;
