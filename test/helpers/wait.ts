import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it returns a truthy value (which is returned) or the timeout passes. The
 * default deadline is generous (30 s): it only matters when a test fails, and on a busy CI machine
 * a consumer group join, a child process or the kube-apiserver can take well over 10 s.
 */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 30_000, intervalMs = 20, message = 'condition' }: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}${last ? `: ${String(last)}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

let counter = 0;
/** A name unique within this run and across runs, for topics and groups. */
export function uniqueName(prefix: string): string {
  counter++;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
