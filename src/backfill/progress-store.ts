import pg from 'pg';
import { parseJson, stringifyJson } from '../core/json.js';
import { ensureSchema } from '../dead-letters/postgres-store.js';

const JSONB_OID = 3802;

export type BackfillState = 'running' | 'done' | 'cancelled' | 'failed';

/** One trigger's backfill as stored: enough to continue after the last page that settled. */
export interface BackfillProgress {
  trigger: string;
  runId: string;
  state: BackfillState;
  op: 'MANUAL' | 'READ';
  /** The backfill's own `where`, in the trigger's syntax; null for every row. */
  where: unknown;
  batchSize: number;
  /** Text values of the key of the last row read and settled, in key order; null before the first page. */
  lastKey: string[] | null;
  rowsRead: number;
  rowsSent: number;
  totalEstimate: number | null;
  startedAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  error: string | null;
}

interface Row {
  trigger: string;
  run_id: string;
  state: BackfillState;
  op: 'MANUAL' | 'READ';
  /** jsonb as its text: pg's own parser would read its numbers as doubles. */
  filter: string | null;
  batch_size: number;
  last_key: string | null;
  rows_read: string;
  rows_sent: string;
  total_estimate: string | null;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  error: string | null;
}

/**
 * Backfill progress in a table of walhook's schema (the dead-letter table's), written after each page
 * has settled: a stop or a crash at any point continues from the last settled page, and the pages in
 * flight at the time are sent again (at-least-once, like the stream).
 */
export class ProgressStore {
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #table: string;
  #ready: Promise<void> | null = null;

  constructor(connection: string, schema: string) {
    this.#schema = schema;
    this.#table = `${pg.escapeIdentifier(schema)}.backfills`;
    this.#pool = new pg.Pool({
      connectionString: connection,
      max: 1,
      application_name: 'walhook-backfill',
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === JSONB_OID
            ? (text: string) => text
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    this.#pool.on('error', () => {});
  }

  async load(trigger: string): Promise<BackfillProgress | null> {
    await this.#init();
    const { rows } = await this.#pool.query<Row>(`SELECT * FROM ${this.#table} WHERE trigger = $1`, [
      trigger,
    ]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /** The backfills a stop or crash interrupted, to continue when the pipeline starts. */
  async running(triggers: readonly string[]): Promise<BackfillProgress[]> {
    await this.#init();
    const { rows } = await this.#pool.query<Row>(
      `SELECT * FROM ${this.#table} WHERE state = 'running' AND trigger = ANY ($1::text[]) ORDER BY started_at`,
      [triggers],
    );
    return rows.map(fromRow);
  }

  async save(p: BackfillProgress): Promise<void> {
    await this.#init();
    await this.#pool.query(
      `INSERT INTO ${this.#table} (trigger, run_id, state, op, filter, batch_size, last_key, rows_read,
         rows_sent, total_estimate, started_at, updated_at, finished_at, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT (trigger) DO UPDATE SET run_id = EXCLUDED.run_id, state = EXCLUDED.state, op = EXCLUDED.op,
         filter = EXCLUDED.filter, batch_size = EXCLUDED.batch_size, last_key = EXCLUDED.last_key,
         rows_read = EXCLUDED.rows_read, rows_sent = EXCLUDED.rows_sent,
         total_estimate = EXCLUDED.total_estimate, started_at = EXCLUDED.started_at,
         updated_at = EXCLUDED.updated_at, finished_at = EXCLUDED.finished_at, error = EXCLUDED.error`,
      [
        p.trigger,
        p.runId,
        p.state,
        p.op,
        stringifyJson(p.where),
        p.batchSize,
        p.lastKey === null ? null : JSON.stringify(p.lastKey),
        p.rowsRead,
        p.rowsSent,
        p.totalEstimate,
        p.startedAt,
        p.updatedAt,
        p.finishedAt,
        p.error,
      ],
    );
  }

  close(): Promise<void> {
    return this.#pool.end();
  }

  #init(): Promise<void> {
    this.#ready ??= this.#create().then(
      () => {},
      (err: unknown) => {
        this.#ready = null;
        throw err;
      },
    );
    return this.#ready;
  }

  async #create(): Promise<void> {
    await ensureSchema(this.#pool, this.#schema);
    await this.#pool.query(`CREATE TABLE IF NOT EXISTS ${this.#table} (
        trigger text PRIMARY KEY,
        run_id text NOT NULL,
        state text NOT NULL,
        op text NOT NULL,
        filter jsonb,
        batch_size integer NOT NULL,
        last_key jsonb,
        rows_read bigint NOT NULL,
        rows_sent bigint NOT NULL,
        total_estimate bigint,
        started_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        finished_at timestamptz,
        error text
      )`);
  }
}

function fromRow(row: Row): BackfillProgress {
  return {
    trigger: row.trigger,
    runId: row.run_id,
    state: row.state,
    op: row.op,
    where: row.filter === null ? null : parseJson(row.filter),
    batchSize: row.batch_size,
    lastKey: row.last_key === null ? null : (parseJson(row.last_key) as string[]),
    rowsRead: Number(row.rows_read),
    rowsSent: Number(row.rows_sent),
    totalEstimate: row.total_estimate === null ? null : Number(row.total_estimate),
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    error: row.error,
  };
}
