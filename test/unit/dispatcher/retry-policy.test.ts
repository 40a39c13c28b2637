import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EgressConfig } from '../../../core/contract/types.js';
import {
  MAX_DELAY_MS, isRetryable, parseRetryAfter, policyFrom, stallBackoffMs, type AttemptFailure,
} from '../../../dispatcher/retry-policy.js';

const config = (overrides: Partial<EgressConfig> = {}): EgressConfig => ({
  retry: 3, backoffPolicy: 'linear', backoffDelayMs: 100, timeoutMs: null, deadLetter: null, retryAfterMaxMs: null, ...overrides,
});
const status = (code: number, retryAfter?: string): AttemptFailure => ({ kind: 'status', status: code, retryAfter });
const NOW = Date.parse('2026-01-01T00:00:00Z');

describe('which failures are retried', () => {
  const table: [string, AttemptFailure, boolean][] = [
    ['500', status(500), true],
    ['502', status(502), true],
    ['503', status(503), true],
    ['599', status(599), true],
    ['404', status(404), true],
    ['408', status(408), true],
    ['409', status(409), true],
    ['429', status(429), true],
    ['400', status(400), false],
    ['401', status(401), false],
    ['403', status(403), false],
    ['405', status(405), false],
    ['410', status(410), false],
    ['413', status(413), false],
    ['415', status(415), false],
    ['422', status(422), false],
    ['301', status(301), false],
    ['100', status(100), false],
    ['timeout', { kind: 'timeout' }, true],
    ['network error', { kind: 'network', message: 'ECONNREFUSED' }, true],
    ['invalid reply', { kind: 'invalid-reply', status: 200, reason: 'no id' }, true],
  ];
  for (const [name, failure, expected] of table) {
    test(`${name} → ${expected ? 'retry' : 'fail at once'}`, () => {
      assert.equal(isRetryable(failure), expected);
      assert.equal(policyFrom(config(), { timeoutMs: 1000 }).shouldRetry(failure), expected);
    });
  }
});

describe('backoff', () => {
  const table: [EgressConfig['backoffPolicy'], number, number[]][] = [
    // retry n waits delay × n (linear) or delay × 2^n (exponential), n from 1
    ['linear', 100, [100, 200, 300, 400]],
    ['exponential', 100, [200, 400, 800, 1600]],
    ['linear', 0, [0, 0, 0, 0]],
    ['exponential', 10, [20, 40, 80, 160]],
  ];
  for (const [policy, delay, expected] of table) {
    test(`${policy}, delay ${delay} ms → ${expected.join(', ')}`, () => {
      const p = policyFrom(config({ backoffPolicy: policy, backoffDelayMs: delay }), { timeoutMs: 1000 });
      assert.deepEqual([1, 2, 3, 4].map((n) => p.backoffMs(n)), expected);
      assert.deepEqual([1, 2, 3, 4].map((n) => p.delayBeforeRetryMs(n, status(500), NOW)), expected);
    });
  }

  test('a huge exponent is clamped to what a timer can wait', () => {
    const p = policyFrom(config({ backoffPolicy: 'exponential', backoffDelayMs: 1000 }), { timeoutMs: 1000 });
    assert.equal(p.backoffMs(60), MAX_DELAY_MS);
  });
});

describe('policy from delivery settings', () => {
  test('no settings: one attempt, the default timeout, no Retry-After cap', () => {
    const p = policyFrom(null, { timeoutMs: 1234 });
    assert.equal(p.maxRetries, 0);
    assert.equal(p.timeoutMs, 1234);
    assert.equal(p.retryAfterMaxMs, null);
  });

  test('timeoutMs null takes the default, a value wins', () => {
    assert.equal(policyFrom(config({ timeoutMs: null }), { timeoutMs: 500 }).timeoutMs, 500);
    assert.equal(policyFrom(config({ timeoutMs: 50 }), { timeoutMs: 500 }).timeoutMs, 50);
  });

  test('retry count is the extra attempts', () => {
    assert.equal(policyFrom(config({ retry: 5 }), { timeoutMs: 500 }).maxRetries, 5);
  });
});

