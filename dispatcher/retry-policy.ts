import type { EgressConfig } from '../core/contract/types.js';
import { assertNever } from '../core/values.js';

/**
 * Retry decisions, made from data and nothing else (no message text, no clock of its own).
 *
 * Knative Eventing's delivery spec (`spec.delivery` of a Trigger, Broker or Subscription):
 *  - `retry`: extra attempts after the first;
 *  - `backoffPolicy` + `backoffDelay`: the wait before retry n (n = 1, 2, …) is
 *    linear `delay × n` or exponential `delay × 2^n`;
 *  - `timeout`: per attempt;
 *  - `retryAfterMax`: cap on how long a `Retry-After` header may delay the next attempt. Knative's
 *    own Kafka broker ignores Retry-After; we honour it (RFC 9110 §10.2.3) on 429 and 503, the two
 *    statuses that define it, and wait at least that long.
 *
 * Above every trigger's `retryAfterMax` sits the dispatcher's own bound (`maxRetryAfterMs`): a
 * waiting event holds an in-flight slot and memory, so a subscriber answering `Retry-After: 1e9`
 * must not park it for weeks. A trigger may lower the bound, never raise it.
 */

/** Why one attempt did not succeed. */
export type AttemptFailure =
  /** The destination answered with a status other than 2xx. */
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string | undefined }
  /** No complete answer within the per-attempt timeout. */
  | { readonly kind: 'timeout' }
  /** No answer at all: connection refused or reset, DNS failure, TLS failure. */
  | { readonly kind: 'network'; readonly message: string }
  /** A 2xx whose reply claims to be a CloudEvent but is not a valid one. */
  | { readonly kind: 'invalid-reply'; readonly status: number; readonly reason: string };

/**
 * Which failures are worth another attempt, and why:
 *
 *   | failure             | retry | why                                                        |
 *   |---------------------|-------|------------------------------------------------------------|
 *   | 5xx                 | yes   | the server failed; it may recover                          |
 *   | 404 Not Found       | yes   | the subscriber may not be routable yet (Knative Service    |
 *   |                     |       | scaling from zero, route being programmed) — Knative does  |
 *   | 408 Request Timeout | yes   | the server gave up waiting for us; a new attempt may pass  |
 *   | 409 Conflict        | yes   | a transient state conflict on the subscriber's side         |
 *   | 429 Too Many Req.   | yes   | rate limited: back off (and honour Retry-After)            |
 *   | other 4xx, 1xx, 3xx | no    | the request itself is wrong; sending it again will not help |
 *   | timeout             | yes   | the subscriber may just be slow this time                  |
 *   | network error       | yes   | connections fail transiently                               |
 *   | invalid reply       | yes   | the subscriber sent garbage back; it may answer well later |
 */
export function isRetryable(failure: AttemptFailure): boolean {
  switch (failure.kind) {
    case 'status':
      return isRetryableStatus(failure.status);
    case 'timeout':
    case 'network':
    case 'invalid-reply':
      return true;
    default:
      return assertNever(failure);
  }
}

const retryableClientStatuses: ReadonlySet<number> = new Set([404, 408, 409, 429]);

export function isRetryableStatus(status: number): boolean {
  return status >= 500 || retryableClientStatuses.has(status);
}

export interface RetryPolicy {
  /** Extra attempts after the first. */
  readonly maxRetries: number;
  /** Per-attempt timeout. */
  readonly timeoutMs: number;
  /** Cap on a Retry-After delay: the trigger's, within the dispatcher's bound; null means none. */
  readonly retryAfterMaxMs: number | null;
  /** The backoff before retry `retry` (1 for the first retry). */
  backoffMs(retry: number): number;
  shouldRetry(failure: AttemptFailure): boolean;
  /**
   * How long to wait before retry `retry` after `failure` at time `nowMs`: the backoff, or the
   * Retry-After delay (capped) when that is longer.
   */
  delayBeforeRetryMs(retry: number, failure: AttemptFailure, nowMs: number): number;
}

export interface PolicyDefaults {
  /** The dispatcher's per-attempt timeout, used when the egress has none. */
  readonly timeoutMs: number;
  /** The dispatcher-wide bound on a Retry-After delay (config `maxRetryAfterMs`); absent: none. */
  readonly retryAfterBoundMs?: number | undefined;
}

/**
 * The policy for an egress's effective delivery settings. No settings at all (null) means one
 * attempt, the default timeout, and no dead-letter sink (so a failure is held, never dropped).
 */
export function policyFrom(config: EgressConfig | null, defaults: PolicyDefaults): RetryPolicy {
  const maxRetries = config?.retry ?? 0;
  const delay = config?.backoffDelayMs ?? 0;
  const exponential = config?.backoffPolicy === 'exponential';
  const timeoutMs = config?.timeoutMs ?? defaults.timeoutMs;
  const retryAfterMaxMs = boundedRetryAfterMax(config?.retryAfterMaxMs ?? null, defaults.retryAfterBoundMs);
  const backoffMs = (retry: number): number => {
    const n = Math.max(1, retry);
    return clampDelay(exponential ? delay * 2 ** n : delay * n);
  };
  return {
    maxRetries,
    timeoutMs,
    retryAfterMaxMs,
    backoffMs,
    shouldRetry: isRetryable,
    delayBeforeRetryMs(retry, failure, nowMs) {
      const backoff = backoffMs(retry);
      const requested = retryAfterMs(failure, nowMs);
      if (requested === undefined) return backoff;
      const capped = retryAfterMaxMs === null ? requested : Math.min(requested, retryAfterMaxMs);
      return clampDelay(Math.max(backoff, capped));
    },
  };
}

/** The trigger's `retryAfterMax` within the dispatcher's bound: it may lower the bound, never raise it. */
export function boundedRetryAfterMax(triggerMaxMs: number | null, boundMs: number | undefined): number | null {
  if (boundMs === undefined) return triggerMaxMs;
  return triggerMaxMs === null ? boundMs : Math.min(triggerMaxMs, boundMs);
}

/** The Retry-After delay a failure asks for, if any: only 429 and 503 define the header. */
export function retryAfterMs(failure: AttemptFailure, nowMs: number): number | undefined {
  if (failure.kind !== 'status' || (failure.status !== 429 && failure.status !== 503)) return undefined;
  return parseRetryAfter(failure.retryAfter, nowMs);
}

/**
 * RFC 9110 §10.2.3: `Retry-After = HTTP-date / delay-seconds`. Returns milliseconds from `nowMs`
 * (0 for a date in the past), or undefined when the value is absent or neither form.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+$/.test(trimmed)) return clampDelay(Number(trimmed) * 1000);
  // An HTTP-date always names a weekday and a month; Date.parse alone also takes "2024" or "1".
  if (!/[a-z]{3}/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Backoff between the rounds of an event that could be neither delivered nor dead-lettered:
 * exponential from `baseMs`, capped at `capMs`, with "equal jitter" (half fixed, half random) so
 * that many held events do not retry in lock-step. `round` starts at 1; `random` is in [0, 1).
 */
export function stallBackoffMs(round: number, baseMs: number, capMs: number, random: () => number): number {
  const exponent = Math.min(Math.max(0, round - 1), 30);
  const ceiling = Math.min(capMs, baseMs * 2 ** exponent);
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/** setTimeout's largest delay (about 24.8 days); anything longer would fire at once. */
export const MAX_DELAY_MS = 2 ** 31 - 1;

function clampDelay(ms: number): number {
  return Number.isFinite(ms) ? Math.min(Math.max(0, Math.round(ms)), MAX_DELAY_MS) : MAX_DELAY_MS;
}

