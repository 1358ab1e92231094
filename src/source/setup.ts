import pg from 'pg';
import type { Logger } from 'pino';
import { WalhookError } from '../errors.js';
import { formatLsn, type Lsn, parseLsn } from './change.js';

export interface TableRef {
  schema: string;
  name: string;
}

export interface TableInfo extends TableRef {
  oid: number;
  /** pg_class.relreplident: d default, n nothing, f full, i index. */
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  hasPrimaryKey: boolean;
  /** Primary key columns in key order (empty without one). */
  primaryKey: string[];
}

export interface SourceState {
  /** The database system identifier, part of every event id. */
  systemId: string;
  /** The slot's confirmed_flush_lsn when walhook started. */
  confirmedLsn: Lsn;
  tables: TableInfo[];
  /** The server's wal_sender_timeout in milliseconds (0: disabled). */
  walSenderTimeoutMs: number;
}

export function qualifiedName(table: TableRef): string {
  return `${pg.escapeIdentifier(table.schema)}.${pg.escapeIdentifier(table.name)}`;
}

export async function walLevel(client: pg.Client): Promise<string> {
  const result = await client.query<{ wal_level: string }>('SHOW wal_level');
  return result.rows[0]?.wal_level ?? 'unknown';
}

export async function describeTables(
  client: pg.Client,
  tables: readonly TableRef[],
): Promise<(TableInfo | null)[]> {
  const result = await client.query<{
    i: number;
    oid: number;
    relreplident: TableInfo['replicaIdentity'];
    pk: string[];
  }>(
    `SELECT t.i, c.oid::int AS oid, c.relreplident,
            ARRAY(SELECT a.attname::text FROM pg_index x
                    CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                   WHERE x.indrelid = c.oid AND x.indisprimary ORDER BY k.n) AS pk
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema, name, i)
       JOIN pg_namespace n ON n.nspname = t.schema
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name AND c.relkind IN ('r', 'p')`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  const found = new Map(result.rows.map((row) => [Number(row.i) - 1, row]));
  return tables.map((table, i) => {
    const row = found.get(i);
    return row
      ? {
          ...table,
          oid: row.oid,
          replicaIdentity: row.relreplident,
          hasPrimaryKey: row.pk.length > 0,
          primaryKey: row.pk,
        }
      : null;
  });
}

/**
 * Postgres refuses UPDATE and DELETE on a published table without a replica identity, so walhook
 * must not add one to its publication and break the application's writes.
 */
export function replicaIdentityProblem(table: TableInfo): string | null {
  const name = qualifiedName(table);
  if (table.replicaIdentity === 'n') {
    return `table ${name} has REPLICA IDENTITY NOTHING: once published, UPDATE and DELETE on it fail; run ALTER TABLE ${name} REPLICA IDENTITY FULL (or DEFAULT with a primary key)`;
  }
  if (table.replicaIdentity === 'd' && !table.hasPrimaryKey) {
    return `table ${name} has no primary key: once published, UPDATE and DELETE on it fail; add a primary key or run ALTER TABLE ${name} REPLICA IDENTITY FULL`;
  }
  return null;
}

/** The system identifier through IDENTIFY_SYSTEM, which needs only the REPLICATION privilege. */
export async function systemIdentifier(connection: string): Promise<string> {
  const client = new pg.Client({ connectionString: connection, replication: 'database' } as pg.ClientConfig);
  await client.connect();
  try {
    const result = await client.query<{ systemid: string }>('IDENTIFY_SYSTEM');
    return String(result.rows[0]?.systemid);
  } finally {
    await client.end();
  }
}

/**
 * Prepares the database for streaming: checks wal_level and the triggers' tables, creates the
 * publication (or adds missing tables to it) and then the slot. The publication comes first: pgoutput
 * looks it up with the catalog as of each change, so a slot older than its publication fails to decode.
 */
export async function prepareSource(
  options: {
    connection: string;
    slot: string;
    publication: string;
    on_slot_lost: 'fail' | 'recreate';
    tables: readonly TableRef[];
  },
  logger: Logger,
): Promise<SourceState> {
  const client = new pg.Client({ connectionString: options.connection, application_name: 'walhook-setup' });
  await client.connect();
  try {
    const level = await walLevel(client);
    if (level !== 'logical') {
      throw new WalhookError(
        'WALHOOK_ERR_WAL_LEVEL',
        `wal_level is ${level}; set wal_level = logical in postgresql.conf and restart Postgres`,
      );
    }
    const described = await describeTables(client, options.tables);
    const tables: TableInfo[] = [];
    described.forEach((info, i) => {
      const table = options.tables[i] as TableRef;
      if (!info) {
        throw new WalhookError(
          'WALHOOK_ERR_TABLE_NOT_FOUND',
          `table ${qualifiedName(table)} does not exist; create it or fix the trigger's table`,
        );
      }
      const problem = replicaIdentityProblem(info);
      if (problem) throw new WalhookError('WALHOOK_ERR_REPLICA_IDENTITY', problem);
      tables.push(info);
    });
    await permitted(`create or alter publication ${options.publication}`, () =>
      ensurePublication(client, options.publication, tables, logger),
    );
    const confirmedLsn = await permitted(`create replication slot ${options.slot}`, () =>
      ensureSlot(client, options.slot, options.on_slot_lost, logger),
    );
    const systemId = await permitted('open a replication connection', () =>
      systemIdentifier(options.connection),
    );
    const timeout = await client.query<{ setting: string }>(
      `SELECT setting FROM pg_settings WHERE name = 'wal_sender_timeout'`,
    );
    return { systemId, confirmedLsn, tables, walSenderTimeoutMs: Number(timeout.rows[0]?.setting ?? 60_000) };
  } finally {
    await client.end();
  }
}

/** A missing privilege will not fix itself: report it once (exit 2) instead of retrying forever. */
async function permitted<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if ((err as { code?: string }).code === '42501') {
      throw new WalhookError(
        'WALHOOK_ERR_PERMISSION',
        `the database role may not ${what}: ${(err as Error).message}; grant REPLICATION and ownership of the tables`,
        { cause: err },
      );
    }
    throw err;
  }
}

