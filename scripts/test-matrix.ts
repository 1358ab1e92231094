/**
 * Runs the unit tests once, then the integration tests that depend on the Postgres version (all but
 * VERSION_INDEPENDENT) once per version, one version after another (each run starts its own servers;
 * in parallel they would compete for the same two cores), and prints a table. Exits 1 if any run had a failure.
 *
 *   npm run test:matrix                                   unit tests, then 14 15 16 17 18 system
 *   npm run test:matrix -- 14 18                          only these versions
 *   npm run test:matrix -- --no-unit 16 test/integration/payload.test.ts
 *
 * Each run's spec output goes to the console and to .tmp/test-matrix/<run>.log. The integration runs
 * set WALHOOK_LARGE_TX_ROWS=200000 unless it is set already (see LARGE_TX_ROWS).
 * `npm run test:matrix` builds dist/ first (some integration tests run the compiled CLI); run the
 * script directly (node --import tsx scripts/test-matrix.ts) to skip that.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  POSTGRES_CHOICES,
  type PostgresChoice,
  systemPostgresBinDir,
} from '../test/helpers/embedded-postgres.js';

const ROOT = resolve(import.meta.dirname, '..');
const LOGS = join(ROOT, '.tmp', 'test-matrix');
/** The same runner flags as `npm test`. */
const NODE_TEST = ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000'];

interface Run {
  name: string;
  postgres: string;
  env: NodeJS.ProcessEnv;
  files: string[];
}

interface Result {
  run: Run;
  code: number | null;
  counts: Record<'tests' | 'pass' | 'fail' | 'cancelled' | 'skipped' | 'todo', number> | null;
  failures: string[];
  seconds: number;
}

function testFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir))
    .filter((name) => name.endsWith('.test.ts'))
    .sort()
    .map((name) => join(dir, name));
}

/** The exact server version a choice runs, for the table: the package's, or the installed server's. */
function postgresVersion(choice: PostgresChoice): string {
  try {
    if (choice === 'system') {
      const bin = systemPostgresBinDir();
      const output = execFileSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8' });
      return `${/\(PostgreSQL\) (\S+)/.exec(output)?.[1] ?? '?'} (${bin})`;
    }
    const name =
      choice === '17'
        ? 'embedded-postgres'
        : choice === '14'
          ? 'postgres-binaries-14'
          : `embedded-postgres-${choice}`;
    const manifest = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'));
    return String(manifest.version).replace(/^(\d+\.\d+).*/, '$1');
  } catch {
    return 'not installed';
  }
}

/** `# pass 12` and the like, from the end of a TAP stream. */
function tapSummary(tap: string): Result['counts'] {
  const value = (key: string) => {
    const match = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tap);
    return match ? Number(match[1]) : null;
  };
  const tests = value('tests');
  if (tests === null) return null;
  return {
    tests,
    pass: value('pass') ?? 0,
    fail: value('fail') ?? 0,
    cancelled: value('cancelled') ?? 0,
    skipped: value('skipped') ?? 0,
    todo: value('todo') ?? 0,
  };
}

/** The names of failed tests (a failed file is reported as a test named by its path). */
function tapFailures(tap: string): string[] {
  return [...tap.matchAll(/^( *)not ok \d+ - (.*)$/gm)].map(
    ([, indent = '', name = '']) => `${' '.repeat(indent.length / 2)}${name}`,
  );
}

