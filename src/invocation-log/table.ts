import pg from 'pg';
import type { Logger } from 'pino';
import { WalhookError } from '../core/errors.js';
import { ensureSchema } from '../dead-letters/postgres-store.js';

/** `schema.name` quoted, from the lower-case `schema.name` the config schema guarantees. */
export function quotedTable(table: string): { schema: string; name: string; quoted: string } {
  const [schema = '', name = ''] = table.split('.');
  return { schema, name, quoted: `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}` };
}

/**
 * The log's table and its indexes: by event id (an event's attempts), by trigger and time (a trigger's
 * history, newest first), and a BRIN index on the time for the retention's deletes, which costs next to
 * nothing to keep up since rows arrive in time order.
 */
export function createTableSql(table: string): string[] {
  const { name, quoted } = quotedTable(table);
  const index = (what: string) => pg.escapeIdentifier(`${name}_${what}_idx`);
  return [
    `CREATE TABLE IF NOT EXISTS ${quoted} (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      event_id text NOT NULL,
      trigger text NOT NULL,
      op text NOT NULL,
      table_schema text NOT NULL,
      table_name text NOT NULL,
      lsn pg_lsn NOT NULL,
      attempt integer NOT NULL,
      batch_size integer NOT NULL,
      at timestamptz NOT NULL,
      duration_ms double precision NOT NULL,
      status integer,
      outcome text NOT NULL,
      error_type text,
      error text,
      request_url text,
      request_method text,
      request_headers jsonb NOT NULL,
      request_body text NOT NULL,
      response_body text NOT NULL,
      event_body text
    )`,
    addEventBodySql(table),
    `CREATE INDEX IF NOT EXISTS ${index('event_id')} ON ${quoted} (event_id)`,
    `CREATE INDEX IF NOT EXISTS ${index('trigger_at')} ON ${quoted} (trigger, at DESC)`,
    `CREATE INDEX IF NOT EXISTS ${index('at')} ON ${quoted} USING brin (at)`,
  ];
}

/**
 * A table made before walhook kept event bodies gains the column; its rows keep NULL there, and those
 * events cannot be redelivered from the log.
 */
function addEventBodySql(table: string): string {
  return `ALTER TABLE ${quotedTable(table).quoted} ADD COLUMN IF NOT EXISTS event_body text`;
}

/**
 * Creates the table when it is missing, as the dead-letter table is (src/dead-letters/postgres-store.ts).
 * A role that may not create it gets one line with the SQL for the owner to run.
 */
export async function ensureTable(pool: pg.Pool, table: string, logger: Logger): Promise<void> {
  const { schema, quoted } = quotedTable(table);
  const exists = await pool.query<{ oid: string | null; current: boolean }>(
    `SELECT to_regclass($1)::oid AS oid,
            EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'event_body' AND NOT attisdropped) AS current`,
    [quoted],
  );
  const found = exists.rows[0];
  if (found?.oid != null) {
    if (!found.current) await addEventBody(pool, table, logger);
    return;
  }
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Two processes starting together would otherwise race on the catalog's unique indexes.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`walhook.invocation-log:${quoted}`]);
    await ensureSchema(client, schema);
    for (const sql of createTableSql(table)) await client.query(sql);
    await client.query('COMMIT');
    logger.info('invocation log table created');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    if ((err as { code?: string }).code === '42501') {
      const sql = [`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`, ...createTableSql(table)]
        .map((statement) => `${statement.replace(/\s+/g, ' ')};`)
        .join(' ');
      throw new WalhookError(
        'WALHOOK_ERR_PERMISSION',
        `invocation_log.table: cannot create ${table}: ${(err as Error).message} (have its owner run: ${sql} GRANT SELECT, INSERT, DELETE ON ${quoted} TO <walhook's role>;)`,
        { cause: err },
      );
    }
    throw err;
  } finally {
    client.release();
  }
}

/** Brings a table of an earlier walhook up to date; a role that may not alter it gets the SQL to run. */
async function addEventBody(pool: pg.Pool, table: string, logger: Logger): Promise<void> {
  const sql = addEventBodySql(table);
  try {
    await pool.query(sql);
    logger.info('invocation log table gained the event_body column');
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err;
    throw new WalhookError(
      'WALHOOK_ERR_PERMISSION',
      `invocation_log.table: ${table} lacks the event_body column and walhook may not add it: ${(err as Error).message} (have its owner run: ${sql};)`,
      { cause: err },
    );
  }
}
