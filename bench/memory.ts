import { sleep } from '../test/helpers/receiver.js';
import { startReceiver } from './receiver.js';
import { type Bench, Walhook } from './walhook.js';
import { dropSlot, fillBacklog, PUBLICATIONS, TABLES } from './workload.js';

/** Each answer this late: walhook can deliver only a trickle and must hold the rest back. */
const ANSWER_DELAY_MS = 1000;
/** Postgres decodes the whole backlog transaction before it sends its first change. */
const pauseTimeoutMs = (backlog: number) => 60_000 + backlog / 10;

export interface Memory {
  /** Peak resident set size of the walhook process (VmHWM), MiB. */
  peakMiB: number;
  /** Seconds from start until walhook paused reading at its in-flight limit. */
  pausedAfterSec: number;
  /** Events the slow receiver had accepted when the measure ended. */
  delivered: number;
  /** walhook_in_flight_events when the measure ended. */
  inFlight: number;
}

/**
 * walhook's peak RSS draining a backlog of `backlog` inserts into a receiver that answers each POST
 * after a second: it runs until reading has paused under backpressure and `watchSec` longer.
 */
export async function peakRss(
  bench: Bench,
  backlog: number,
  watchSec: number,
  slot: string,
): Promise<Memory> {
  const { db } = bench;
  const receiver = await startReceiver({ count: 'requests', answerDelayMs: ANSWER_DELAY_MS });
  try {
    await fillBacklog(db, slot, backlog);
    const started = performance.now();
    const walhook = await Walhook.start(
      bench,
      { slot, publication: PUBLICATIONS.backlog, table: TABLES.backlog, webhook: receiver.url },
      { waitReady: false },
    );
    try {
      const paused = async () => (await walhook.metric('walhook_replication_paused').catch(() => 0)) >= 1;
      const pausedAt = await walhook
        .whileRunning(paused, 'walhook to pause reading', pauseTimeoutMs(backlog))
        .catch(async (error: Error) => {
          const inFlight = await walhook.metric('walhook_in_flight_events').catch(() => Number.NaN);
          throw new Error(`${error.message}: ${receiver.events()} delivered, ${inFlight} in flight`, {
            cause: error,
          });
        });
      await sleep(watchSec * 1000);
      walhook.assertAlive();
      return {
        // VmHWM is the high-water mark itself, so one reading at the end covers the whole run.
        peakMiB: walhook.peakRssMiB(),
        pausedAfterSec: (pausedAt - started) / 1000,
        delivered: receiver.events(),
        inFlight: await walhook.metric('walhook_in_flight_events'),
      };
    } finally {
      await walhook.stop();
    }
  } finally {
    await receiver.close();
    await dropSlot(db, slot);
    await db.query(`TRUNCATE ${TABLES.backlog}`);
  }
}