async function execute(run: Run): Promise<Result> {
  const log = join(LOGS, `${run.name}.log`);
  const tapFile = join(LOGS, `${run.name}.tap`);
  process.stdout.write(
    `\n━━ ${run.name}: ${run.files.length} files, Postgres ${run.postgres} (log: ${log})\n`,
  );
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      ...NODE_TEST,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tapFile}`,
      ...run.files,
    ],
    { cwd: ROOT, env: run.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logStream = createWriteStream(log);
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      logStream.write(chunk);
    });
  }
  const [code] = (await once(child, 'close')) as [number | null];
  logStream.end();
  const seconds = (performance.now() - started) / 1000;
  const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
  return { run, code, counts: tapSummary(tap), failures: tapFailures(tap), seconds };
}

function failed(result: Result): boolean {
  return result.code !== 0 || !result.counts || result.counts.fail > 0 || result.counts.cancelled > 0;
}

function table(results: Result[]): string {
  const header = [
    'run',
    'Postgres',
    'tests',
    'passed',
    'failed',
    'cancelled',
    'skipped',
    'duration',
    'result',
  ];
  const rows = results.map((r) => [
    r.run.name,
    r.run.postgres,
    String(r.counts?.tests ?? '?'),
    String(r.counts?.pass ?? '?'),
    String(r.counts?.fail ?? '?'),
    String(r.counts?.cancelled ?? '?'),
    String((r.counts?.skipped ?? 0) + (r.counts?.todo ?? 0)),
    `${Math.floor(r.seconds / 60)}m${String(Math.round(r.seconds % 60)).padStart(2, '0')}s`,
    failed(r) ? `FAIL${r.counts ? '' : ` (exit ${r.code}, no summary)`}` : 'ok',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

function parseArgs(argv: string[]) {
  let unit = true;
  const versions: PostgresChoice[] = [];
  const files: string[] = [];
  for (const arg of argv) {
    if (arg === '--no-unit') unit = false;
    else if ((POSTGRES_CHOICES as readonly string[]).includes(arg)) versions.push(arg as PostgresChoice);
    else if (arg.endsWith('.ts') && existsSync(resolve(ROOT, arg))) files.push(arg);
    else {
      process.stderr.write(
        `test-matrix: unknown argument ${arg}\nusage: test-matrix [--no-unit] [${POSTGRES_CHOICES.join('|')} ...] [test files ...]\n`,
      );
      process.exit(2);
    }
  }
  return { unit, versions: versions.length ? versions : [...POSTGRES_CHOICES], files };
}

const options = parseArgs(process.argv.slice(2));
await mkdir(LOGS, { recursive: true });
const baseEnv = { ...process.env };
delete baseEnv.WALHOOK_TEST_PG;
/**
 * large-transaction.test.ts streams 2,000,000 rows by default, minutes of a run that shows nothing
 * version-specific past the first few thousand; `npm test` keeps the full size, the matrix a smaller one.
 */
const LARGE_TX_ROWS = process.env.WALHOOK_LARGE_TX_ROWS ?? '200000';

/**
 * Integration files in which Postgres is only where the events come from: HTTP and broker delivery, the
 * CLI's parsing and output, deploy files, docs, the console. The version matrix leaves them out (`npm
 * test` runs them on 17); naming a file runs it on every version anyway. A file not listed here runs on
 * every version, so a new test is in the matrix unless someone decides otherwise.
 */
const VERSION_INDEPENDENT = [
  'admin-api',
  'batching',
  'bench-smoke',
  'cli-output',
  'cli',
  'config-fuzz-cli',
  'console-actions',
  'console-api',
  'console',
  'dead-letter-last-error',
  'delivery',
  'demo',
  'deploy',
  'dlq-cli',
  'docs-examples',
  'fault-backpressure',
  'fault-chaos-receiver',
  'fault-dead-letters',
  'hasura-import',
  'hostile-receivers',
  'install',
  'logs',
  'metadata-api',
  'nats-cluster',
  'nats-dead-letters',
  'nats-sink',
  'observability',
  'rabbitmq-cluster',
  'rabbitmq-sink',
  'redeliver-logged',
  'redis-failover',
  'redis-sink',
  'request-transform',
  'secrets',
  'signing',
  'trigger-in-flight',
  'webhook-sink-batch',
  'webhook-sink',
  'webhook-tls',
].map((name) => `test/integration/${name}.test.ts`);

function versionDependentFiles(): string[] {
  const all = testFiles('test/integration');
  const stale = VERSION_INDEPENDENT.filter((file) => !all.includes(file));
  if (stale.length > 0) {
    process.stderr.write(`test-matrix: VERSION_INDEPENDENT names missing files: ${stale.join(', ')}\n`);
    process.exit(2);
  }
  return all.filter((file) => !VERSION_INDEPENDENT.includes(file));
}

const runs: Run[] = [];
if (options.unit) runs.push({ name: 'unit', postgres: '-', env: baseEnv, files: testFiles('test/unit') });
for (const version of options.versions) {
  runs.push({
    name: `pg-${version}`,
    postgres: postgresVersion(version),
    env: { ...baseEnv, WALHOOK_TEST_PG: version, WALHOOK_LARGE_TX_ROWS: LARGE_TX_ROWS },
    files: options.files.length ? options.files : versionDependentFiles(),
  });
}

const results: Result[] = [];
for (const run of runs) results.push(await execute(run));

process.stdout.write(`\n${table(results)}\n`);
for (const result of results.filter(failed)) {
  process.stdout.write(
    `\n${result.run.name} failures (full output in .tmp/test-matrix/${result.run.name}.log):\n`,
  );
  for (const name of result.failures) process.stdout.write(`  ✖ ${name}\n`);
}
process.exitCode = results.some(failed) ? 1 : 0;
