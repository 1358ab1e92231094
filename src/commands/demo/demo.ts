import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, loadEmbeddedPostgres, startDemoPostgres } from './embedded-postgres.js';
import { jsonValueText } from './json-text.js';
import { type ReceivedEvent, startReceiver } from './receiver.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

/**
 * `walhook demo`: an embedded Postgres, a receiver and walhook itself (as a child process, exactly
 * as `walhook run` runs), some writes, a stop and a restart that delivers what was written meanwhile.
 */
export async function runDemo(options: { follow: boolean }): Promise<number> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const dir = await mkdtemp(join(tmpdir(), 'walhook-demo-'));
  say('• starting an embedded Postgres with wal_level=logical …');
  const postgres = await startDemoPostgres(EmbeddedPostgres);
  let walhook: ChildProcess | null = null;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | null = null;
  try {
    await postgres.createDatabase('walhook_demo');
    const url = postgres.url('walhook_demo');
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    await db.query(`CREATE TABLE orders (
      id bigserial PRIMARY KEY, customer text NOT NULL, status text NOT NULL DEFAULT 'new',
      amount numeric(12, 2) NOT NULL, meta jsonb, created_at timestamptz NOT NULL DEFAULT now())`);

    const received: ReceivedEvent[] = [];
    receiver = await startReceiver((event) => {
      received.push(event);
      say(describe(event));
    });
    const port = await freePort();
    const configPath = join(dir, 'walhook.yaml');
    await writeFile(configPath, demoConfig(receiver.url, port));
    say(`• config: ${configPath}`);

    walhook = await startWalhook(configPath, url, port);
    say('• writing: 3 inserts, 2 updates (one to paid), 1 delete');
    await db.query(`INSERT INTO orders (customer, amount, meta) VALUES
      ('ada', 42.50, '{"items": 2}'), ('grace', 1999.99, '{"vip": true}'), ('linus', 7, null)`);
    await db.query(`UPDATE orders SET status = 'paid' WHERE customer = 'grace'`);
    await db.query(`UPDATE orders SET amount = 45.00 WHERE customer = 'ada'`);
    await db.query(`DELETE FROM orders WHERE customer = 'linus'`);
    await waitFor(() => received.length >= 7, 'the first deliveries');

    say('• stopping walhook (SIGTERM) and writing while it is down …');
    await stopWalhook(walhook);
    walhook = null;
    await db.query(`INSERT INTO orders (customer, amount, status) VALUES ('margaret', 123.45, 'paid')`);
    say('• restarting walhook: the change made while it was down arrives now');
    const before = received.length;
    walhook = await startWalhook(configPath, url, port);
    await waitFor(
      () => received.slice(before).some((e) => JSON.stringify(e.body).includes('margaret')),
      'the change made while walhook was stopped',
    );
    say(
      `✓ ${received.length} deliveries; every change arrived, including the one made while walhook was stopped`,
    );

    if (options.follow) {
      say(`• following: write to ${url} (for example with psql); Ctrl-C stops`);
      await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
    }
    await db.end();
    return 0;
  } finally {
    if (walhook) await stopWalhook(walhook).catch(() => {});
    await receiver?.close();
    await postgres.stop();
    await rm(dir, { recursive: true, force: true });
  }
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

async function startWalhook(configPath: string, databaseUrl: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1] as string, 'run', '--config', configPath],
    {
      env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`walhook exited with code ${child.exitCode}`);
    const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    return res?.status === 200;
  }, 'walhook to stream');
  say(`• walhook running (pid ${child.pid}), /metrics on http://127.0.0.1:${port}/metrics`);
  return child;
}

async function stopWalhook(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
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
