import pg from 'pg';
import { quotedTable } from './table.js';

/** One logged attempt, as the console and the metadata API read it. */
export interface LoggedAttempt {
  id: string;
  eventId: string;
  trigger: string;
  op: string;
  table: string;
  lsn: string;
  attempt: number;
  batchSize: number;
  at: Date;
  durationMs: number;
  status: number | null;
  outcome: string;
  errorType: string | null;
  error: string | null;
  request: { url: string | null; method: string | null; headers: Record<string, string>; body: string };
  responseBody: string;
}

/** One event with its attempts summed up: the console's history list. */
export interface LoggedEvent {
  eventId: string;
  trigger: string;
  op: string;
  table: string;
  lsn: string;
  attempts: number;
  firstAttemptAt: Date;
  lastAttemptAt: Date;
  /** Of the latest attempt. */
  outcome: string;
  status: number | null;
  durationMs: number;
}

/** An event's latest attempt with what a redelivery needs of it. */
export interface LoggedDelivery extends LoggedAttempt {
  firstAt: Date;
  /** The event as walhook rendered it; null in a row written before walhook kept it. */
  eventBody: string | null;
}

export interface LogQuery {
  trigger?: string | undefined;
  eventId?: string | undefined;
  /** The latest attempt's outcome: `delivered`, `retry`, `failed`. */
  outcome?: string | undefined;
  limit: number;
  offset?: number | undefined;
}

const ATTEMPT_COLUMNS = `id::text AS id, event_id, trigger, op, table_schema || '.' || table_name AS table,
  lsn::text AS lsn, attempt, batch_size, at, duration_ms, status, outcome, error_type, error,
  request_url, request_method, request_headers, request_body, response_body`;

/** Reads the log, newest first. Its own pool of one connection: reading never waits for the writer. */
export class InvocationLogReader {
  readonly #pool: pg.Pool;
  readonly #table: string;

  constructor(connection: string, table: string) {
    this.#table = quotedTable(table).quoted;
    this.#pool = new pg.Pool({
      connectionString: connection,
      max: 1,
      application_name: 'walhook-invocation-log',
    });
    this.#pool.on('error', () => {});
  }

  /** Attempts by trigger and/or event id, newest first. */
  async attempts(query: LogQuery): Promise<LoggedAttempt[]> {
    const { where, params } = whereClause(query);
    const result = await this.#pool.query(
      `SELECT ${ATTEMPT_COLUMNS} FROM ${this.#table} ${where}
       ORDER BY at DESC, id DESC LIMIT ${limitOf(query)} OFFSET ${offsetOf(query)}`,
      params,
    );
    return result.rows.map(attemptOf);
  }

  /**
   * Each event's latest attempt, with how many attempts it had and when the first was made, newest
   * first; `outcomes` keeps the events whose latest attempt had one of them (the metadata API's
   * event log).
   */
  async latest(query: {
    trigger?: string | undefined;
    eventId?: string | undefined;
    outcomes?: readonly string[] | undefined;
    limit: number;
    offset?: number | undefined;
  }): Promise<(LoggedAttempt & { tries: number; firstAt: Date })[]> {
    const { where, params } = whereClause({ trigger: query.trigger, eventId: query.eventId, limit: 0 });
    const outcomes =
      query.outcomes === undefined ? '' : `WHERE outcome = ANY($${params.push(query.outcomes)})`;
    const result = await this.#pool.query(
      `SELECT * FROM (
         SELECT DISTINCT ON (event_id) ${ATTEMPT_COLUMNS},
                count(*) OVER (PARTITION BY event_id)::int AS tries, min(at) OVER (PARTITION BY event_id) AS first_at
           FROM ${this.#table} ${where} ORDER BY event_id, at DESC, id DESC) latest
       ${outcomes} ORDER BY at DESC, event_id LIMIT ${limitOf(query)} OFFSET ${offsetOf(query)}`,
      params,
    );
    return result.rows.map((row) => ({ ...attemptOf(row), tries: row.tries, firstAt: row.first_at }));
  }

  /** The latest attempt of the event `eventId`, with its body; null when the log has none. */
  async delivery(eventId: string): Promise<LoggedDelivery | null> {
    const result = await this.#pool.query(
      `SELECT ${ATTEMPT_COLUMNS},
              CASE WHEN event_body = '' THEN request_body ELSE event_body END AS event_body,
              min(at) OVER () AS first_at
         FROM ${this.#table} WHERE event_id = $1 ORDER BY at DESC, id DESC LIMIT 1`,
      [eventId],
    );
    const [row] = result.rows;
    return row === undefined ? null : { ...attemptOf(row), firstAt: row.first_at, eventBody: row.event_body };
  }

  /** Events by their latest attempt, newest first, with that attempt's outcome. */
  async events(query: LogQuery): Promise<LoggedEvent[]> {
    const { where, params } = whereClause({ ...query, outcome: undefined });
    const having =
      query.outcome === undefined
        ? ''
        : `HAVING (array_agg(outcome ORDER BY at DESC, id DESC))[1] = $${params.push(query.outcome)}`;
    const result = await this.#pool.query(
      `SELECT event_id, trigger, op, table_schema || '.' || table_name AS table, lsn::text AS lsn,
              count(*)::int AS attempts, min(at) AS first_at, max(at) AS last_at,
              (array_agg(outcome ORDER BY at DESC, id DESC))[1] AS outcome,
              (array_agg(status ORDER BY at DESC, id DESC))[1] AS status,
              (array_agg(duration_ms ORDER BY at DESC, id DESC))[1] AS duration_ms
         FROM ${this.#table} ${where}
        GROUP BY event_id, trigger, op, table_schema, table_name, lsn ${having}
        ORDER BY max(at) DESC, max(id) DESC LIMIT ${limitOf(query)} OFFSET ${offsetOf(query)}`,
      params,
    );
    return result.rows.map((row) => ({
      eventId: row.event_id,
      trigger: row.trigger,
      op: row.op,
      table: row.table,
      lsn: row.lsn,
      attempts: row.attempts,
      firstAttemptAt: row.first_at,
      lastAttemptAt: row.last_at,
      outcome: row.outcome,
      status: row.status,
      durationMs: row.duration_ms,
    }));
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}

function whereClause(query: LogQuery): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (query.trigger !== undefined) conditions.push(`trigger = $${params.push(query.trigger)}`);
  if (query.eventId !== undefined) conditions.push(`event_id = $${params.push(query.eventId)}`);
  if (query.outcome !== undefined) conditions.push(`outcome = $${params.push(query.outcome)}`);
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

/** Whole numbers only, so they can go into the statement as they are. */
function limitOf(query: LogQuery): number {
  return Math.max(0, Math.floor(query.limit));
}

function offsetOf(query: LogQuery): number {
  return Math.max(0, Math.floor(query.offset ?? 0));
}

// biome-ignore lint/suspicious/noExplicitAny: a row of the SELECT above
function attemptOf(row: any): LoggedAttempt {
  return {
    id: row.id,
    eventId: row.event_id,
    trigger: row.trigger,
    op: row.op,
    table: row.table,
    lsn: row.lsn,
    attempt: row.attempt,
    batchSize: row.batch_size,
    at: row.at,
    durationMs: row.duration_ms,
    status: row.status,
    outcome: row.outcome,
    errorType: row.error_type,
    error: row.error,
    request: {
      url: row.request_url,
      method: row.request_method,
      headers: row.request_headers,
      body: row.request_body,
    },
    responseBody: row.response_body,
  };
}
