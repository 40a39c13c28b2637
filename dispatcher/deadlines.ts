import { performance } from 'node:perf_hooks';

/**
 * Timeouts for many attempts with one timer per timeout length instead of one per attempt: a
 * setTimeout and clearTimeout per HTTP attempt (a Timeout object, the libuv clock read and the
 * handle's ref and unref through C++) showed in the dispatcher's profile (issue 17), and an
 * egress's attempts all share one length (its delivery timeout).
 *
 * Attempts of one length expire in the order they started, so each length keeps a doubly linked
 * list in deadline order (append and remove in O(1), no allocation: the waiter is the node) and
 * one timer armed for the head. Removing the head does not re-arm the timer: when it fires early
 * it re-arms for the new head, which costs a wake-up at most once per removed head, not one per
 * attempt. An empty list clears its timer, so an idle dispatcher holds no timer.
 */

/** Something waiting for a deadline; its links belong to the `Deadlines` it was added to. */
export interface Expiring {
  /** Called once, when its time is up, unless removed before. */
  expire(): void;
  deadlineAt: number;
  deadlinePrev: Expiring | undefined;
  deadlineNext: Expiring | undefined;
  deadlineList: DeadlineList | undefined;
}

export class Deadlines {
  /** By length in ms: a dispatcher has few (the egresses' timeouts). */
  private readonly lists = new Map<number, DeadlineList>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** `waiter.expire()` after `ms`, unless `remove(waiter)` comes first. */
  add(waiter: Expiring, ms: number): void {
    let list = this.lists.get(ms);
    if (list === undefined) {
      list = new DeadlineList(this.now);
      this.lists.set(ms, list);
    }
    list.add(waiter, ms);
  }

  /** Forgets the waiter (a no-op when it has expired or was never added). */
  remove(waiter: Expiring): void {
    waiter.deadlineList?.remove(waiter);
  }
}

/** setTimeout's longest delay; a longer one would fire at once. A later deadline re-arms on firing. */
const TIMER_MAX_MS = 2 ** 31 - 1;

export class DeadlineList {
  private head: Expiring | undefined;
  private tail: Expiring | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number) {}

  add(waiter: Expiring, ms: number): void {
    waiter.deadlineAt = this.now() + ms;
    waiter.deadlineList = this;
    waiter.deadlinePrev = this.tail;
    waiter.deadlineNext = undefined;
    if (this.tail === undefined) this.head = waiter;
    else this.tail.deadlineNext = waiter;
    this.tail = waiter;
    // Only for a list that was empty: while fire() runs (timer unset) it re-arms for its head itself.
    if (this.head === waiter) this.arm(ms);
  }

  remove(waiter: Expiring): void {
    const prev = waiter.deadlinePrev;
    const next = waiter.deadlineNext;
    if (prev === undefined) this.head = next;
    else prev.deadlineNext = next;
    if (next === undefined) this.tail = prev;
    else next.deadlinePrev = prev;
    waiter.deadlinePrev = waiter.deadlineNext = waiter.deadlineList = undefined;
    if (this.head === undefined && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.fire(), Math.min(TIMER_MAX_MS, Math.max(1, Math.ceil(ms))));
  }

  /** Expires every waiter whose time is up (in order), then waits for the next one. */
  private fire(): void {
    this.timer = undefined;
    const now = this.now();
    let waiter = this.head;
    while (waiter !== undefined && waiter.deadlineAt <= now) {
      this.remove(waiter);
      // After the removal: an expire that adds a new waiter finds the list consistent.
      waiter.expire();
      waiter = this.head;
    }
    if (this.head !== undefined && this.timer === undefined) this.arm(this.head.deadlineAt - now);
  }
}
