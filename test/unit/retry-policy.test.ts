import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  backoffMs,
  isFinalStatus,
  MAX_TIMER_MS,
  parseRetryAfter,
  retryDelayMs,
} from '../../src/sinks/retry-policy.js';
import { seededRandom } from '../helpers/random.js';

const random = seededRandom;

const exponential = {
  backoff: 'exponential',
  intervalSec: 1,
  maxIntervalSec: 60,
  retryAfter: 'throttling',
} as const;
const fixed = { backoff: 'fixed', intervalSec: 2.5, maxIntervalSec: 1, retryAfter: 'throttling' } as const;

test('exponential backoff draws within [0, interval × 2^retry] and spreads over the whole range', () => {
  const rand = random(1);
  for (let retry = 0; retry < 5; retry++) {
    const ceiling = 1000 * 2 ** retry;
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    for (let draw = 0; draw < 2000; draw++) {
      const ms = backoffMs(exponential, retry, rand);
      assert.ok(ms >= 0 && ms <= ceiling, `retry ${retry}: ${ms} outside [0, ${ceiling}]`);
      min = Math.min(min, ms);
      max = Math.max(max, ms);
    }
    assert.ok(min < ceiling * 0.05, `retry ${retry}: no draw near 0 (min ${min})`);
    assert.ok(max > ceiling * 0.95, `retry ${retry}: no draw near the ceiling (max ${max})`);
  }
});

test('the exponential ceiling doubles per retry and stops at maxIntervalSec', () => {
  const top = () => 1 - Number.EPSILON;
  const ceilings = Array.from({ length: 9 }, (_, retry) => Math.round(backoffMs(exponential, retry, top)));
  assert.deepEqual(ceilings, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  assert.equal(
    backoffMs(exponential, 0, () => 0),
    0,
  );
  assert.equal(
    backoffMs(exponential, 3, () => 0.5),
    4000,
  );
});

test('exponential backoff stays finite for huge retry counts and a zero interval', () => {
  assert.equal(
    backoffMs({ ...exponential, intervalSec: 0 }, 5000, () => 0.9),
    0,
  );
  assert.equal(
    backoffMs(exponential, 5000, () => 0.5),
    30_000,
  );
  assert.equal(
    backoffMs({ ...exponential, maxIntervalSec: 1e12 }, 5000, () => 0.5),
    MAX_TIMER_MS,
  );
});

test('fixed backoff waits exactly intervalSec on every retry, without jitter', () => {
  const rand = random(2);
  for (let retry = 0; retry < 20; retry++) {
    for (let draw = 0; draw < 50; draw++) assert.equal(backoffMs(fixed, retry, rand), 2500);
  }
});

test('Retry-After in delta-seconds', () => {
  assert.equal(parseRetryAfter('0'), 0);
  assert.equal(parseRetryAfter('1'), 1000);
  assert.equal(parseRetryAfter(' 120 '), 120_000);
});

test('Retry-After as an HTTP date, in all three forms, relative to now', () => {
  const now = Date.parse('1994-11-06T08:49:00Z');
  assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now), 37_000);
  assert.equal(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now), 37_000);
  assert.equal(parseRetryAfter('Sun Nov  6 08:49:37 1994', now), 37_000);
});

test('Retry-After with a date in the past means retry now', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now), 0);
});

test('garbage Retry-After values are ignored', () => {
  for (const value of ['', 'soon', '1.5', '-1', '10s', '1e3', 'Sun, 99 Foo 1994 08:49:37 GMT', 'Tomorrow']) {
    assert.equal(parseRetryAfter(value), null, JSON.stringify(value));
  }
});

test('Retry-After replaces the backoff on 429 and 503 only, capped by maxIntervalSec', () => {
  const never = () => assert.fail('the backoff was drawn');
  assert.equal(retryDelayMs(fixed, 0, { status: 429, retryAfter: '0' }, { random: never }), 0);
  assert.equal(retryDelayMs(exponential, 0, { status: 503, retryAfter: '7' }, { random: never }), 7000);
  assert.equal(retryDelayMs(exponential, 0, { status: 429, retryAfter: '3600' }, { random: never }), 60_000);
  const now = Date.parse('1994-11-06T08:49:00Z');
  assert.equal(
    retryDelayMs(exponential, 0, { status: 503, retryAfter: 'Sun, 06 Nov 1994 08:49:37 GMT' }, { now }),
    37_000,
  );
  const half = () => 0.5;
  assert.equal(retryDelayMs(exponential, 1, { status: 500, retryAfter: '7' }, { random: half }), 1000);
  assert.equal(retryDelayMs(exponential, 1, { status: 429, retryAfter: 'soon' }, { random: half }), 1000);
  assert.equal(retryDelayMs(exponential, 1, { status: 429 }, { random: half }), 1000);
  assert.equal(retryDelayMs(exponential, 1, { status: null }, { random: half }), 1000);
});

test('retry_after any_status honours Retry-After on every non-2xx answer, as Hasura does', () => {
  const never = () => assert.fail('the backoff was drawn');
  const hasura = {
    backoff: 'fixed',
    intervalSec: 10,
    maxIntervalSec: 600,
    retryAfter: 'any_status',
  } as const;
  for (const status of [500, 404, 302, 400, 429, 503, 102]) {
    assert.equal(retryDelayMs(hasura, 0, { status, retryAfter: '2' }, { random: never }), 2000, `${status}`);
  }
  const now = Date.parse('1994-11-06T08:49:00Z');
  assert.equal(
    retryDelayMs(hasura, 0, { status: 500, retryAfter: 'Sun, 06 Nov 1994 08:49:37 GMT' }, { now }),
    37_000,
  );
  // Still capped by maxIntervalSec; unreadable or absent, and without an answer, the interval counts.
  assert.equal(retryDelayMs({ ...hasura, maxIntervalSec: 1 }, 0, { status: 500, retryAfter: '30' }), 1000);
  assert.equal(retryDelayMs(hasura, 3, { status: 500, retryAfter: 'later' }), 10_000);
  assert.equal(retryDelayMs(hasura, 3, { status: 500 }), 10_000);
  assert.equal(retryDelayMs(hasura, 3, { status: null, retryAfter: '2' }), 10_000);
  // A 2xx is never retried; were it asked, its Retry-After would not count.
  assert.equal(retryDelayMs(hasura, 0, { status: 204, retryAfter: '2' }), 10_000);
  // The same answers under the default: only 429 and 503 are heard.
  const throttling = { ...hasura, retryAfter: 'throttling' } as const;
  assert.equal(retryDelayMs(throttling, 0, { status: 500, retryAfter: '2' }), 10_000);
  assert.equal(retryDelayMs(throttling, 0, { status: 404, retryAfter: '2' }), 10_000);
  assert.equal(retryDelayMs(throttling, 0, { status: 302, retryAfter: '2' }), 10_000);
  assert.equal(retryDelayMs(throttling, 0, { status: 503, retryAfter: '2' }), 2000);
});

test('final statuses match exact codes and classes', () => {
  const patterns = [410, '4xx'];
  assert.equal(isFinalStatus(410, [410]), true);
  assert.equal(isFinalStatus(411, [410]), false);
  assert.equal(isFinalStatus(404, patterns), true);
  assert.equal(isFinalStatus(499, patterns), true);
  assert.equal(isFinalStatus(500, patterns), false);
  assert.equal(isFinalStatus(302, patterns), false);
  assert.equal(isFinalStatus(503, ['5xx']), true);
  assert.equal(isFinalStatus(503, ['5XX']), true);
  assert.equal(isFinalStatus(410, []), false);
});
