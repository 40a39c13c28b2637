/**
 * A work queue of object keys, with client-go's guarantees (k8s.io/client-go/util/workqueue):
 *
 *  - de-duplication: a key added any number of times before a worker takes it is processed once;
 *  - one worker per key: a key added while it is being processed is processed again afterwards,
 *    never twice at the same time;
 *  - rate-limited requeue: a key whose processing failed comes back after a per-key exponential
 *    delay (`baseDelayMs * 2^failures`, capped at `maxDelayMs`), reset by a success.
 *
 *   add(key) ──▶ queue (a key at most once) ──▶ N workers ──▶ process(key)
 *       ▲                                                        │ threw
 *       └──────────── after delay(key) ◀── addRateLimited ◀─────┘
 *
 * The worker reads the latest wanted state when it runs (not when the key was added), which is
 * what makes collapsing duplicate keys safe.
 */

export interface WorkQueueOptions {
  /** Keys processed at once. */
  readonly concurrency: number;
  /** First retry delay after a failure; doubles with each further failure of the same key. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Called when processing a key failed (it is requeued after `delayMs`). */
  readonly onError?: (key: string, error: unknown, failures: number, delayMs: number) => void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private head = 0;
  /** Keys waiting in `queue`, or added again while being processed. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, NodeJS.Timeout>();
  private readonly idleWaiters: (() => void)[] = [];
  private active = 0;
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly process: (key: string) => Promise<void>,
    private readonly options: WorkQueueOptions,
  ) {
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    // Being processed: it goes back in line when that is done (see `finish`).
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.pump();
  }

  /** Adds the key after its backoff delay; a key already waiting keeps its earlier time. */
  addRateLimited(key: string): number {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (failures - 1));
    if (this.shuttingDown || this.delayed.has(key)) return delay;
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delay);
    timer.unref();
    this.delayed.set(key, timer);
    return delay;
  }

  /** Clears the key's failure count (its next failure waits `baseDelayMs` again). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Keys waiting, being processed, or waiting out a backoff. */
  get length(): number {
    return this.queue.length - this.head + this.active + this.delayed.size;
  }

  /** Failures in a row of a key (0 after a success). */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves when no key is waiting or being processed (keys in backoff do not count). */
  idle(): Promise<void> {
    if (this.queue.length === this.head && this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking keys, drops those waiting, and resolves once the workers in progress are done. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const timer of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.queue.length = 0;
    this.head = 0;
    this.dirty.clear();
    await this.idle();
  }

  private pump(): void {
    while (!this.shuttingDown && this.active < this.options.concurrency && this.head < this.queue.length) {
      const key = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.dirty.delete(key);
      this.processing.add(key);
      this.active++;
      void this.run(key);
    }
    if (this.queue.length === this.head && this.active === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async run(key: string): Promise<void> {
    try {
      await this.process(key);
      this.forget(key);
    } catch (error) {
      const delay = this.addRateLimited(key);
      this.options.onError?.(key, error, this.failures.get(key) ?? 0, delay);
    } finally {
      this.processing.delete(key);
      this.active--;
      // Added again while it was processed: back in line now, processed once more.
      if (this.dirty.has(key) && !this.shuttingDown) this.queue.push(key);
      this.pump();
    }
  }
}