async function ensurePublication(
  client: pg.Client,
  publication: string,
  tables: TableInfo[],
  logger: Logger,
) {
  const name = pg.escapeIdentifier(publication);
  const unique = [...new Map(tables.map((t) => [t.oid, t])).values()];
  const exists = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
  if (exists.rowCount === 0) {
    await client.query(`CREATE PUBLICATION ${name} FOR TABLE ${unique.map(qualifiedName).join(', ')}`);
    logger.info({ publication, tables: unique.map(qualifiedName) }, 'publication created');
    return;
  }
  const published = await client.query<{ oid: number }>(
    'SELECT prrelid::int AS oid FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid WHERE p.pubname = $1',
    [publication],
  );
  const have = new Set(published.rows.map((row) => row.oid));
  const missing = unique.filter((t) => !have.has(t.oid));
  if (missing.length > 0) {
    await client.query(`ALTER PUBLICATION ${name} ADD TABLE ${missing.map(qualifiedName).join(', ')}`);
    logger.info({ publication, tables: missing.map(qualifiedName) }, 'tables added to publication');
  }
}

async function ensureSlot(
  client: pg.Client,
  slot: string,
  onLost: 'fail' | 'recreate',
  logger: Logger,
): Promise<Lsn> {
  const found = await client.query<{
    plugin: string | null;
    database: string | null;
    lsn: string | null;
    wal_status: string | null;
  }>(
    `SELECT plugin, database, confirmed_flush_lsn::text AS lsn, wal_status
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const row = found.rows[0];
  if (!row) return createSlot(client, slot, logger);
  const db = await client.query<{ db: string }>('SELECT current_database() AS db');
  if (row.plugin !== 'pgoutput' || row.database !== db.rows[0]?.db) {
    throw new WalhookError(
      'WALHOOK_ERR_SLOT_PLUGIN',
      `replication slot ${slot} belongs to ${row.database ?? 'no database'} with plugin ${row.plugin ?? 'none'}; ` +
        'choose another source.slot or drop that slot',
    );
  }
  if (row.wal_status === 'lost') {
    if (onLost === 'fail') {
      throw new WalhookError(
        'WALHOOK_ERR_SLOT_LOST',
        `replication slot ${slot} was invalidated (wal_status lost) at ${row.lsn ?? 'an unknown position'}; ` +
          'the changes since are gone from the WAL — set source.on_slot_lost: recreate to start a new slot from now',
      );
    }
    await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
    const lsn = await createSlot(client, slot, logger);
    logger.error(
      { code: 'WALHOOK_ERR_SLOT_LOST', slot, lost_from: row.lsn, new_start: formatLsn(lsn) },
      'replication slot was invalidated and has been recreated (source.on_slot_lost: recreate); changes between lost_from and new_start were not delivered',
    );
    return lsn;
  }
  const lsn = parseLsn(row.lsn ?? '0/0');
  logger.info(
    { slot, confirmed_flush_lsn: formatLsn(lsn), wal_status: row.wal_status },
    'replication slot found',
  );
  return lsn;
}

async function createSlot(client: pg.Client, slot: string, logger: Logger): Promise<Lsn> {
  const created = await client.query<{ lsn: string }>(
    `SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`,
    [slot],
  );
  const lsn = parseLsn(created.rows[0]?.lsn ?? '0/0');
  logger.info({ slot, lsn: formatLsn(lsn) }, 'replication slot created');
  return lsn;
}
