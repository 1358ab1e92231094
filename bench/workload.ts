import { CAPTURE_FUNCTION_SQL, captureTriggerSql } from '../src/source/session-capture.js';
import type { Database } from '../test/helpers/database.js';
import { pollUntil } from './poll.js';

/**
 * Every measure writes rows of this shape (six columns, an identity key) so their figures compare;
 * the identity lets bulk inserts, the steady writer and the load generator all insert without ids.
 */
export const COLUMNS =
  'id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, qty int, price numeric, at timestamptz, ok boolean';

/** Tables: the backlog measures, the latency writer, and one per source-overhead setup. */
export const TABLES = {
  backlog: 'items',
  latency: 'ticks',
  none: 'load_none',
  slot: 'load_slot',
  walhook: 'load_walhook',
  trigger: 'load_trigger',
  session: 'load_session',
} as const;

/** Publications walhook and the counting consumer read, one per measure's table. */
export const PUBLICATIONS = {
  backlog: 'bench_items',
  latency: 'bench_ticks',
  slot: 'bench_slot',
  walhook: 'bench_load',
} as const;

/** One single-row insert as the source-overhead load generators run it. */
export const singleRowInsert = (table: string) =>
  `INSERT INTO ${table} (name, qty, price, at, ok) VALUES ('item', 7, 8.75, now(), true)`;

/**
 * The tables, publications and the trigger design walhook replaces: a per-row AFTER INSERT trigger
 * that writes the row into an event-log table in the same transaction, modelled on Hasura's
 * `hdb_catalog.event_log` (its columns and indexes, and a payload built with `row_to_json(NEW)`).
 */
export async function prepareDatabase(db: Database): Promise<void> {
  for (const table of Object.values(TABLES)) await db.query(`CREATE TABLE ${table} (${COLUMNS})`);
  await db.query(`CREATE PUBLICATION ${PUBLICATIONS.backlog} FOR TABLE ${TABLES.backlog}`);
  await db.query(`CREATE PUBLICATION ${PUBLICATIONS.latency} FOR TABLE ${TABLES.latency}`);
  await db.query(`CREATE PUBLICATION ${PUBLICATIONS.slot} FOR TABLE ${TABLES.slot}`);
  await db.query(`CREATE PUBLICATION ${PUBLICATIONS.walhook} FOR TABLE ${TABLES.walhook}`);
  await db.query(`
    CREATE TABLE event_log (
      id text DEFAULT gen_random_uuid() PRIMARY KEY,
      schema_name text NOT NULL,
      table_name text NOT NULL,
      trigger_name text NOT NULL,
      payload jsonb NOT NULL,
      delivered boolean NOT NULL DEFAULT false,
      error boolean NOT NULL DEFAULT false,
      tries integer NOT NULL DEFAULT 0,
      created_at timestamp DEFAULT now(),
      locked timestamptz,
      next_retry_at timestamp,
      archived boolean NOT NULL DEFAULT false
    )`);
  await db.query('CREATE INDEX ON event_log (trigger_name)');
  await db.query(`
    CREATE INDEX ON event_log (locked NULLS FIRST, next_retry_at NULLS FIRST, created_at)
    WHERE NOT delivered AND NOT error AND NOT archived`);
  await db.query(`
    CREATE FUNCTION capture_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO event_log (schema_name, table_name, trigger_name, payload)
      VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_NAME, json_build_object(
        'op', TG_OP,
        'data', json_build_object('old', NULL, 'new', row_to_json(NEW)),
        'session_variables', current_setting('hasura.user', true),
        'trace_context', current_setting('hasura.tracecontext', true)));
      RETURN NULL;
    END $$`);
  await db.query(
    `CREATE TRIGGER capture AFTER INSERT ON ${TABLES.trigger} FOR EACH ROW EXECUTE FUNCTION capture_insert()`,
  );
  // What `source.session_variables: hasura` installs: one statement trigger and its function.
  await db.query('CREATE SCHEMA IF NOT EXISTS walhook');
  await db.query(CAPTURE_FUNCTION_SQL);
  await db.query(captureTriggerSql({ schema: 'public', name: TABLES.session }));
}

/**
 * The connection URL of writers whose every transaction has `hasura.user` set (as Hasura sets it for
 * each mutation), so the session capture writes its message in each of them.
 */
export function withHasuraUser(url: string): string {
  const options = new URL(url);
  options.searchParams.set('options', '-chasura.user={"x-hasura-user-id":"7","x-hasura-role":"user"}');
  return options.toString();
}

/** Inserts `rows` rows in one statement, so in one transaction. */
export async function insertRows(db: Database, table: string, rows: number): Promise<void> {
  await db.query(
    `INSERT INTO ${table} (name, qty, price, at, ok)
     SELECT 'item ' || g, g % 100, g * 1.25, now(), g % 2 = 0 FROM generate_series(1, $1::int) g`,
    [rows],
  );
}

/** A new slot with `rows` inserts in one transaction waiting in it: the backlog a consumer drains. */
export async function fillBacklog(db: Database, slot: string, rows: number): Promise<void> {
  // Emptied before the slot exists, so the slot holds the inserts and nothing else.
  await db.query(`TRUNCATE ${TABLES.backlog}`);
  await db.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  await insertRows(db, TABLES.backlog, rows);
}

/** Whether a walsender holds the slot: from then on its backlog is being read. */
export async function slotActive(db: Database, slot: string): Promise<boolean> {
  const result = await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [slot]);
  return result.rows.length > 0;
}

/**
 * Drops the slot once its consumer has let go of it (a walsender outlives its client by a moment),
 * so no slot retains WAL or decodes behind the next measure.
 */
export async function dropSlot(db: Database, slot: string): Promise<void> {
  await pollUntil(async () => !(await slotActive(db, slot)), `slot ${slot} to be released`, 30_000);
  await db.query(
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
}
