import type { PartitionRange } from '../../core/event-log/port.js';

/**
 * What moving a group does to one partition: where it is, where it goes, and how many events that
 * delivers again (moving back) or never delivers (moving forward). Pure; counts are of offsets,
 * so on a compacted or transactional topic they are upper bounds.
 */
export interface PartitionMove {
  readonly topic: string;
  readonly partition: number;
  /** The group's committed offset (the next record it reads); the end when it has none. */
  readonly current: string;
  readonly target: string;
  readonly redelivered: number;
  readonly skipped: number;
}

/**
 * One topic's moves. `committed` and `targets` are by partition; a partition without a target
 * stays where it is; targets are clamped to the retained range (a position before the earliest
 * record reads from the earliest, one past the end waits at the end).
 */
export function planMoves(
  topic: string,
  ranges: readonly PartitionRange[],
  committed: ReadonlyMap<number, string | undefined>,
  targets: ReadonlyMap<number, bigint>,
): PartitionMove[] {
  return ranges.map(({ partition, start, end }) => {
    const lo = BigInt(start);
    const hi = BigInt(end);
    const at = committed.get(partition);
    // No commit yet: the dispatcher starts such a group at the end.
    const current = at === undefined ? hi : clamp(BigInt(at), lo, hi);
    const target = clamp(targets.get(partition) ?? current, lo, hi);
    return {
      topic, partition, current: String(current), target: String(target),
      redelivered: Number(current > target ? current - target : 0n),
      skipped: Number(target > current ? target - current : 0n),
    };
  });
}

export interface MoveTotals {
  readonly redelivered: number;
  readonly skipped: number;
}

export const totals = (moves: readonly PartitionMove[]): MoveTotals => ({
  redelivered: moves.reduce((n, m) => n + m.redelivered, 0),
  skipped: moves.reduce((n, m) => n + m.skipped, 0),
});

const clamp = (x: bigint, lo: bigint, hi: bigint): bigint => (x < lo ? lo : x > hi ? hi : x);
