/**
 * Tracks, for one partition, which handed-out records are done, and so how far the group may
 * commit: up to (not including) the first record that is not done.
 *
 *   handed out:  5  6  7  8  9
 *   done:        ✓  ✓  ·  ✓  ✓      → commit 7 (the next offset to read), not 10
 *
 * Offsets may have gaps (compaction, transaction markers); the tracker only knows what it was
 * given. Offsets are kept as numbers: exact below 2^53, far past any real partition.
 */
export class PartitionOffsets {
  /** Handed-out offsets not yet passed by the commit point, in order. */
  private readonly pending: number[] = [];
  private head = 0;
  private readonly doneSet = new Set<number>();
  /** The offset after the last handed-out record; where a commit goes when all are done. */
  private next: number;
  private committed: number;

  constructor(startOffset: number) {
    this.next = startOffset;
    this.committed = startOffset;
  }

  handedOut(offset: number): void {
    this.pending.push(offset);
    this.next = offset + 1;
  }

  /** Returns true when this completion moved the commit point. */
  done(offset: number): boolean {
    if (offset < this.commitPoint()) return false;
    this.doneSet.add(offset);
    let moved = false;
    while (this.head < this.pending.length && this.doneSet.has(this.pending[this.head]!)) {
      this.doneSet.delete(this.pending[this.head]!);
      this.head++;
      moved = true;
    }
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
    return moved;
  }

  /** The next offset to read once everything before it is done: what a commit should store. */
  commitPoint(): number {
    return this.head < this.pending.length ? this.pending[this.head]! : this.next;
  }

  /** Records handed out and not done. */
  inFlight(): number {
    return this.pending.length - this.head;
  }

  /** The commit point if it moved past what was last marked committed, else undefined. */
  toCommit(): number | undefined {
    const point = this.commitPoint();
    return point > this.committed ? point : undefined;
  }

  markCommitted(offset: number): void {
    if (offset > this.committed) this.committed = offset;
  }
}
