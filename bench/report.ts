import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { Database } from '../test/helpers/database.js';
import { ROOT } from '../test/helpers/walhook.js';
import { CPU_PER, cpuPerChanges } from './cpu.js';
import { sourceRows } from './report-source.js';
import { fixed, integer, ms, seconds, Table } from './report-table.js';
import { BASELINE_BATCH, type RunResult, type SuiteOptions } from './suite.js';
import type { Throughput } from './throughput.js';

/** The targets each measure is reported against (pass or miss), as docs/benchmarks.md sets them out. */
const TARGETS = {
  perPostRate: 15_000,
  /** The batch size whose ratios to the counting consumer and the baseline have targets. */
  batch: BASELINE_BATCH,
  batchRatio: 0.7,
  /** walhook's CPU per change against the counting consumer's, at most. */
  cpuRatio: 2,
  /** walhook's CPU per change against `BENCH_CPU_BASELINE` or `BENCH_BASELINE_BUILD`'s, at most. */
  cpuBaselineRatio: 0.6,
  /** One event per POST against the HTTP ceiling, at least. */
  ceilingRatio: 0.8,
  p99Ms: 50,
  peakRssBytes: 150e6,
};

/** The commit dist/ was built from, and whether src/ differed from it: which walhook was measured. */
function build(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  try {
    const dirty = git('status', '--porcelain', 'src') === '' ? '' : ' with uncommitted changes in src/';
    return `walhook at ${git('rev-parse', '--short', 'HEAD')}${dirty}`;
  } catch {
    return 'walhook outside a git checkout';
  }
}

/** The commit a baseline build's checkout is at, as far as git tells. */
function baselineCommit(dir: string): string {
  try {
    return `commit ${execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()}`;
  } catch {
    return 'not a git checkout';
  }
}

/** One line on the machine and software, for the table's heading. */
export function describeMachine(db: Database): string {
  const cpu = cpus();
  const postgres = `${db.server.major}.${db.server.version % 10_000}`;
  return (
    `${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ` +
    `Linux ${release()}, Node ${process.version}, Postgres ${postgres} (embedded), ${build()}; ` +
    `load average ${loadavg()[0]?.toFixed(2)} at the start`
  );
}

const cpuPer = (t: Throughput) => cpuPerChanges(t.cpuSec, t.events);

/** Changes per second of walhook and of the two Node consumers, and the ratios between them. */
function throughputRows(table: Table, results: RunResult[], options: SuiteOptions): void {
  const values = (pick: (r: RunResult) => number) => results.map(pick);
  const perPost = { label: '1 event per POST', size: 1, pick: (r: RunResult) => r.perPost.rate };
  const batched = options.batches.map((size) => ({
    label: `${integer(size)} events per POST`,
    size,
    pick: (r: RunResult) => (r.batched.get(size) as Throughput).rate,
  }));
  table.add(`walhook, ${perPost.label} (changes/s)`, values(perPost.pick), integer, {
    text: `≥ ${integer(TARGETS.perPostRate)}`,
    pass: (m) => m >= TARGETS.perPostRate,
  });
  for (const { label, pick } of batched) table.add(`walhook, ${label} (changes/s)`, values(pick), integer);
  table.add(
    'walhook, 1 event per POST, invocation log on (changes/s)',
    values((r) => r.logged.rate),
    integer,
  );
  table.add(
    'invocation log on / off, 1 event per POST',
    values((r) => r.logged.rate / r.perPost.rate),
    fixed(2),
  );
  table.add(
    'walhook, 1 event per POST, request transform (changes/s)',
    values((r) => r.transformed.rate),
    integer,
  );
  table.add(
    'request transform / none, 1 event per POST',
    values((r) => r.transformed.rate / r.perPost.rate),
    fixed(2),
  );
  table.add(
    'walhook to RabbitMQ, publisher confirms, broker on this machine (changes/s)',
    values((r) => r.rabbitmq.rate),
    integer,
  );
  table.add(
    'walhook to Redis Streams, one XADD per event, Redis on this machine (changes/s)',
    values((r) => r.redis.rate),
    integer,
  );
  table.add(
    'counting consumer (changes/s)',
    values((r) => r.counting.rate),
    integer,
  );
  for (const { label, pick, size } of [perPost, ...batched]) {
    table.add(
      `walhook / counting consumer, ${label}`,
      values((r) => pick(r) / r.counting.rate),
      fixed(2),
      size === TARGETS.batch
        ? { text: `≥ ${TARGETS.batchRatio.toFixed(2)}`, pass: (m) => m >= TARGETS.batchRatio }
        : undefined,
    );
  }
  table.add(
    'decoding consumer (changes/s)',
    values((r) => r.decoding.rate),
    integer,
  );
  const batch = `${integer(TARGETS.batch)} events per POST`;
  table.add(
    `walhook / decoding consumer, ${batch}`,
    values((r) => (r.batched.get(TARGETS.batch) as Throughput).rate / r.decoding.rate),
    fixed(2),
  );
  table.add(
    'HTTP ceiling: bare undici client, 1 event per POST (requests/s)',
    values((r) => r.ceiling.rate),
    integer,
  );
  table.add(
    'walhook / HTTP ceiling, 1 event per POST',
    values((r) => r.perPost.rate / r.ceiling.rate),
    fixed(2),
    {
      text: `≥ ${TARGETS.ceilingRatio.toFixed(2)}`,
      pass: (m) => m >= TARGETS.ceilingRatio,
    },
  );
}

