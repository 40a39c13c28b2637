/**
 * A bound on the bytes a server holds for requests at once (bodies being read, and events waiting
 * for the log). Requests reserve bytes before they read them and give them back when they end, so
 * the bound holds however slowly bodies arrive.
 *
 * Large bodies may not take the whole budget: a share of it is kept for small ones, so that a
 * crowd of slow large uploads cannot starve ordinary events (a few hundred bytes each) of room.
 * A body of unknown length (chunked) is large until it ends.
 *
 *   0 ─────────────── largeCeiling ──────── limit
 *   │ any body          │ small bodies only │
 *
 * Pure bookkeeping: no I/O, no clock.
 */

/** `ok`: reserved. `busy`: not now (503, try later). `never`: larger than this budget can ever hold (413). */
export type Reservation = 'ok' | 'busy' | 'never';

export interface ByteBudgetOptions {
  /** The most bytes held at once, over all requests. */
  readonly limitBytes: number;
  /** A body holding more than this counts as large. Default 64 KiB. */
  readonly largeBodyBytes?: number;
  /** The fraction of the limit large bodies may hold together. Default 3/4. */
  readonly largeShare?: number;
}

export class ByteBudget {
  readonly limitBytes: number;
  readonly largeBodyBytes: number;
  /** What large bodies may hold together (the rest of the limit is for small ones). */
  readonly largeCeilingBytes: number;
  private used = 0;

  constructor(options: ByteBudgetOptions) {
    this.limitBytes = options.limitBytes;
    this.largeBodyBytes = options.largeBodyBytes ?? 64 * 1024;
    this.largeCeilingBytes = Math.floor(this.limitBytes * (options.largeShare ?? 0.75));
  }

  get usedBytes(): number {
    return this.used;
  }

  /**
   * Grows one request's holding from `heldBytes` (already reserved by it) by `moreBytes`.
   * `expectedBytes` is the body's declared length; a body of unknown length (chunked) counts as
   * large, since nothing says it will stay small. A request that ends must `release` everything
   * it reserved.
   */
  reserve(heldBytes: number, moreBytes: number, expectedBytes?: number): Reservation {
    const total = heldBytes + moreBytes;
    const large = total > this.largeBodyBytes || expectedBytes === undefined || expectedBytes > this.largeBodyBytes;
    const ceiling = large ? this.largeCeilingBytes : this.limitBytes;
    if (total > ceiling) return 'never';
    if (this.used + moreBytes > ceiling) return 'busy';
    this.used += moreBytes;
    return 'ok';
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }
}