describe('Retry-After', () => {
  const parseTable: [string | undefined, number | undefined][] = [
    ['0', 0],
    ['1', 1000],
    ['120', 120_000],
    [' 7 ', 7000],
    ['Thu, 01 Jan 2026 00:00:05 GMT', 5000],
    ['Wed, 31 Dec 2025 23:59:00 GMT', 0], // in the past: no wait
    ['Thursday, 01-Jan-26 00:00:30 GMT', 30_000], // RFC 850 form, obsolete but allowed
    ['Thu Jan  1 00:00:02 2026', 2000], // asctime form (read as local time by Date.parse when no zone)
    [undefined, undefined],
    ['', undefined],
    ['-1', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['2026-01-01', undefined], // not an HTTP-date
  ];
  for (const [value, expected] of parseTable) {
    test(`parseRetryAfter(${JSON.stringify(value)}) → ${String(expected)}`, (t) => {
      if (value === 'Thu Jan  1 00:00:02 2026') {
        // asctime has no zone: compare with what this machine's Date makes of it.
        assert.equal(parseRetryAfter(value, NOW), Math.max(0, Date.parse(value) - NOW));
        t.diagnostic('asctime is local time');
        return;
      }
      assert.equal(parseRetryAfter(value, NOW), expected);
    });
  }

  test('on 429 and 503 it delays the next attempt at least that long', () => {
    const p = policyFrom(config({ backoffDelayMs: 10 }), { timeoutMs: 1000 });
    assert.equal(p.delayBeforeRetryMs(1, status(429, '2'), NOW), 2000);
    assert.equal(p.delayBeforeRetryMs(1, status(503, 'Thu, 01 Jan 2026 00:00:03 GMT'), NOW), 3000);
  });

  test('a backoff longer than Retry-After wins', () => {
    const p = policyFrom(config({ backoffDelayMs: 5000 }), { timeoutMs: 1000 });
    assert.equal(p.delayBeforeRetryMs(1, status(429, '1'), NOW), 5000);
  });

  test('is capped by retryAfterMax', () => {
    const p = policyFrom(config({ backoffDelayMs: 10, retryAfterMaxMs: 1500 }), { timeoutMs: 1000 });
    assert.equal(p.delayBeforeRetryMs(1, status(429, '60'), NOW), 1500);
  });

  // The broker-wide bound (dispatcher config maxRetryAfterMs): a trigger's retryAfterMax may
  // lower it, never raise it; no retryAfterMax at all means the bound.
  const bounded: [string, number | null, string, number][] = [
    ['no retryAfterMax: the bound', null, '3600', 300_000],
    ['retryAfterMax below the bound lowers it', 1500, '3600', 1500],
    ['retryAfterMax above the bound cannot raise it', 3_600_000, '3600', 300_000],
    ['a request under both is honoured as asked', 3_600_000, '60', 60_000],
  ];
  for (const [name, retryAfterMaxMs, asked, expected] of bounded) {
    test(`broker-wide bound: ${name}`, () => {
      const p = policyFrom(config({ backoffDelayMs: 10, retryAfterMaxMs }), { timeoutMs: 1000, retryAfterBoundMs: 300_000 });
      assert.equal(p.delayBeforeRetryMs(1, status(429, asked), NOW), expected);
      assert.equal(p.retryAfterMaxMs, Math.min(retryAfterMaxMs ?? Infinity, 300_000));
    });
  }

  test('is ignored on other statuses and when unparseable', () => {
    const p = policyFrom(config({ backoffDelayMs: 10 }), { timeoutMs: 1000 });
    assert.equal(p.delayBeforeRetryMs(1, status(500, '60'), NOW), 10);
    assert.equal(p.delayBeforeRetryMs(1, status(502, '60'), NOW), 10);
    assert.equal(p.delayBeforeRetryMs(1, status(429, 'later'), NOW), 10);
  });
});

describe('stall backoff (held events)', () => {
  const table: [number, number, number][] = [
    // round, random, expected with base 1000 and cap 8000: half fixed + half × random
    [1, 0, 500],
    [1, 0.999999, 1000],
    [2, 0, 1000],
    [3, 0.5, 3000],
    [4, 0, 4000],
    [5, 0, 4000], // capped at 8000 → 4000..8000
    [50, 0.999999, 8000],
  ];
  for (const [round, random, expected] of table) {
    test(`round ${round}, random ${random} → ${expected} ms`, () => {
      assert.equal(stallBackoffMs(round, 1000, 8000, () => random), expected);
    });
  }
});