/** Process CPU per 100,000 changes over a backlog's drain, and walhook's against the counting consumer's. */
function cpuRows(table: Table, results: RunResult[], options: SuiteOptions): void {
  const per = `per ${integer(CPU_PER)} changes`;
  const batch = `${integer(TARGETS.batch)} events per POST`;
  const walhook = (r: RunResult) => cpuPer(r.batched.get(TARGETS.batch) as Throughput);
  table.add(`walhook CPU ${per}, ${batch}`, results.map(walhook), seconds);
  table.add(
    `walhook CPU ${per}, 1 event per POST`,
    results.map((r) => cpuPer(r.perPost)),
    seconds,
  );
  table.add(
    `counting consumer CPU ${per}`,
    results.map((r) => cpuPer(r.counting)),
    seconds,
  );
  table.add(
    `decoding consumer CPU ${per}`,
    results.map((r) => cpuPer(r.decoding)),
    seconds,
  );
  table.add(
    `walhook / counting consumer, CPU per change, ${batch}`,
    results.map((r) => walhook(r) / cpuPer(r.counting)),
    fixed(2),
    { text: `≤ ${TARGETS.cpuRatio.toFixed(2)}`, pass: (m) => m <= TARGETS.cpuRatio },
  );
  const baseline = options.cpuBaseline;
  if (baseline !== undefined) {
    table.add(
      `walhook CPU per change / BENCH_CPU_BASELINE (${seconds(baseline)} ${per}), ${batch}`,
      results.map((r) => walhook(r) / baseline),
      fixed(2),
      { text: `≤ ${TARGETS.cpuBaselineRatio.toFixed(2)}`, pass: (m) => m <= TARGETS.cpuBaselineRatio },
    );
  }
  const measured = results.every((r) => r.baseline !== undefined);
  if (measured && options.baselineBuild !== undefined) {
    const earlier = (r: RunResult) => cpuPer(r.baseline as Throughput);
    table.add(`baseline build CPU ${per}, ${batch}`, results.map(earlier), seconds);
    table.add(
      `walhook CPU per change / baseline build's, ${batch}`,
      results.map((r) => walhook(r) / earlier(r)),
      fixed(2),
      { text: `≤ ${TARGETS.cpuBaselineRatio.toFixed(2)}`, pass: (m) => m <= TARGETS.cpuBaselineRatio },
    );
  }
}

/**
 * The results as one markdown table: medians of the runs, and every run's own figure. A ratio or
 * a change against no capture is the median of each run's own ratio: both sides of it were
 * measured minutes apart, so a noisy spell on the machine weighs on them alike.
 */
