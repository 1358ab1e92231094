import pg from 'pg';
import type { Logger } from 'pino';
import { WalhookError } from '../core/errors.js';
import type { DeadLetter, DeadLetterFilter, DeadLetterStore } from './store.js';

interface Row {
  id: string;
  trigger: string;
  table_name: string;
  op: string;
  lsn: string;
  body: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  response_snippet: string | null;
  first_attempt_at: Date;
  last_attempt_at: Date;
  dead_lettered_at: Date;
}

const COLUMNS = [
  'id',
  'trigger',
  'table_name',
  'op',
  'lsn',
  'body',
  'attempts',
  'last_status',
  'last_error',
  'response_snippet',
  'first_attempt_at',
  'last_attempt_at',
  'dead_lettered_at',
];
const INSERT_COLUMNS = COLUMNS.join(', ');
const PLACEHOLDERS = COLUMNS.map((_, i) => `$${i + 1}`).join(', ');
const UPSERT_SET = COLUMNS.slice(1)
  .map((column) => `${column} = EXCLUDED.${column}`)
  .join(', ');
// Read back as text: node-postgres has no parser for pg_lsn, and the text form is what walhook prints.
const SELECT_COLUMNS = COLUMNS.map((column) => (column === 'lsn' ? 'lsn::text AS lsn' : column)).join(', ');

/**
 * Dead letters in a table of the source database. walhook's publication lists the triggers' tables
 * only, so writing here produces no change for walhook's slot.
 */
export class PostgresDeadLetterStore implements DeadLetterStore {
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #name: string;
  /** schema.table, quoted. */
  readonly #table: string;
  readonly #logger: Logger | undefined;
  #closed = false;

  /** `table` is `schema.name` in lower case, as the config schema guarantees. */
  constructor(connection: string, table: string, options: { logger?: Logger | undefined } = {}) {
    const [schema = '', name = ''] = table.split('.');
    this.#schema = schema;
    this.#name = name;
    this.#table = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`;
    this.#logger = options.logger?.child({ component: 'dead-letters', table });
    // Dead letters are rare and written one at a time: two connections leave the database alone.
    this.#pool = new pg.Pool({
      connectionString: connection,
      max: 2,
      application_name: 'walhook-dead-letters',
    });
    // An idle connection that breaks (a server restart) must not crash the process; the pool reconnects.
    this.#pool.on('error', (err) => this.#logger?.warn({ err }, 'dead-letter connection lost'));
  }

  async init(): Promise<void> {
    const exists = await this.#pool.query<{ oid: string | null }>('SELECT to_regclass($1)::oid AS oid', [
      this.#table,
    ]);
    // CREATE SCHEMA checks the CREATE privilege even when the schema exists, so skip it when possible.
    if (exists.rows[0]?.oid != null) return;
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      // Two processes starting together would otherwise race on the catalog's unique indexes.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `walhook.dead-letters:${this.#table}`,
      ]);
      await ensureSchema(client, this.#schema);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.#table} (
        id text PRIMARY KEY,
        trigger text NOT NULL,
        table_name text NOT NULL,
        op text NOT NULL,
        lsn pg_lsn NOT NULL,
        body text NOT NULL,
        attempts integer NOT NULL,
        last_status integer,
        last_error text,
        response_snippet text,
        first_attempt_at timestamptz NOT NULL,
        last_attempt_at timestamptz NOT NULL,
        dead_lettered_at timestamptz NOT NULL
      )`);
      for (const column of ['trigger', 'dead_lettered_at']) {
        const index = pg.escapeIdentifier(`${this.#name}_${column}_idx`);
        await client.query(`CREATE INDEX IF NOT EXISTS ${index} ON ${this.#table} (${column})`);
      }
      await client.query('COMMIT');
      this.#logger?.info('dead-letter table created');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      if ((err as { code?: string }).code === '42501') {
        throw new WalhookError(
          'WALHOOK_ERR_PERMISSION',
          `dead_letter.table: cannot create ${this.#schema}.${this.#name}: ${(err as Error).message} (have an admin run CREATE SCHEMA ${pg.escapeIdentifier(this.#schema)} AUTHORIZATION <walhook's role>)`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      client.release();
    }
  }

  async add(letter: DeadLetter): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#table} (${INSERT_COLUMNS}) VALUES (${PLACEHOLDERS})
       ON CONFLICT (id) DO UPDATE SET ${UPSERT_SET}`,
      [
        letter.id,
        letter.trigger,
        letter.table,
        letter.op,
        letter.lsn,
        letter.body,
        letter.attempts,
        letter.lastStatus,
        letter.lastError,
        letter.responseSnippet,
        letter.firstAttemptAt,
        letter.lastAttemptAt,
        letter.deadLetteredAt,
      ],
    );
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    const { where, params } = whereClause(filter);
    const result = await this.#pool.query<Row>(
      // d.lsn, not lsn: a bare name in ORDER BY would sort by the text alias.
      `SELECT ${SELECT_COLUMNS} FROM ${this.#table} AS d ${where}
       ORDER BY d.lsn, first_attempt_at, dead_lettered_at, id`,
      params,
    );
    return result.rows.map(fromRow);
  }

  async remove(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await this.#pool.query(`DELETE FROM ${this.#table} WHERE id = ANY($1::text[])`, [ids]);
    return result.rowCount ?? 0;
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    const { where, params } = whereClause(filter);
    const result = await this.#pool.query(`DELETE FROM ${this.#table} ${where}`, params);
    return result.rowCount ?? 0;
  }

  async count(): Promise<number> {
    const result = await this.#pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.#table}`);
    return result.rows[0]?.n ?? 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}

function whereClause(filter: DeadLetterFilter): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    conditions.push(`${sql} $${params.length}`);
  };
  if (filter.id !== undefined) add('id =', filter.id);
  if (filter.trigger !== undefined) add('trigger =', filter.trigger);
  if (filter.olderThan !== undefined) add('dead_lettered_at <', filter.olderThan);
  if (filter.since !== undefined) add('dead_lettered_at >=', filter.since);
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

function fromRow(row: Row): DeadLetter {
  return {
    id: row.id,
    trigger: row.trigger,
    table: row.table_name,
    op: row.op,
    lsn: row.lsn,
    body: row.body,
    attempts: row.attempts,
    lastStatus: row.last_status,
    lastError: row.last_error,
    responseSnippet: row.response_snippet,
    firstAttemptAt: row.first_attempt_at,
    lastAttemptAt: row.last_attempt_at,
    deadLetteredAt: row.dead_lettered_at,
  };
}

/**
 * Creates walhook's schema when it is missing. Postgres checks the database's CREATE privilege even for
 * `CREATE SCHEMA IF NOT EXISTS`, which a role owning only the schema an admin made for it lacks.
 */
export async function ensureSchema(db: Pick<pg.ClientBase, 'query'>, schema: string): Promise<void> {
  const found = await db.query('SELECT to_regnamespace($1) IS NOT NULL AS present', [
    pg.escapeIdentifier(schema),
  ]);
  if (!found.rows[0]?.present) await db.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`);
}
