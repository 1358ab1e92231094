import type pg from 'pg';
import type { Logger } from 'pino';
import type { DeliveryEvent } from '../core/delivery-event.js';
import type { DeliveryRecorder, SentAttempt } from '../sinks/engine-hooks.js';
import { DropOldestBuffer } from './buffer.js';
import type { InvocationRecord, PendingAttempt, RecordRenderer } from './record.js';
import { quotedTable } from './table.js';

/** How a writer is tuned; the defaults suit a pipeline, tests make them small. */
export interface WriterLimits {
  /** A write goes out at least this often while records wait. */
  flushMs: number;
  /** Records per INSERT; this many waiting start a write at once. */
  batchRecords: number;
  /** Attempts held while the database is slow or away; past it the oldest are dropped. */
  maxPending: number;
  /** Characters of request bodies held at most, for the same reason. */
  maxPendingChars: number;
}

export const DEFAULT_LIMITS: WriterLimits = {
  flushMs: 200,
  batchRecords: 500,
  maxPending: 10_000,
  maxPendingChars: 32 * 1024 * 1024,
};

/** Waits after a failed write: from one flush interval up to this. */
const MAX_BACKOFF_MS = 5_000;
/** SQLSTATE classes of data a retry cannot fix (bad values, constraints): such a batch is dropped. */
const DATA_ERROR = /^2[23]/;

/** Where a writer counts what becomes of its records. */
export interface WriterCounters {
  written(records: number): void;
  dropped(records: number): void;
  writeFailed(): void;
}

const COLUMNS: readonly [string, (r: InvocationRecord) => unknown][] = [
  ['event_id', (r) => r.eventId],
  ['trigger', (r) => r.trigger],
  ['op', (r) => r.op],
  ['table_schema', (r) => r.tableSchema],
  ['table_name', (r) => r.tableName],
  ['lsn', (r) => r.lsn],
  ['attempt', (r) => r.attempt],
  ['batch_size', (r) => r.batchSize],
  ['at', (r) => r.at],
  ['duration_ms', (r) => r.durationMs],
  ['status', (r) => r.status],
  ['outcome', (r) => r.outcome],
  ['error_type', (r) => r.errorType],
  ['error', (r) => r.error],
  ['request_url', (r) => r.requestUrl],
  ['request_method', (r) => r.requestMethod],
  ['request_headers', (r) => r.requestHeaders],
  ['request_body', (r) => r.requestBody],
  ['event_body', (r) => r.eventBody],
  ['response_body', (r) => r.responseBody],
];
/** Rows per statement: 20,000 parameters, well under Postgres's 65,535. */
const STATEMENT_ROWS = 1_000;

/**
 * The engine's recorder for the log: `attempt` only appends to a bounded buffer, and a timer writes
 * what waits with one multi-row INSERT. Each value is its own parameter rather than an element of an
 * array parameter: node-postgres would escape every quote of every JSON body into an array literal,
 * which costs the delivery thread more than the statement saves. While the database
 * is slow or away the buffer fills and drops its oldest attempts, counted, and deliveries go on:
 * the log is a record of deliveries, never a condition of them.
 */
export class InvocationLogWriter implements DeliveryRecorder {
  readonly #pool: pg.Pool;
  readonly #insertInto: string;
  /** `($1, …, $20)`, `($21, …)`, … for the largest batch, cut to size per write. */
  readonly #rows: string[] = [];
  readonly #renderer: RecordRenderer;
  readonly #buffer: DropOldestBuffer<PendingAttempt>;
  readonly #limits: WriterLimits;
  readonly #counters: WriterCounters;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | null = null;
  /** Records (one per event of an attempt) in the buffer. */
  #pendingRecords = 0;
  #waitUntil = 0;
  #backoffMs = 0;
  /** Records dropped since writes last worked: an episode is logged once, when it starts and ends. */
  #droppedInEpisode = 0;
  #failing = false;

