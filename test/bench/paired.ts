/**
 * A/B comparison by alternating paired rounds, for figures that survive a shared machine: a
 * warm-up pair (not counted), then `pairs` pairs of an off and an on round (off first in odd
 * pairs, on first in even ones), each pair compared with itself. Load that comes and goes hits both rounds of a pair about alike, so the median of the
 * pair ratios moves far less than a ratio of two best-ofs. CPU time per event (process.cpuUsage()
 * of the process doing the work, over the events it did) is reported beside throughput: it
 * barely depends on how much of the cores other processes take.
 *
 * Before each round a full garbage collection (outside the measured window): otherwise a round
 * pays for the garbage the one before it left, and with a fixed order that is always the on round.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** `gc()`, exposed for this process if it was started without --expose-gc. */
export const collectGarbage: () => void = (() => {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

export interface Round {
  /** Events per second over the round's measured window. */
  readonly perSecond: number;
  /** CPU time (user + system) of the working process per event, in µs. */
  readonly cpuMicrosPerEvent: number;
}

export interface PairSummary {
  readonly pairs: number;
  /** on / off throughput, per pair: median, min, max (1 = equal). */
  readonly throughput: Spread;
  /** off / on CPU per event, per pair (1 = equal, below 1 = on costs more), comparable with `throughput`. */
  readonly cpu: Spread;
  /** Median CPU µs per event of the off and the on rounds. */
  readonly offCpuMicros: number;
  readonly onCpuMicros: number;
  readonly offPerSecond: number;
  readonly onPerSecond: number;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Pairs the rounds by index (off[i] with on[i]). */
export function summarizePairs(off: readonly Round[], on: readonly Round[]): PairSummary {
  const n = Math.min(off.length, on.length);
  const throughput: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    throughput.push(on[i]!.perSecond / off[i]!.perSecond);
    cpu.push(off[i]!.cpuMicrosPerEvent / on[i]!.cpuMicrosPerEvent);
  }
  return {
    pairs: n,
    throughput: spread(throughput),
    cpu: spread(cpu),
    offCpuMicros: median(off.slice(0, n).map((r) => r.cpuMicrosPerEvent)),
    onCpuMicros: median(on.slice(0, n).map((r) => r.cpuMicrosPerEvent)),
    offPerSecond: median(off.slice(0, n).map((r) => r.perSecond)),
    onPerSecond: median(on.slice(0, n).map((r) => r.perSecond)),
  };
}

/** Runs a warm-up pair, then `pairs` pairs off-on, on-off, off-on, ...; `onPair` hears each pair as it ends. */
export async function alternate(
  pairs: number,
  run: (on: boolean) => Promise<Round>,
  onPair: (index: number, off: Round, on: Round) => void = () => undefined,
): Promise<PairSummary> {
  const settled = (on: boolean): Promise<Round> => {
    collectGarbage();
    return run(on);
  };
  await settled(false);
  await settled(true);
  const off: Round[] = [];
  const on: Round[] = [];
  for (let i = 1; i <= pairs; i++) {
    // Off first in odd pairs, on first in even ones: what being second costs (the previous
    // round's leftovers, drift within a pair) falls on each side alike.
    for (const metricsOn of i % 2 === 1 ? [false, true] : [true, false]) (metricsOn ? on : off).push(await settled(metricsOn));
    onPair(i, off[off.length - 1]!, on[on.length - 1]!);
  }
  return summarizePairs(off, on);
}

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

/** One line per pair, for following a run. */
export function pairLine(index: number, off: Round, on: Round): string {
  const one = (name: string, r: Round): string => `${name} ${Math.round(r.perSecond).toLocaleString('en-US').padStart(7)}/s ${r.cpuMicrosPerEvent.toFixed(1).padStart(5)} µs`;
  return `    pair ${String(index).padStart(2)}${index % 2 === 1 ? ' (off first)' : ' (on first) '}: ${one('off', off)}   ${one('on ', on)}`;
}

/** The summary lines: throughput ratio and CPU per event, each with its goal. */
export function pairLines(summary: PairSummary, goal = 0.95): string[] {
  const { throughput: t, cpu: c } = summary;
  return [
    `metrics on / off, throughput: ${pct(t.median)} (median of ${summary.pairs} pairs, min–max ${pct(t.min)}–${pct(t.max)}; goal ≥ ${pct(goal)})`,
    `CPU per event: off ${summary.offCpuMicros.toFixed(1)} µs, on ${summary.onCpuMicros.toFixed(1)} µs; off / on ${pct(c.median)} (median of pairs, min–max ${pct(c.min)}–${pct(c.max)}; goal ≥ ${pct(goal)})`,
  ];
}
