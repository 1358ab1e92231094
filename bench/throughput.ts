import type { Database } from '../test/helpers/database.js';
import { type SlotConsumer, startCountingConsumer, startDecodingConsumer } from './consumers.js';
import { ownCpuSec, processCpuSec } from './cpu.js';
import { pollUntil } from './poll.js';
import { type SampleRequest, startReceiver } from './receiver.js';
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
  /**
   * CPU seconds (user + system) the consumer's process used from the moment the slot was seen taken
   * (before the first change arrives, as Postgres decodes the transaction first) to the last change.
   */
  cpuSec: number;
}

/** walhook's, with what the HTTP ceiling needs to send requests like those of one event per POST. */
export interface WalhookThroughput extends Throughput {
  /** The first request walhook sent. */
  sample: SampleRequest;
  /** Mean bytes of a request body. */
  bodyBytes: number;
}

function throughput(
  events: number,
  cpuSec: number,
  acquiredAt: number,
  firstAt: number,
  lastAt: number,
): Throughput {
  // Polling can notice the slot taken only after the first change arrived.
  const start = Math.min(acquiredAt, firstAt);
  return { rate: events / ((lastAt - start) / 1000), events, firstSec: (firstAt - start) / 1000, cpuSec };
}

const CONSUMERS = { counting: startCountingConsumer, decoding: startDecodingConsumer };

/**
 * A Node consumer of consumers.ts draining a backlog in this process. Its CPU is this process's
 * (`process.cpuUsage()`) over the drain: nothing else runs here then, not even a poll.
 */
export async function consumerThroughput(
  db: Database,
  kind: keyof typeof CONSUMERS,
  backlog: number,
  slot: string,
): Promise<Throughput> {
  await fillBacklog(db, slot, backlog);
  const consumer: SlotConsumer = CONSUMERS[kind](db, slot, PUBLICATIONS.backlog);
  try {
    const acquiredAt = await pollUntil(
      async () => consumer.assertAlive() && (consumer.inserts() > 0 || (await slotActive(db, slot))),
      'the slot to be read',
      60_000,
    );
    const cpuBefore = ownCpuSec();
    await consumer.drained(backlog, timeoutFor(backlog));
    const cpuSec = ownCpuSec() - cpuBefore;
    return throughput(consumer.inserts(), cpuSec, acquiredAt, consumer.firstAt(), consumer.lastAt());
  } finally {
    await consumer.stop();
    await dropSlot(db, slot);
  }
}

/**
 * walhook delivering a backlog, `batch` events per POST, to a receiver answering 200 at once; with
 * `invocationLog`, every attempt is also written to the invocation log; with `transform`, each
 * request goes through a typical request transform (see `BenchTrigger`). Its CPU is the walhook
 * process's, from /proc/PID/stat.
 */
export async function walhookThroughput(
  bench: Bench,
  backlog: number,
  batch: number,
  slot: string,
  options: Pick<BenchTrigger, 'invocationLog' | 'transform'> = {},
): Promise<WalhookThroughput> {
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
      const pid = walhook.child.pid as number;
      const cpuBefore = processCpuSec(pid);
      await walhook.whileRunning(
        () => receiver.events() >= backlog,
        `${backlog} events`,
        timeoutFor(backlog),
      );
      const cpuSec = processCpuSec(pid) - cpuBefore;
      return {
        ...throughput(receiver.events(), cpuSec, acquiredAt, receiver.firstAt(), receiver.lastAt()),
        sample: receiver.sample() as SampleRequest,
        bodyBytes: receiver.bodyBytes() / receiver.requests(),
      };
    } finally {
      await walhook.stop();
    }
  } finally {
    await receiver.close();
    await dropSlot(db, slot);
  }
}
