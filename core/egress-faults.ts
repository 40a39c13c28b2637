/**
 * Egress faults: what the dispatcher saw go wrong for one egress that its owner (a Trigger, a
 * Subscription) should show in its status. Today one kind: records the egress never received
 * because its position was no longer in the log (retention passed it, the head was deleted).
 *
 * The dispatcher records them in a `FaultBook` keyed by consumer group; the controller reads the
 * book (in one process, `kafka-broker start`) and turns a group's entry into a condition. Kept
 * here, in core, because both sides share the shape and neither may import the other.
 */

/** Records `[from, to)` of one partition that were skipped. Offsets are decimal strings. */
export interface SkippedRange {
  readonly topic: string;
  readonly partition: number;
  readonly from: string;
  readonly to: string;
}

/**
 * Events of the egress held right now: neither its subscriber nor its dead-letter sink takes
 * them, so they are retried and their offsets stay uncommitted.
 */
export interface HeldEvents {
  /** Why, as the dispatcher names it (`no-dead-letter-sink`, `dead-letter-failed`, ...). */
  readonly reason: string;
  /** The last failures, in one line. */
  readonly detail: string;
  /** RFC 3339: when the first of them was held. */
  readonly since: string;
}

export interface EgressFault {
  /** Events held now, if any. */
  readonly held?: HeldEvents;
  /** The latest ranges, oldest first; at most MAX_RANGES, adjacent ones merged. */
  readonly skipped: readonly SkippedRange[];
  /** Records skipped in all, including ranges no longer listed. */
  readonly skippedRecords: number;
  /** RFC 3339: when the latest skip was seen. */
  readonly lastSkippedAt: string;
}

/** Ranges kept per group: enough to name what happened, bounded however often it happens. */
export const MAX_RANGES = 10;

/** Adds a skipped range to a fault (pure): merges it with an adjacent or overlapping one of the same partition. */
export function addSkipped(fault: EgressFault | undefined, range: SkippedRange, at: string): EgressFault {
  const count = Number(BigInt(range.to) - BigInt(range.from));
  const ranges = [...(fault?.skipped ?? [])];
  const i = ranges.findIndex((r) => r.topic === range.topic && r.partition === range.partition && BigInt(r.to) >= BigInt(range.from) && BigInt(r.from) <= BigInt(range.to));
  if (i >= 0) {
    const old = ranges.splice(i, 1)[0]!;
    const from = BigInt(old.from) < BigInt(range.from) ? old.from : range.from;
    const to = BigInt(old.to) > BigInt(range.to) ? old.to : range.to;
    ranges.push({ topic: range.topic, partition: range.partition, from, to });
  } else {
    ranges.push({ topic: range.topic, partition: range.partition, from: range.from, to: range.to });
  }
  return {
    ...(fault?.held === undefined ? {} : { held: fault.held }),
    skipped: ranges.slice(-MAX_RANGES), skippedRecords: (fault?.skippedRecords ?? 0) + Math.max(0, count), lastSkippedAt: at,
  };
}

/** One line saying why the egress's events are held. */
export function describeHeld(held: HeldEvents): string {
  const why = held.reason === 'no-dead-letter-sink' ? 'its subscriber fails and it has no dead-letter sink'
    : held.reason === 'dead-letter-failed' ? 'its subscriber and its dead-letter sink fail'
    : `they cannot be delivered (${held.reason})`;
  return `events held since ${held.since}: ${why} (${held.detail}); they are retried, never dropped, and their partitions wait`;
}

/** One line naming what was skipped, e.g. `12 records skipped (topic t partition 0 offsets 0-11)`. */
export function describeSkipped(fault: EgressFault): string {
  const ranges = fault.skipped.map((r) => `${r.topic} partition ${r.partition} offsets ${r.from}-${BigInt(r.to) - 1n}`).join('; ');
  const noun = fault.skippedRecords === 1 ? 'record' : 'records';
  return `${fault.skippedRecords} ${noun} never delivered: their offsets were no longer in the log (retention or truncation) when the consumer group resumed (${ranges}); last at ${fault.lastSkippedAt}`;
}

/** The dispatcher's faults per consumer group; tells a listener when one changes. */
export class FaultBook {
  private readonly faults = new Map<string, EgressFault>();

  constructor(
    private readonly onChange: () => void = () => undefined,
    private readonly now: () => Date = () => new Date(),
  ) {}

  recordSkipped(group: string, range: SkippedRange): void {
    this.faults.set(group, addSkipped(this.faults.get(group), range, this.now().toISOString()));
    this.onChange();
  }

  /**
   * Events of the group are held (or, with undefined, none are any more). Listeners hear of the
   * start, the end and a change of reason, not of every held round.
   */
  setHeld(group: string, held: { reason: string; detail: string } | undefined): void {
    const fault = this.faults.get(group);
    const before = fault?.held;
    if (held === undefined) {
      if (before === undefined || fault === undefined) return;
      const { held: _gone, ...rest } = fault;
      if (rest.skippedRecords === 0) this.faults.delete(group);
      else this.faults.set(group, rest);
      this.onChange();
      return;
    }
    if (before !== undefined && before.reason === held.reason) return;
    const next: HeldEvents = { reason: held.reason, detail: held.detail, since: before?.since ?? this.now().toISOString() };
    this.faults.set(group, { ...(fault ?? { skipped: [], skippedRecords: 0, lastSkippedAt: '' }), held: next });
    this.onChange();
  }

  /** The group's egress left the contract: its faults go with it. */
  forget(group: string): void {
    if (this.faults.delete(group)) this.onChange();
  }

  snapshot(): ReadonlyMap<string, EgressFault> {
    return new Map(this.faults);
  }
}