export function renderReport(results: RunResult[], options: SuiteOptions, machine: string): string {
  const table = new Table();
  const each = (pick: (r: RunResult) => number, format: (n: number) => string) =>
    results.map((r) => format(pick(r))).join(' · ');

  throughputRows(table, results, options);
  cpuRows(table, results, options);

  const at = `at ${integer(options.latencyRate)} changes/s`;
  table.add(
    `latency p50 ${at}, commit to receiver`,
    results.map((r) => r.latency.p50),
    ms,
  );
  table.add(
    `latency p99 ${at}`,
    results.map((r) => r.latency.p99),
    ms,
    {
      text: `< ${TARGETS.p99Ms} ms`,
      pass: (m) => m < TARGETS.p99Ms,
    },
  );
  table.add(
    `latency max ${at}`,
    results.map((r) => r.latency.max),
    ms,
  );

  table.add(
    `peak RSS, ${integer(options.memoryBacklog)}-change backlog, receiver answering after 1 s`,
    results.map((r) => r.memory.peakMiB),
    (n) => `${n.toFixed(0)} MiB`,
    {
      text: `< 150 MB (${(TARGETS.peakRssBytes / 2 ** 20).toFixed(0)} MiB)`,
      pass: (m) => m * 2 ** 20 < TARGETS.peakRssBytes,
    },
  );

  sourceRows(table, results, options);

  const notes = [
    `- Throughput: a backlog of ${integer(options.backlog)} inserts in one transaction (6 columns), timed from the moment a walsender holds the slot to the last change received; that includes Postgres decoding the whole transaction before it sends the first change (first change after ${each((r) => r.counting.firstSec, seconds)} for the counting consumer, ${each((r) => r.perPost.firstSec, seconds)} for walhook one per POST). The receiver shares this machine and answers 200 at once; batched bodies are parsed to count their events.`,
    `- CPU: user + system over the same drain, from the moment the slot is seen taken to the last change received; walhook's from /proc/PID/stat (${each((r) => (r.batched.get(TARGETS.batch) as Throughput).cpuSec, seconds)} for ${integer(TARGETS.batch)} per POST), the consumers' from \`process.cpuUsage()\` of the bench process, which does nothing else meanwhile (counting ${each((r) => r.counting.cpuSec, seconds)}).`,
    ...(options.baselineBuild === undefined
      ? []
      : [
          `- Baseline build: ${options.baselineBuild} (${baselineCommit(options.baselineBuild)}), measured in each run right after walhook's ${integer(TARGETS.batch)} per POST, on the same backlog (${each((r) => r.baseline?.cpuSec ?? 0, seconds)} of CPU, ${each((r) => r.baseline?.rate ?? 0, integer)} changes/s).`,
        ]),
    `- HTTP ceiling: a bare undici client in its own process, ${each((r) => r.ceiling.requests, integer)} POSTs of ${each((r) => r.ceiling.bodyBytes, integer)} bytes (walhook's first body, padded to its mean size, with its headers), as many in flight as walhook's default \`concurrency\`, to a receiver like walhook's.`,
    `- Latency: a writer commits what is due every ~5 ms for ${options.latencySec} s (achieved ${each((r) => r.latency.rate, integer)} changes/s, ${each((r) => r.latency.events, integer)} events); one event per POST; arrival time minus \`created_at\` (the commit time).`,
    `- Memory: walhook paused reading at its in-flight limit ${each(
      (r) => r.memory.pausedAfterSec,
      (n) => n.toFixed(0),
    )} s after start and was watched ${options.memorySec} s more (${each((r) => r.memory.delivered, integer)} delivered, ${each((r) => r.memory.inFlight, integer)} in flight at the end).`,
    `- Source overhead: ${options.generator.name}, ${options.loadClients} clients for ${options.loadSec} s. The consumers received everything ${each(
      (r) => r.source.slot.catchUpSec,
      (n) => n.toFixed(1),
    )} s (counting consumer) and ${each(
      (r) => r.source.walhook.catchUpSec,
      (n) => n.toFixed(1),
    )} s (walhook) after the load ended. walhook, its receiver and the load generator share the machine's cores with Postgres.`,
  ];
  return [
    `machine: ${machine}`,
    `${results.length} run${results.length === 1 ? '' : 's'}; medians, and each run's figure in order`,
    '',
    ...table.lines(),
    '',
    ...notes,
    '',
  ].join('\n');
}
