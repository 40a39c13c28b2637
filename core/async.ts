/** Timing helpers shared by every component (one home each). */

/**
 * Waits `ms`, or less when `signal` aborts. Resolves true when the time ran out and false when
 * it was cut short, never rejects: callers that stop on abort test the result or the signal.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The error `withTimeout` rejects with, so callers can tell a timeout from the operation's own failure. */
export class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * The promise's outcome if it settles within `ms`; otherwise `fallback` when one is given, else a
 * rejection with TimeoutError. The promise itself is not cancelled (JavaScript cannot), only no
 * longer waited for; the timer never outlives the call.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, ...fallback: [] | [T]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => (fallback.length === 1 ? resolve(fallback[0]) : reject(new TimeoutError(ms))), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
