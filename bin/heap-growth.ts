/**
 * How far V8 lets a process's heap grow past what its last full collection kept (issue 17's RSS
 * goal). Left to itself V8 picks a factor of up to 4 on a machine with much memory, so under load
 * the broker's heap grew to about 4 times its live ~35-45 MB, most of it garbage promoted by the
 * young generation and buffers waiting for the collection that frees them. A fixed factor of 2
 * starts full collections earlier. Measured under the side-by-side load (README, Performance): 1.5
 * saved ~10-25 MB more but ran twice the full collections and cost ~10% CPU per event; 2 costs
 * ~3% at most, within the noise of a shared machine.
 *
 * The flag is read at every full collection, so setting it once the process runs takes effect;
 * V8 flags are per process, so the ingress worker thread is bounded too. A value given to node
 * (`node --heap-growing-percent=N`, also in NODE_OPTIONS; 0: V8's own choice) is kept.
 */
import v8 from 'node:v8';

/** The heap may grow to twice what the last full collection kept. */
export const HEAP_GROWING_PERCENT = 100;

/** The V8 flag to set, or undefined when node was given one already (argument or NODE_OPTIONS). */
export function heapGrowthFlag(execArgv: readonly string[], nodeOptions = ''): string | undefined {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg));
  return given ? undefined : `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

/** Bounds this process's heap growth (see above); returns the flag set, if any. */
export function boundHeapGrowth(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS): string | undefined {
  const flag = heapGrowthFlag(execArgv, nodeOptions);
  if (flag !== undefined) v8.setFlagsFromString(flag);
  return flag;
}
