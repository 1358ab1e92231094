import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { describeMachine, renderReport } from '../../bench/report.js';
import { findLoadGenerator, nodeLoadGenerator } from '../../bench/source-overhead.js';
import { runSuite } from '../../bench/suite.js';
import { INVOCATION_LOG_TABLE, snapshotBuild } from '../../bench/walhook.js';
import { COLUMNS } from '../../bench/workload.js';
import { type Database, startDatabase } from '../helpers/database.js';

/**
 * `npm run bench` at sizes that take seconds: every measure runs and reports sane figures. Timing
 * is never asserted here; the targets are for the full run on a known machine.
 */
const SIZES = {
  runs: 1,
  backlog: 2_000,
  batches: [100, 1_000],
  latencyRate: 200,
  latencySec: 3,
  // Past walhook's default in-flight limit (10,000 events), so reading pauses.
  memoryBacklog: 12_000,
  memorySec: 1,
  bulkRows: 2_000,
  loadSec: 2,
  loadClients: 4,
};

let db: Database;

before(async () => {
  db = await startDatabase('bench_smoke');
});

after(async () => {
  await db?.close();
});

/** Every number in a result, with its path, Map entries included. */
function figures(value: unknown, path = 'result'): [string, number][] {
  if (typeof value === 'number') return [[path, value]];
  if (value instanceof Map) return [...value].flatMap(([key, v]) => figures(v, `${path}[${key}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, v]) => figures(v, `${path}.${key}`));
  }
  return [];
}

test('the benchmark suite runs every measure at tiny sizes and reports finite, positive figures', async (t) => {
  const generator = await findLoadGenerator();
  // The current build stands in for an earlier one: what matters here is that it is measured and reported.
  const baseline = await snapshotBuild();
  t.after(() => baseline.remove());
  const options = {
    ...SIZES,
    generator,
    baselineBuild: baseline.dir,
    log: (line: string) => t.diagnostic(line),
  };
  const results = await runSuite(db, options);
  assert.equal(results.length, 1);
  const [result] = results;
  assert.ok(result);

  const numbers = figures(result);
  assert.ok(numbers.length >= 20, `${numbers.length} figures`);
  for (const [path, n] of numbers) {
    // A tiny backlog can reach the consumer before polling sees the slot taken: zero seconds then.
    const positive = path.endsWith('.firstSec') ? n >= 0 : n > 0;
    assert.ok(Number.isFinite(n) && positive, `${path} = ${n}`);
  }

  assert.equal(result.counting.events, SIZES.backlog, 'the counting consumer saw every insert');
  assert.equal(result.decoding.events, SIZES.backlog, 'the decoding consumer saw every insert');
  assert.equal(result.ceiling.requests, SIZES.backlog, 'the HTTP ceiling: every request counted once');
  // The figures the CPU and ceiling rows are made of (all also checked positive above).
  for (const [what, n] of [
    ['counting consumer CPU', result.counting.cpuSec],
    ['decoding consumer CPU', result.decoding.cpuSec],
    ['walhook CPU, 100 per POST', result.batched.get(100)?.cpuSec],
    ['walhook CPU, 1 per POST', result.perPost.cpuSec],
    ['HTTP ceiling rate', result.ceiling.rate],
    ['walhook body bytes', result.perPost.bodyBytes],
  ] as const) {
    assert.ok(n !== undefined && Number.isFinite(n) && n > 0, `${what} = ${n}`);
  }
  // Padded to walhook's mean; only a first body longer than the mean would stay longer.
  assert.ok(
    result.ceiling.bodyBytes >= Math.round(result.perPost.bodyBytes),
    `ceiling bodies of ${result.ceiling.bodyBytes} bytes, walhook's ${result.perPost.bodyBytes} on average`,
  );
  assert.equal(result.perPost.events, SIZES.backlog, 'one event per POST: every event counted once');
  assert.equal(result.baseline?.events, SIZES.backlog, 'the baseline build: every event counted once');
  assert.equal(result.logged.events, SIZES.backlog, 'invocation log on: every event counted once');
  assert.equal(result.transformed.events, SIZES.backlog, 'request transform: every event counted once');
  assert.ok(result.rabbitmq.events >= SIZES.backlog, 'RabbitMQ: every event, once or more');
  assert.ok(result.redis.events >= SIZES.backlog, 'Redis: every event, once or more');
  const logged = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${INVOCATION_LOG_TABLE}`);
  // The last attempts may still be in flight when the measure stops walhook: not all need be there.
  assert.ok((logged.rows[0]?.n ?? 0) > 0, 'the measure with the log on wrote it');
  for (const size of SIZES.batches) {
    assert.equal(
      result.batched.get(size)?.events,
      SIZES.backlog,
      `${size} per POST: every event counted once`,
    );
  }
  assert.ok(result.latency.p50 <= result.latency.p99 && result.latency.p99 <= result.latency.max);
  assert.ok(
    result.latency.events >= SIZES.latencyRate * (SIZES.latencySec - 1),
    `${result.latency.events} latency samples`,
  );
  assert.ok(result.memory.inFlight > 0, 'events were still held when the memory measure ended');

  const report = renderReport(results, { ...options, cpuBaseline: 1 }, describeMachine(db));
  for (const line of report.split('\n')) t.diagnostic(line);
  assert.doesNotMatch(report, /NaN|Infinity|undefined/);
  const rows = report.split('\n').filter((line) => line.startsWith('| '));
  // The heading; three throughputs; one per POST with the invocation log on and with a request
  // transform, each with its ratio to neither; walhook to RabbitMQ and to Redis; the counting consumer and a ratio to it for each
  // throughput; the decoding consumer and walhook's ratio to it; the HTTP ceiling and its ratio; CPU
  // of walhook (100 and 1 per POST) and both consumers, the CPU ratio and the one to the baseline figure;
  // the baseline build's CPU and walhook's ratio to it;
  // three latencies; memory; per source setup a bulk time and a TPS, each with its change against no
  // capture; walhook's TPS loss against the counting consumer's and the trigger's.
  assert.equal(rows.length, 1 + 3 + 2 + 2 + 2 + 1 + 3 + 2 + 2 + 4 + 2 + 2 + 3 + 1 + (5 + 4) * 2 + 2, report);
  // Every target of issue 21 has its verdict.
  for (const target of [
    /walhook \/ counting consumer, 100 events per POST \|[^|]+\|[^|]+\| ≥ 0\.70 \| (pass|\*\*miss\*\*) \|/,
    /walhook \/ HTTP ceiling, 1 event per POST \|[^|]+\|[^|]+\| ≥ 0\.80 \| (pass|\*\*miss\*\*) \|/,
    /walhook \/ counting consumer, CPU per change, 100 events per POST \|[^|]+\|[^|]+\| ≤ 2\.00 \| (pass|\*\*miss\*\*) \|/,
    /BENCH_CPU_BASELINE \(1\.00 s per 100,000 changes\), 100 events per POST \|[^|]+\|[^|]+\| ≤ 0\.60 \| (pass|\*\*miss\*\*) \|/,
    /walhook CPU per change \/ baseline build's, 100 events per POST \|[^|]+\|[^|]+\| ≤ 0\.60 \| (pass|\*\*miss\*\*) \|/,
    /TPS loss, walhook streaming minus counting consumer \|[^|]+\|[^|]+\| ≤ \+5\.0 points \| (pass|\*\*miss\*\*) \|/,
    /TPS loss, walhook streaming minus event-log trigger \|[^|]+\|[^|]+\| < 0 points \| (pass|\*\*miss\*\*) \|/,
    /latency p99 [^|]+\|[^|]+\|[^|]+\| < 50 ms \| (pass|\*\*miss\*\*) \|/,
    /peak RSS[^|]+\|[^|]+\|[^|]+\| < 150 MB[^|]+\| (pass|\*\*miss\*\*) \|/,
  ]) {
    assert.match(report, target);
  }
});

test('the Node load generator, used where there is no pgbench, commits single-row inserts', async () => {
  await db.query(`CREATE TABLE node_load (${COLUMNS})`);
  const tps = await nodeLoadGenerator.run(db.url, 'node_load', 2, 1);
  const { n } = (await db.query<{ n: string }>('SELECT count(*) AS n FROM node_load')).rows[0] ?? { n: '0' };
  assert.ok(tps > 0 && Number(n) > 0, `${tps} TPS, ${n} rows`);
});
