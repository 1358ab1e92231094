import type { RetryPolicy } from '../core/delivery-event.js';

/** A source of uniform numbers in [0, 1), injectable so tests can pin the jitter. */
export type Random = () => number;

/** A trigger's policy when it sets no `retry` (a sink may have its own default instead). */
export const DEFAULT_RETRY: RetryPolicy = {
  numRetries: 0,
  intervalSec: 10,
  timeoutSec: 60,
  backoff: 'exponential',
  maxIntervalSec: 600,
  finalStatuses: [],
  retryAfter: 'throttling',
};

/** Node fires longer timers at once (with a warning), so every wait is clamped below this. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Under `throttling`, the statuses whose Retry-After tells when to come back (RFC 9110 §10.2.3). */
const THROTTLING_STATUSES = new Set([429, 503]);

// The three HTTP-date forms (RFC 9110 §5.6.7): IMF-fixdate and RFC 850 end in GMT, asctime has no zone.
const GMT_DATE = /^[A-Za-z]{3,9}, [\dA-Za-z -]+ \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * The wait before retry number `retryIndex + 1` (0 for the wait after the first attempt). Exponential
 * backoff uses AWS's "full jitter": uniform in [0, min(max, interval × 2^retryIndex)], which spreads the
 * retries of many events failing together instead of sending them back in waves.
 */
export function backoffMs(
  policy: Pick<RetryPolicy, 'backoff' | 'intervalSec' | 'maxIntervalSec'>,
  retryIndex: number,
  random: Random = Math.random,
): number {
  if (policy.backoff === 'fixed') return Math.min(policy.intervalSec * 1000, MAX_TIMER_MS);
  // The exponent is bounded so a zero interval never meets an infinite factor (0 × ∞ is NaN).
  const ceilingSec = Math.min(policy.maxIntervalSec, policy.intervalSec * 2 ** Math.min(retryIndex, 64));
  return Math.min(random() * ceilingSec * 1000, MAX_TIMER_MS);
}

/** A Retry-After value in milliseconds from `now`, or null when it is neither delta-seconds nor a date. */
export function parseRetryAfter(value: string, now: number = Date.now()): number | null {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  let date: number;
  if (GMT_DATE.test(text)) date = Date.parse(text);
  else if (ASCTIME_DATE.test(text)) date = Date.parse(`${text} GMT`);
  else return null;
  // A date in the past means "now": the receiver is ready again.
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/**
 * The wait before the next retry: the receiver's Retry-After if it is readable and its status counts
 * (429 or 503 under `throttling`, any non-2xx under `any_status`, as Hasura), the backoff otherwise.
 * Both are capped by `maxIntervalSec`, so a receiver cannot park an event for days.
 */
export function retryDelayMs(
  policy: Pick<RetryPolicy, 'backoff' | 'intervalSec' | 'maxIntervalSec' | 'retryAfter'>,
  retryIndex: number,
  answer: { status: number | null; retryAfter?: string | undefined },
  options: { random?: Random; now?: number } = {},
): number {
  if (answer.retryAfter !== undefined && honoursRetryAfter(policy.retryAfter, answer.status)) {
    const asked = parseRetryAfter(answer.retryAfter, options.now);
    if (asked !== null) return Math.min(asked, policy.maxIntervalSec * 1000, MAX_TIMER_MS);
  }
  return backoffMs(policy, retryIndex, options.random);
}

function honoursRetryAfter(mode: RetryPolicy['retryAfter'], status: number | null): boolean {
  if (status === null) return false;
  return mode === 'any_status' ? status < 200 || status >= 300 : THROTTLING_STATUSES.has(status);
}

/** Whether a status matches one of the patterns: a status (410) or a class of them ("4xx"). */
export function isFinalStatus(status: number, finalStatuses: readonly (number | string)[]): boolean {
  for (const pattern of finalStatuses) {
    if (
      typeof pattern === 'number'
        ? status === pattern
        : pattern.toLowerCase() === `${Math.floor(status / 100)}xx`
    ) {
      return true;
    }
  }
  return false;
}
