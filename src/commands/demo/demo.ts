import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import pg from 'pg';
import { freePort, loadEmbeddedPostgres, startDemoPostgres } from './embedded-postgres.js';
import { jsonValueText } from './json-text.js';
import type { PostgresServer } from './postgres-server.js';
import { type ReceivedEvent, startReceiver } from './receiver.js';

const say = (line: string) => process.stdout.write(`${line}\n`);
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** What the demo has started, so that a stop at any moment stops and removes exactly that. */
interface Started {
  binDir: string;
  dir: string;
  stopping: boolean;
  postgres?: Promise<PostgresServer>;
  db?: pg.Client;
  receiver?: Awaited<ReturnType<typeof startReceiver>>;
  walhook?: ChildProcess;
}

/**
 * `walhook demo`: an embedded Postgres, a receiver and walhook itself (as a child process, exactly
 * as `walhook run` runs), some writes, a stop and a restart that delivers what was written meanwhile.
 * Ctrl-C stops it at any point and removes everything it made; a second Ctrl-C stops it at once.
 */
export async function runDemo(options: { follow: boolean }): Promise<number> {
  const binDir = await loadEmbeddedPostgres();
  const started: Started = { binDir, dir: await mkdtemp(join(tmpdir(), 'walhook-demo-')), stopping: false };
  // As root, Postgres runs as the `postgres` OS user, which keeps its data in here.
  await chmod(started.dir, 0o755);
  let signalled: NodeJS.Signals | undefined;
  let interrupt = () => {};
  const interrupted = new Promise<void>((resolve) => {
    interrupt = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      say('• stopping at once');
      void stopNow(started).finally(() => process.exit(128 + constants.signals[signal]));
      return;
    }
    signalled = signal;
    say(`• ${signal}: stopping walhook and Postgres, removing ${started.dir} (again to stop at once) …`);
    interrupt();
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  say(`• working in ${started.dir}; the demo removes it when it ends`);
  let following = false;
  try {
    const demo = showDemo(started, options.follow ? interrupted : null, () => {
      following = true;
    });
    // Once interrupted, the steps still under way fail as what they use goes away.
    demo.catch(() => {});
    await Promise.race([demo, interrupted]);
    return signalled && !following ? 128 + constants.signals[signalled] : 0;
  } finally {
    await stopAll(started);
    for (const signal of SIGNALS) process.off(signal, onSignal);
  }
}

async function showDemo(started: Started, follow: Promise<void> | null, following: () => void) {
  say('• starting an embedded Postgres with wal_level=logical …');
  started.postgres = startDemoPostgres(started.binDir, started.dir);
  const postgres = await started.postgres;
  await postgres.query('CREATE DATABASE walhook_demo');
  const url = postgres.url('walhook_demo');
  const db = new pg.Client({ connectionString: url });
  // Reported by the query that fails; without a listener a lost connection would crash the demo.
  db.on('error', () => {});
  started.db = db;
  await db.connect();
  await db.query(`CREATE TABLE orders (
    id bigserial PRIMARY KEY, customer text NOT NULL, status text NOT NULL DEFAULT 'new',
    amount numeric(12, 2) NOT NULL, meta jsonb, created_at timestamptz NOT NULL DEFAULT now())`);
  // Whole old rows in updates and deletes: orders_paid's `columns` filter compares old and new status.
  await db.query('ALTER TABLE orders REPLICA IDENTITY FULL');

  const received: ReceivedEvent[] = [];
  const receiver = await startReceiver((event) => {
    received.push(event);
    say(describe(event));
  });
  started.receiver = receiver;
  const port = await freePort();
  const configPath = join(started.dir, 'walhook.yaml');
  await writeFile(configPath, demoConfig(receiver.url, port));
  say(`• config: ${configPath}`);

  await startWalhook(started, configPath, url, port);
  say(
    `• walhook running: console http://127.0.0.1:${port}/console, metrics http://127.0.0.1:${port}/metrics`,
  );
  say('• writing: 3 inserts, 2 updates (one to paid), 1 delete');
  await db.query(`INSERT INTO orders (customer, amount, meta) VALUES
    ('ada', 42.50, '{"items": 2}'), ('grace', 1999.99, '{"vip": true}'), ('linus', 7, null)`);
  await db.query(`UPDATE orders SET status = 'paid' WHERE customer = 'grace'`);
  await db.query(`UPDATE orders SET amount = 45.00 WHERE customer = 'ada'`);
  await db.query(`DELETE FROM orders WHERE customer = 'linus'`);
  await waitFor(() => received.length >= 7, 'the first deliveries');

  say('• stopping walhook (SIGTERM) and writing while it is down …');
  await stopWalhook(started.walhook);
  await db.query(`INSERT INTO orders (customer, amount, status) VALUES ('margaret', 123.45, 'paid')`);
  say('• restarting walhook: the change made while it was down arrives now');
  const before = received.length;
  await startWalhook(started, configPath, url, port);
  await waitFor(
    () => received.slice(before).some((e) => JSON.stringify(e.body).includes('margaret')),
    'the change made while walhook was stopped',
  );
  say(
    `✓ ${received.length} deliveries; every change arrived, including the one made while walhook was stopped`,
  );
  if (!follow) {
    say(
      '• next: `npm run demo -- --follow` keeps everything running, so you can write rows and watch them arrive',
    );
    return;
  }
  following();
  say('• following; Ctrl-C stops and removes everything. Try, in another terminal:');
  say(`    psql '${url}' -c "UPDATE orders SET status = 'paid' WHERE customer = 'ada'"`);
  say(`  and watch the delivery arrive here and in the console, http://127.0.0.1:${port}/console`);
  await follow;
}

/** Stops what was started, walhook before the database it reads, and removes the demo's folder. */
async function stopAll(started: Started): Promise<void> {
  started.stopping = true;
  await started.db?.end().catch(() => {});
  await stopWalhook(started.walhook).catch(() => {});
  await started.receiver?.close();
  const postgres = await started.postgres?.catch(() => undefined);
  await postgres?.remove();
  await rm(started.dir, { recursive: true, force: true });
}

/** For a second signal: no grace for anyone, but nothing left behind. */
async function stopNow(started: Started): Promise<void> {
  started.stopping = true;
  started.walhook?.kill('SIGKILL');
  const postgres = await started.postgres?.catch(() => undefined);
  await postgres?.kill();
  await rm(started.dir, { recursive: true, force: true, maxRetries: 3 });
}

function demoConfig(receiverUrl: string, port: number): string {
  return `source:
  connection: \${DATABASE_URL}
  slot: walhook_demo
  publication: walhook_demo
server:
  host: 127.0.0.1
  port: ${port}
triggers:
  - name: orders_all
    table: public.orders
    operations: [insert, update, delete]
    webhook: ${receiverUrl}/hooks/orders
  - name: orders_paid
    table: orders
    operations: [update, insert]
    columns: [status]
    where:
      new: { status: { _eq: paid } }
    webhook: ${receiverUrl}/hooks/paid
    retry: { num_retries: 3, interval_sec: 1 }
`;
}

function describe(event: ReceivedEvent): string {
  const body = event.body as unknown as {
    trigger: { name: string };
    event: { op: string; data: { old: unknown; new: unknown } };
    source: { lsn: string };
  };
  // The row as sent, not re-serialised: JSON.parse would turn 42.50 into 42.5.
  const data = jsonValueText(event.raw, ['event', 'data', body.event.op === 'DELETE' ? 'old' : 'new']);
  return `  ← ${body.trigger.name.padEnd(11)} ${body.event.op.padEnd(6)} lsn ${body.source.lsn.padEnd(10)} ${data}`;
}

async function startWalhook(started: Started, configPath: string, databaseUrl: string, port: number) {
  if (started.stopping) throw new Error('the demo is stopping');
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1] as string, 'run', '--config', configPath],
    {
      env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
      // Its own process group: Ctrl-C reaches the demo only, which stops walhook before Postgres.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  started.walhook = child;
  // A demo that dies unexpectedly must not leave walhook running.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  relay(child.stdout as Readable, say);
  relay(child.stderr as Readable, (line) => process.stderr.write(`${line}\n`));
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`walhook exited with code ${child.exitCode}`);
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    return res?.status === 200;
  }, 'walhook to stream');
}

/** walhook's JSON log lines, as sentences. */
function relay(stream: Readable, write: (line: string) => void): void {
  createInterface({ input: stream }).on('line', (line) => {
    let log: { level?: string; msg?: unknown; err?: { message?: string } };
    try {
      log = JSON.parse(line);
    } catch {
      write(line);
      return;
    }
    if (typeof log.msg !== 'string') return write(line);
    write(`  ! walhook ${log.level ?? 'log'}: ${log.msg}${log.err?.message ? `: ${log.err.message}` : ''}`);
  });
}

async function stopWalhook(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = await exited;
  if (code !== 0) throw new Error(`walhook exited with code ${code}`);
}

async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
