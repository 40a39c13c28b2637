import { after } from 'node:test';

/**
 * A `t`-like teardown scope for set-up shared by a `describe` suite (in `before`): the functions
 * given to `after` run in reverse order of set-up, once the suite is done. Call it in the suite.
 */
export function suiteTeardown(): { after(fn: () => unknown): void } {
  const teardown: (() => unknown)[] = [];
  after(async () => {
    for (const fn of teardown.reverse()) await fn();
  });
  return { after: (fn) => void teardown.push(fn) };
}
