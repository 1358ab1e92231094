import type { Database } from '../test/helpers/database.js';
import { startCountingConsumer } from './counting-consumer.js';
import { pollUntil } from './poll.js';
import { startReceiver } from './receiver.js';
import { type Bench, type BenchTrigger, Walhook } from './walhook.js';
import { dropSlot, fillBacklog, PUBLICATIONS, slotActive, TABLES } from './workload.js';

/** A backlog drains at well over this many changes per second, or something is wrong. */
const SLOWEST_RATE = 200;
const timeoutFor = (backlog: number) => 60_000 + (backlog / SLOWEST_RATE) * 1000;

/**
 * A backlog drained, timed from the moment a walsender holds the slot to the last change: the
 * consumer's own start-up (a Node process, for walhook) is left out, Postgres decoding the
 * transaction before it sends the first change is in, as it is for every consumer.
 */
export interface Throughput {
  /** Changes per second. */
  rate: number;
  /** Changes counted: the backlog, unless some were delivered twice. */
  events: number;
  /** Seconds until the first change arrived. */
  firstSec: number;
}

function throughput(events: number, acquiredAt: number, firstAt: number, lastAt: number): Throughput {
  // Polling can notice the slot taken only after the first change arrived.
  const start = Math.min(acquiredAt, firstAt);
  return { rate: events / ((lastAt - start) / 1000), events, firstSec: (firstAt - start) / 1000 };
}

/** The counting consumer (see counting-consumer.ts) draining a backlog. */
export async function countingConsumer(db: Database, backlog: number, slot: string): Promise<Throughput> {
  await fillBacklog(db, slot, backlog);
  const consumer = startCountingConsumer(db, slot, PUBLICATIONS.backlog);
  try {
    const acquiredAt = await pollUntil(
      async () => consumer.assertAlive() && (consumer.inserts() > 0 || (await slotActive(db, slot))),
      'the slot to be read',
      60_000,
    );
    await pollUntil(
      () => consumer.assertAlive() && consumer.inserts() >= backlog,
      `${backlog} inserts`,
      timeoutFor(backlog),
    );
    return throughput(consumer.inserts(), acquiredAt, consumer.firstAt(), consumer.lastAt());
  } finally {
    await consumer.stop();
    await dropSlot(db, slot);
  }
}

/**
 * walhook delivering a backlog, `batch` events per POST, to a receiver answering 200 at once; with
 * `invocationLog`, every attempt is also written to the invocation log; with `transform`, each
 * request goes through a typical request transform (see `BenchTrigger`).
 */
export async function walhookThroughput(
  bench: Bench,
  backlog: number,
  batch: number,
  slot: string,
  options: Pick<BenchTrigger, 'invocationLog' | 'transform'> = {},
): Promise<Throughput> {
  const { db } = bench;
  const receiver = await startReceiver({ count: batch > 1 ? 'events' : 'requests' });
  try {
    await fillBacklog(db, slot, backlog);
    const walhook = await Walhook.start(
      bench,
      {
        slot,
        publication: PUBLICATIONS.backlog,
        table: TABLES.backlog,
        webhook: receiver.url,
        batch,
        ...options,
      },
      { waitReady: false },
    );
    try {
      const acquiredAt = await walhook.whileRunning(
        async () => receiver.events() > 0 || (await slotActive(db, slot)),
        'walhook to read its slot',
        60_000,
      );
      await walhook.whileRunning(
        () => receiver.events() >= backlog,
        `${backlog} events`,
        timeoutFor(backlog),
      );
      return throughput(receiver.events(), acquiredAt, receiver.firstAt(), receiver.lastAt());
    } finally {
      await walhook.stop();
    }
  } finally {
    await receiver.close();
    await dropSlot(db, slot);
  }
}
