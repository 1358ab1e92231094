import { sleep } from '../test/helpers/receiver.js';
import { startReceiver } from './receiver.js';
import { type Bench, Walhook } from './walhook.js';
import { dropSlot, insertRows, PUBLICATIONS, TABLES } from './workload.js';

/** The writer commits what is due about this often: small transactions of a few rows each. */
const TICK_MS = 5;

export interface Latency {
  /** Commit-to-receiver milliseconds. */
  p50: number;
  p99: number;
  max: number;
  events: number;
  /** Changes per second the writer achieved (it catches up when a commit is slow). */
  rate: number;
}

/**
 * Wall-clock milliseconds with sub-millisecond resolution: Date.now() only has whole milliseconds,
 * so the monotonic clock is anchored at the instant Date.now() ticks. Anchored per measure, so the
 * two clocks cannot drift apart noticeably within one.
 */
function wallClock(): () => number {
  const start = Date.now();
  let now = start;
  while (now === start) now = Date.now();
  const anchor = performance.now();
  return () => now + (performance.now() - anchor);
}

/** `created_at` (ISO, microseconds, UTC) in epoch milliseconds with its fraction. */
function commitTimeMs(createdAt: string): number {
  return Date.parse(`${createdAt.slice(0, 23)}Z`) + Number(createdAt.slice(23, 26)) / 1000;
}

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;

/**
 * Commit-to-receiver latency while a writer commits `rate` inserts per second for `seconds`, one
 * event per POST: the receiver's arrival time minus the event's `created_at` (the commit time).
 * Postgres and the receiver share this machine's clock.
 */
export async function latency(bench: Bench, rate: number, seconds: number, slot: string): Promise<Latency> {
  const { db } = bench;
  const clock = wallClock();
  const samples: number[] = [];
  const receiver = await startReceiver({
    count: 'events',
    onEvent: (createdAt) => samples.push(clock() - commitTimeMs(createdAt)),
  });
  try {
    await db.query(`TRUNCATE ${TABLES.latency}`);
    const walhook = await Walhook.start(
      bench,
      { slot, publication: PUBLICATIONS.latency, table: TABLES.latency, webhook: receiver.url },
      { waitReady: true },
    );
    try {
      // One change first, so connection set-up and the first relation message are not measured.
      await insertRows(db, TABLES.latency, 1);
      await walhook.whileRunning(() => receiver.events() === 1, 'the warm-up event', 30_000);
      samples.length = 0;

      let written = 0;
      const started = performance.now();
      for (let elapsed = 0; elapsed < seconds * 1000; elapsed = performance.now() - started) {
        const due = Math.floor((rate * elapsed) / 1000) - written;
        if (due > 0) {
          await insertRows(db, TABLES.latency, due);
          written += due;
        }
        await sleep(TICK_MS);
      }
      const achieved = written / ((performance.now() - started) / 1000);
      await walhook.whileRunning(() => samples.length >= written, `${written} events`, 60_000);
      const sorted = Float64Array.from(samples).sort();
      return {
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        max: sorted[sorted.length - 1] as number,
        events: samples.length,
        rate: achieved,
      };
    } finally {
      await walhook.stop();
    }
  } finally {
    await receiver.close();
    await dropSlot(db, slot);
  }
}
