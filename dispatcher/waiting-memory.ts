/**
 * The dispatcher-wide account of memory held by deliveries that are waiting: from a delivery's
 * first wait (retry backoff, Retry-After, the rounds of a held event) until it is done. Such a
 * delivery keeps its record and the response bytes kept for `knativeerrordata` all along, which
 * with long Retry-Afters and many egresses adds up where the per-egress in-flight bound does not
 * see it (dispatch.ts counts each record's share).
 *
 *   used ──────────────▶ > limit: over (egresses pause consuming)
 *   used ◀────────────── ≤ resumeAt (80 % of the limit): under again (egresses resume)
 *
 * The gap between the two keeps the egresses from pausing and resuming on every event. Nothing is
 * ever refused here: a wait always proceeds and counts, so no event is dropped or failed because
 * of the bound; what stops is the taking of new records.
 */
export class WaitingMemory {
  private used = 0;
  private waits = 0;
  private over = false;
  private readonly listeners = new Set<(over: boolean) => void>();
  readonly resumeAtBytes: number;

  constructor(readonly limitBytes: number) {
    this.resumeAtBytes = Math.floor(limitBytes * 0.8);
  }

  /** Counts `bytes` as waiting until the returned release is called (once; later calls do nothing). */
  hold(bytes: number): () => void {
    const n = Math.max(0, bytes);
    this.used += n;
    this.waits++;
    this.update();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= n;
      this.waits--;
      this.update();
    };
  }

  /** Bytes held by waiting deliveries now. */
  bytes(): number {
    return this.used;
  }

  /** Deliveries waiting now. */
  waiting(): number {
    return this.waits;
  }

  /** Whether consumption should be paused now. */
  isOver(): boolean {
    return this.over;
  }

  /** Called with true when the bound is passed and false when usage is back under `resumeAtBytes`. */
  onChange(listener: (over: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private update(): void {
    const next = this.over ? this.used > this.resumeAtBytes : this.used > this.limitBytes;
    if (next === this.over) return;
    this.over = next;
    for (const listener of [...this.listeners]) listener(next);
  }
}
