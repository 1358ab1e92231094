import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { Database } from '../test/helpers/database.js';
import { ROOT } from '../test/helpers/walhook.js';
import type { RunResult, SuiteOptions } from './suite.js';
import type { Throughput } from './throughput.js';

/** The targets each measure is reported against (pass or miss), as docs/benchmarks.md sets them out. */
const TARGETS = {
  perPostRate: 15_000,
  /** The batch size whose ratio to the counting consumer has a target. */
  batch: 100,
  batchRatio: 0.7,
  p99Ms: 50,
  peakRssBytes: 150e6,
  streamingSlowdown: 0.05,
};

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

const integer = (n: number) => Math.round(n).toLocaleString('en');
const fixed = (digits: number) => (n: number) => n.toFixed(digits);
const percent = (n: number) => `${n >= 0 ? '+' : '−'}${Math.abs(n * 100).toFixed(1)}%`;
const verdict = (pass: boolean) => (pass ? 'pass' : '**miss**');

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

interface Row {
  measure: string;
  median: string;
  runs: string;
  target?: string;
  result?: string;
}

/**
 * The results as one markdown table: medians of the runs, and every run's own figure. A ratio or
 * a change against no capture is the median of each run's own ratio: both sides of it were
 * measured minutes apart, so a noisy spell on the machine weighs on them alike.
 */
export function renderReport(results: RunResult[], options: SuiteOptions, machine: string): string {
  const rows: Row[] = [];
  const add = (
    measure: string,
    values: number[],
    format: (n: number) => string,
    target?: { text: string; pass: (median: number) => boolean },
  ) => {
    const m = median(values);
    rows.push({
      measure,
      median: format(m),
      runs: values.map(format).join(' · '),
      ...(target ? { target: target.text, result: verdict(target.pass(m)) } : {}),
    });
  };
  const each = (pick: (r: RunResult) => number, format: (n: number) => string) =>
    results.map((r) => format(pick(r))).join(' · ');

  const perPost = { label: '1 event per POST', size: 1, pick: (r: RunResult) => r.perPost.rate };
  const batched = options.batches.map((size) => ({
    label: `${integer(size)} events per POST`,
    size,
    pick: (r: RunResult) => (r.batched.get(size) as Throughput).rate,
  }));
  add(`walhook, ${perPost.label} (changes/s)`, results.map(perPost.pick), integer, {
    text: `≥ ${integer(TARGETS.perPostRate)}`,
    pass: (m) => m >= TARGETS.perPostRate,
  });
  for (const { label, pick } of batched) add(`walhook, ${label} (changes/s)`, results.map(pick), integer);
  add(
    'walhook, 1 event per POST, invocation log on (changes/s)',
    results.map((r) => r.logged.rate),
    integer,
  );
  add(
    'invocation log on / off, 1 event per POST',
    results.map((r) => r.logged.rate / r.perPost.rate),
    fixed(2),
  );
  add(
    'walhook, 1 event per POST, request transform (changes/s)',
    results.map((r) => r.transformed.rate),
    integer,
  );
  add(
    'request transform / none, 1 event per POST',
    results.map((r) => r.transformed.rate / r.perPost.rate),
    fixed(2),
  );
  add(
    'counting consumer (changes/s)',
    results.map((r) => r.counting.rate),
    integer,
  );
  for (const { label, pick, size } of [perPost, ...batched]) {
    add(
      `walhook / counting consumer, ${label}`,
      results.map((r) => pick(r) / r.counting.rate),
      fixed(2),
      size === TARGETS.batch
        ? { text: `≥ ${TARGETS.batchRatio.toFixed(2)}`, pass: (m) => m >= TARGETS.batchRatio }
        : undefined,
    );
  }

  const ms = (n: number) => `${n.toFixed(1)} ms`;
  const at = `at ${integer(options.latencyRate)} changes/s`;
  add(
    `latency p50 ${at}, commit to receiver`,
    results.map((r) => r.latency.p50),
    ms,
  );
  add(
    `latency p99 ${at}`,
    results.map((r) => r.latency.p99),
    ms,
    {
      text: `< ${TARGETS.p99Ms} ms`,
      pass: (m) => m < TARGETS.p99Ms,
    },
  );
  add(
    `latency max ${at}`,
    results.map((r) => r.latency.max),
    ms,
  );

  add(
    `peak RSS, ${integer(options.memoryBacklog)}-change backlog, receiver answering after 1 s`,
    results.map((r) => r.memory.peakMiB),
    (n) => `${n.toFixed(0)} MiB`,
    {
      text: `< 150 MB (${(TARGETS.peakRssBytes / 2 ** 20).toFixed(0)} MiB)`,
      pass: (m) => m * 2 ** 20 < TARGETS.peakRssBytes,
    },
  );

  const setups = [
    ['no capture', 'none'],
    ['slot read by the counting consumer', 'slot'],
    ['walhook streaming', 'walhook'],
    ['event-log trigger', 'trigger'],
    ['session capture trigger (hasura.user set)', 'session'],
  ] as const;
  const seconds = (n: number) => `${n.toFixed(2)} s`;
  for (const [label, setup] of setups) {
    add(
      `bulk insert of ${integer(options.bulkRows)} rows, ${label}`,
      results.map((r) => r.source[setup].bulkSec),
      seconds,
    );
  }
  for (const [label, setup] of setups.slice(1)) {
    add(
      `bulk insert time vs no capture, ${label}`,
      results.map((r) => r.source[setup].bulkSec / r.source.none.bulkSec - 1),
      percent,
    );
  }
  const load = `${options.loadClients} clients of single-row inserts`;
  for (const [label, setup] of setups) {
    add(
      `${load}, ${label} (TPS)`,
      results.map((r) => r.source[setup].tps),
      integer,
    );
  }
  for (const [label, setup] of setups.slice(1)) {
    add(
      `TPS vs no capture, ${label}`,
      results.map((r) => r.source[setup].tps / r.source.none.tps - 1),
      percent,
      setup === 'walhook'
        ? {
            text: `slowdown < ${TARGETS.streamingSlowdown * 100}%`,
            pass: (m) => -m < TARGETS.streamingSlowdown,
          }
        : undefined,
    );
  }

  const table = [
    '| measure | median | runs | target | result |',
    '|---|--:|--:|---|---|',
    ...rows.map((r) => `| ${r.measure} | ${r.median} | ${r.runs} | ${r.target ?? ''} | ${r.result ?? ''} |`),
  ];
  const notes = [
    `- Throughput: a backlog of ${integer(options.backlog)} inserts in one transaction (6 columns), timed from the moment a walsender holds the slot to the last change received; that includes Postgres decoding the whole transaction before it sends the first change (first change after ${each((r) => r.counting.firstSec, seconds)} for the counting consumer, ${each((r) => r.perPost.firstSec, seconds)} for walhook one per POST). The receiver shares this machine and answers 200 at once; batched bodies are parsed to count their events.`,
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
    ...table,
    '',
    ...notes,
    '',
  ].join('\n');
}
