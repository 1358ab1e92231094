import type { Database } from '../test/helpers/database.js';
import {
  type Rabbit,
  type RedisBench,
  rabbitmqThroughput,
  redisThroughput,
  startRabbit,
  startRedis,
} from './brokers.js';
import { type HttpCeiling, httpCeiling } from './http-ceiling.js';
import { type Latency, latency } from './latency.js';
import { type Memory, peakRss } from './memory.js';
import { type LoadGenerator, type SourceOverhead, sourceOverhead } from './source-overhead.js';
import {
  consumerThroughput,
  type Throughput,
  type WalhookThroughput,
  walhookThroughput,
} from './throughput.js';
import { type Bench, snapshotBuild } from './walhook.js';
import { prepareDatabase } from './workload.js';

export interface SuiteOptions {
  runs: number;
  /** Inserts in the throughput backlog. */
  backlog: number;
  /** Events per POST of the batched throughput measures. */
  batches: number[];
  latencyRate: number;
  latencySec: number;
  memoryBacklog: number;
  /** Seconds the memory measure keeps going once reading has paused. */
  memorySec: number;
  bulkRows: number;
  loadSec: number;
  loadClients: number;
  generator: LoadGenerator;
  /** walhook's CPU seconds per 100,000 changes (100 per POST) in an earlier run, to compare against. */
  cpuBaseline?: number | undefined;
  /**
   * A build of an earlier walhook (a directory with bin/ and dist/, as `snapshotBuild` makes), measured
   * in every run right after the current one, 100 events per POST, so its CPU compares within the run.
   */
  baselineBuild?: string | undefined;
  /** Progress, one line per measure. */
  log: (line: string) => void;
}

export interface RunResult {
  counting: Throughput;
  /** pg-logical-replication decoding each change and `JSON.stringify` of each row. */
  decoding: Throughput;
  perPost: WalhookThroughput;
  /** A bare undici client POSTing bodies like walhook's one-per-POST ones to the same kind of receiver. */
  ceiling: HttpCeiling;
  /** One event per POST with the invocation log on: one row per event. */
  logged: Throughput;
  /** One event per POST, each request rendered by a typical request transform. */
  transformed: Throughput;
  /** By events per POST. */
  batched: Map<number, Throughput>;
  /** The build of `baselineBuild`, 100 events per POST; absent without one. */
  baseline?: Throughput;
  /** One persistent message per event to a RabbitMQ node on this machine, publisher confirms. */
  rabbitmq: Throughput;
  /** One XADD per event to a Redis on this machine. */
  redis: Throughput;
  latency: Latency;
  memory: Memory;
  source: SourceOverhead;
}

/** Events per POST of the baseline build's measure: the batch size the CPU targets are set at. */
export const BASELINE_BATCH = 100;

/**
 * Every measure once per run, the runs one after another rather than each measure `runs` times in
 * a row, so a noisy spell on a shared machine spreads over all of them.
 */
export async function runSuite(db: Database, options: SuiteOptions): Promise<RunResult[]> {
  await prepareDatabase(db);
  const build = await snapshotBuild();
  const rabbit = await startRabbit();
  const redis = await startRedis();
  try {
    return await runs({ db, build: build.dir }, { rabbit, redis }, options);
  } finally {
    await redis.stop();
    await rabbit.stop();
    await build.remove();
  }
}

async function runs(
  bench: Bench,
  { rabbit, redis }: { rabbit: Rabbit; redis: RedisBench },
  options: SuiteOptions,
): Promise<RunResult[]> {
  const { db } = bench;
  const { log } = options;
  const results: RunResult[] = [];
  for (let run = 0; run < options.runs; run++) {
    const step = async <T>(what: string, measure: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const result = await measure();
      log(`run ${run + 1}/${options.runs}: ${what} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
      return result;
    };
    const counting = await step('counting consumer', () =>
      consumerThroughput(db, 'counting', options.backlog, `counting_${run}`),
    );
    const decoding = await step('decoding consumer', () =>
      consumerThroughput(db, 'decoding', options.backlog, `decoding_${run}`),
    );
    const perPost = await step('walhook, 1 event per POST', () =>
      walhookThroughput(bench, options.backlog, 1, `per_post_${run}`),
    );
    // Right after walhook's, so the two meet the machine in the same state.
    const ceiling = await step('HTTP ceiling, bare undici client', () =>
      httpCeiling(perPost.sample, perPost.bodyBytes, options.backlog),
    );
    const logged = await step('walhook, 1 event per POST, invocation log on', () =>
      walhookThroughput(bench, options.backlog, 1, `logged_${run}`, { invocationLog: true }),
    );
    const transformed = await step('walhook, 1 event per POST, request transform', () =>
      walhookThroughput(bench, options.backlog, 1, `transformed_${run}`, { transform: true }),
    );
    const batched = new Map<number, Throughput>();
    for (const size of options.batches) {
      batched.set(
        size,
        await step(`walhook, ${size} events per POST`, () =>
          walhookThroughput(bench, options.backlog, size, `batch_${size}_${run}`),
        ),
      );
    }
    const { baselineBuild } = options;
    const baseline =
      baselineBuild === undefined
        ? undefined
        : await step(`walhook of ${baselineBuild}, ${BASELINE_BATCH} events per POST`, () =>
            walhookThroughput(
              { db, build: baselineBuild },
              options.backlog,
              BASELINE_BATCH,
              `baseline_${BASELINE_BATCH}_${run}`,
            ),
          );
    const rabbitmq = await step('walhook to RabbitMQ, confirms', () =>
      rabbitmqThroughput(bench, rabbit, options.backlog, `rabbitmq_${run}`),
    );
    const redisRate = await step('walhook to Redis Streams', () =>
      redisThroughput(bench, redis, options.backlog, `redis_${run}`),
    );
    const lat = await step('latency', () =>
      latency(bench, options.latencyRate, options.latencySec, `latency_${run}`),
    );
    const memory = await step('memory', () =>
      peakRss(bench, options.memoryBacklog, options.memorySec, `memory_${run}`),
    );
    const source = await step('source overhead', () =>
      sourceOverhead(bench, {
        bulkRows: options.bulkRows,
        loadSec: options.loadSec,
        clients: options.loadClients,
        generator: options.generator,
        slot: `source_${run}`,
      }),
    );
    results.push({
      counting,
      decoding,
      perPost,
      ceiling,
      logged,
      transformed,
      batched,
      ...(baseline && { baseline }),
      rabbitmq,
      redis: redisRate,
      latency: lat,
      memory,
      source,
    });
  }
  return results;
}