  constructor(options: {
    pool: pg.Pool;
    table: string;
    renderer: RecordRenderer;
    counters: WriterCounters;
    logger: Logger;
    limits?: Partial<WriterLimits>;
  }) {
    this.#pool = options.pool;
    this.#renderer = options.renderer;
    this.#counters = options.counters;
    this.#logger = options.logger;
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    const names = COLUMNS.map(([name]) => name).join(', ');
    this.#insertInto = `INSERT INTO ${quotedTable(options.table).quoted} (${names}) VALUES `;
    this.#buffer = new DropOldestBuffer<PendingAttempt>(
      this.#limits.maxPending,
      this.#limits.maxPendingChars,
      (pending) => pending.sent.body.length + (pending.sent.letterBody?.length ?? 0),
      (pending) => {
        this.#pendingRecords -= pending.events.length;
        this.#drop(pending.events.length, 'full');
      },
    );
  }

  /** Attempts waiting to be written. */
  get pending(): number {
    return this.#buffer.length;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.#flush(), this.#limits.flushMs);
    this.#timer.unref();
  }

  attempt(events: readonly DeliveryEvent[], sent: SentAttempt): void {
    this.#pendingRecords += events.length;
    this.#buffer.push({ events, sent });
    if (this.#pendingRecords >= this.#limits.batchRecords) this.#flush();
  }

  /** Writes what waits, for at most `timeoutMs`; what is left then is dropped (counted). */
  async close(timeoutMs: number): Promise<void> {
    clearInterval(this.#timer);
    const deadline = Date.now() + timeoutMs;
    this.#waitUntil = 0;
    while (Date.now() < deadline && (this.#buffer.length > 0 || this.#writing !== null)) {
      const before = this.#buffer.length;
      await (this.#writing ?? this.#flush() ?? Promise.resolve());
      if (this.#failing && this.#buffer.length >= before) break;
    }
    const left = this.#buffer.take(this.#buffer.length);
    this.#pendingRecords = 0;
    if (left.length > 0)
      this.#drop(
        left.reduce((sum, p) => sum + p.events.length, 0),
        'closing',
      );
  }

  /** Starts a write unless one is running or a failed one is being waited out. */
  #flush(): Promise<void> | undefined {
    if (this.#writing !== null || this.#buffer.length === 0 || Date.now() < this.#waitUntil) return;
    this.#writing = this.#write().finally(() => {
      this.#writing = null;
    });
    return this.#writing;
  }

  async #write(): Promise<void> {
    // Attempts until `batchRecords` records (one per event: a batch's attempt brings many), at least one.
    const taken: PendingAttempt[] = [];
    for (let count = 0; count < this.#limits.batchRecords && this.#buffer.length > 0; ) {
      const [pending] = this.#buffer.take(1) as [PendingAttempt];
      taken.push(pending);
      count += pending.events.length;
    }
    this.#pendingRecords -= taken.reduce((sum, pending) => sum + pending.events.length, 0);
    const records = taken.flatMap((pending) => this.#renderer.records(pending));
    try {
      await this.#insert(records);
    } catch (err) {
      this.#failed(err, taken, records.length);
      return;
    }
    this.#counters.written(records.length);
    this.#backoffMs = 0;
    if (this.#failing || this.#droppedInEpisode > 0) {
      this.#logger.info({ dropped: this.#droppedInEpisode }, 'invocation log written again');
    }
    this.#failing = false;
    this.#droppedInEpisode = 0;
    // A backlog (after an outage, or a burst) goes out batch after batch rather than one per tick.
    if (this.#pendingRecords >= this.#limits.batchRecords) setImmediate(() => this.#flush());
  }

  /** One statement, or for a large batch's attempts several in one transaction: all or nothing. */
  async #insert(records: InvocationRecord[]): Promise<void> {
    if (records.length <= STATEMENT_ROWS) {
      await this.#pool.query(...this.#statement(records));
      return;
    }
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      for (let start = 0; start < records.length; start += STATEMENT_ROWS) {
        await client.query(...this.#statement(records.slice(start, start + STATEMENT_ROWS)));
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  #statement(records: readonly InvocationRecord[]): [string, unknown[]] {
    const params: unknown[] = [];
    for (const record of records) for (const [, value] of COLUMNS) params.push(value(record));
    return [this.#insertInto + this.#placeholders(records.length), params];
  }

  #placeholders(rows: number): string {
    const width = COLUMNS.length;
    for (let row = this.#rows.length; row < rows; row++) {
      this.#rows.push(`(${COLUMNS.map((_, i) => `$${row * width + i + 1}`).join(', ')})`);
    }
    return this.#rows.slice(0, rows).join(', ');
  }

  #failed(err: unknown, taken: PendingAttempt[], records: number): void {
    this.#counters.writeFailed();
    const code = (err as { code?: unknown }).code;
    const poisoned = typeof code === 'string' && DATA_ERROR.test(code);
    if (!this.#failing) {
      this.#logger.warn(
        { err, pending: this.#buffer.length + taken.length },
        poisoned
          ? 'cannot write to the invocation log: the database refused these records; they are dropped, deliveries go on'
          : 'cannot write to the invocation log; deliveries go on, records wait and the oldest are dropped past the limit',
      );
    }
    this.#failing = true;
    if (poisoned) this.#drop(records, 'refused');
    else {
      this.#pendingRecords += records;
      this.#buffer.putBack(taken);
    }
    this.#backoffMs = Math.min(Math.max(this.#limits.flushMs, this.#backoffMs * 2), MAX_BACKOFF_MS);
    this.#waitUntil = Date.now() + this.#backoffMs;
  }

  /** `full`: room for newer ones; `refused`: the database refused them; `closing`: unwritten at stop. */
  #drop(records: number, why: 'full' | 'refused' | 'closing'): void {
    if (why === 'closing') {
      this.#logger.warn({ dropped: records }, 'invocation log records left unwritten at stop');
    } else if (why === 'full' && this.#droppedInEpisode === 0) {
      this.#logger.warn(
        { limit: this.#limits.maxPending },
        'invocation log buffer full: dropping its oldest records until writes catch up',
      );
    }
    this.#droppedInEpisode += records;
    this.#counters.dropped(records);
  }
}
