/**
 * `npm run bench`: walhook's throughput (one event per POST and batched, and publishing to a RabbitMQ node
 * of Debian's rabbitmq-server on this machine) and CPU per change against a counting and a decoding
 * pgoutput consumer and a bare HTTP client, its latency at a steady rate, its
 * peak memory under backpressure, and what capture costs the source next to an event-log trigger. Progress goes to stderr; stdout gets one markdown
 * table for docs/benchmarks.md. Not part of `npm test` (test/integration/bench-smoke.test.ts is).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startDatabase } from '../test/helpers/database.js';
import { describeMachine, renderReport } from './report.js';
import { findLoadGenerator } from './source-overhead.js';
import { runSuite } from './suite.js';

function knob(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}=${text}: expected a positive integer`);
  return value;
}

/** A positive number, or undefined when unset: a figure from an earlier run to compare against. */
function figure(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${text}: expected a positive number`);
  return value;
}

/** A directory holding an earlier walhook's build, or undefined when unset. */
function buildDir(name: string): string | undefined {
  const dir = process.env[name];
  if (dir === undefined || dir === '') return undefined;
  if (!existsSync(join(dir, 'bin/walhook.js')) || !existsSync(join(dir, 'dist/cli.js'))) {
    throw new Error(
      `${name}=${dir}: expected a built checkout (bin/walhook.js and dist/cli.js); run npm run build there`,
    );
  }
  return dir;
}

const options = {
  runs: knob('BENCH_RUNS', 3),
  backlog: knob('BENCH_BACKLOG', 200_000),
  batches: [100, 1_000],
  latencyRate: knob('BENCH_LATENCY_RATE', 2_000),
  latencySec: knob('BENCH_LATENCY_SEC', 60),
  memoryBacklog: knob('BENCH_MEMORY_BACKLOG', 1_000_000),
  memorySec: knob('BENCH_MEMORY_SEC', 30),
  bulkRows: knob('BENCH_BULK_ROWS', 200_000),
  loadSec: knob('BENCH_LOAD_SEC', 20),
  loadClients: knob('BENCH_LOAD_CLIENTS', 4),
  generator: await findLoadGenerator(),
  cpuBaseline: figure('BENCH_CPU_BASELINE'),
  baselineBuild: buildDir('BENCH_BASELINE_BUILD'),
  log: (line: string) => process.stderr.write(`${line}\n`),
};

const db = await startDatabase('bench');
try {
  const machine = describeMachine(db);
  const results = await runSuite(db, options);
  process.stdout.write(`\n${renderReport(results, options, machine)}`);
} finally {
  await db.close();
}
