/**
 * `npm run bench`: walhook's delivery rate from a pre-filled backlog against the ceiling of a Node
 * consumer (a pg-logical-replication client that only counts messages) on the same WAL, medians over
 * several runs, one table. Not part of `npm test`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { LogicalReplicationService } from 'pg-logical-replication';
import { startDatabase } from '../test/helpers/database.js';
import { ROOT, writeConfig } from '../test/helpers/walhook.js';

const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 200_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function receiver() {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    count: () => count,
    close: () => server.close(),
  };
}

const db = await startDatabase('bench');
await db.query(
  'CREATE TABLE items (id int PRIMARY KEY, name text, qty int, price numeric, at timestamptz, ok boolean)',
);
await db.query('CREATE PUBLICATION bench FOR TABLE items');

async function backlog(slot: string): Promise<void> {
  await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  await db.query('TRUNCATE items');
  await db.query(
    `INSERT INTO items SELECT g, 'item ' || g, g % 100, g * 1.25, now(), g % 2 = 0 FROM generate_series(1, ${BACKLOG}) g`,
  );
}

/** Changes per second of a consumer that only counts insert messages. */
async function baseline(run: number): Promise<number> {
  const slot = `baseline_${run}`;
  await backlog(slot);
  const service = new LogicalReplicationService(
    { connectionString: db.url },
    { acknowledge: { auto: false, timeoutSeconds: 0 } },
  );
  let inserts = 0;
  const started = performance.now();
  const done = new Promise<void>((resolve) => {
    service.on('data', (_lsn: string, payload: Buffer) => {
      if (payload[0] === 0x49 && ++inserts === BACKLOG) resolve();
    });
  });
  const plugin = {
    options: {},
    name: 'pgoutput',
    parse: (payload: Buffer) => payload,
    start: (client: { query(sql: string): Promise<unknown> }, slotName: string, lsn: string) =>
      client.query(
        `START_REPLICATION SLOT ${slotName} LOGICAL ${lsn} (proto_version '1', publication_names 'bench')`,
      ),
  };
  void service.subscribe(plugin as never, slot).catch(() => {});
  await done;
  const rate = BACKLOG / ((performance.now() - started) / 1000);
  await service.destroy();
  await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
  return rate;
}

/** Changes per second walhook delivers, one event per POST, from start until the slot confirms all. */
async function walhook(run: number): Promise<number> {
  const slot = `walhook_${run}`;
  const target = await receiver();
  const path = await writeConfig(`source:
  connection: ${db.url}
  slot: ${slot}
  publication: bench
  heartbeat_sec: 0
server:
  host: 127.0.0.1
  port: 0
triggers:
  - name: items
    table: items
    operations: [insert]
    webhook: ${target.url}/items
`);
  await backlog(slot);
  const started = performance.now();
  const child = spawn(join(ROOT, 'bin/walhook.js'), ['run', '--config', path], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  while (target.count() < BACKLOG) await new Promise((resolve) => setTimeout(resolve, 20));
  const rate = BACKLOG / ((performance.now() - started) / 1000);
  child.kill('SIGTERM');
  await once(child, 'exit');
  target.close();
  await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
  return rate;
}

const baselineRates: number[] = [];
const walhookRates: number[] = [];
for (let run = 0; run < RUNS; run++) {
  baselineRates.push(await baseline(run));
  walhookRates.push(await walhook(run));
}
await db.close();

const b = median(baselineRates);
const w = median(walhookRates);
process.stdout.write(`
machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, Postgres ${db.server.major}
backlog: ${BACKLOG.toLocaleString('en')} inserts in one transaction; medians of ${RUNS} runs

| measure | changes/s |
|---|---|
| counting consumer (pg-logical-replication, ceiling for a Node consumer) | ${Math.round(b).toLocaleString('en')} |
| walhook, one event per POST | ${Math.round(w).toLocaleString('en')} |
| ratio walhook / counting consumer | ${(w / b).toFixed(2)} |
`);
