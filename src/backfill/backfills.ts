import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { stringifyJson } from '../core/json.js';
import type { TupleData } from '../source/change.js';
import type { ReadableTable, TableReader } from '../source/table-reader.js';
import type { Change, LogicalMessage, TransactionInfo } from '../source/transaction-reader.js';
import type { CompiledTrigger, TriggerIndex } from '../triggers/matcher.js';
import { BackfillRun, newProgress, type RunContext } from './backfill-run.js';
import type { BackfillProgress, ProgressStore } from './progress-store.js';
import { ChunkWindows, WATERMARK_SQL, watermarkContent } from './watermarks.js';

export interface BackfillRequest {
  trigger: string;
  /** Rows to send, in the trigger's `where` syntax (already validated); null for all. */
  where: unknown;
  batchSize: number;
  op: 'MANUAL' | 'READ';
  /** Start over instead of continuing a run that was stopped or failed. */
  restart: boolean;
}

/** A backfill as `/status` and the CLI show it. */
export interface BackfillReport {
  trigger: string;
  state: BackfillProgress['state'];
  op: BackfillProgress['op'];
  rows_read: number;
  rows_sent: number;
  total_estimate: number | null;
  remaining: number | null;
  rate_per_sec: number;
  eta_sec: number | null;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
  error: string | null;
}

export interface ManualOutcome {
  event_id: string;
  outcome: 'delivered' | 'failed';
}

/** How long a given row's invocation waits for the stream to reach its watermark. */
const GIVEN_TIMEOUT_MS = 30_000;

/** How often a manual invocation reads again when its row changed between the watermarks. */
const INVOKE_ATTEMPTS = 5;

/**
 * The pipeline's backfills and manual invocations: rows read from the tables and handed on through
 * the stream at watermarks (see watermarks.ts), so they share the triggers' delivery, ordering and
 * checkpoint with the changes.
 */
export class Backfills {
  readonly windows = new ChunkWindows();
  readonly #runs = new Map<string, BackfillRun>();
  readonly #tables = new Map<string, Promise<ReadableTable>>();
  readonly #context: RunContext;
  #closed = false;

  constructor(
    private readonly triggers: TriggerIndex,
    private readonly reader: TableReader,
    private readonly store: ProgressStore,
    emit: RunContext['emit'],
    onPage: RunContext['onPage'],
    private readonly logger: Logger,
  ) {
    this.#context = { reader, store, windows: this.windows, logger, emit, onPage };
  }

  /** The stream's changes and messages, in order. */
  observe(change: Change): void {
    if (this.windows.size > 0) this.windows.observe(change);
  }

  message(message: LogicalMessage): void {
    this.windows.message(message);
  }

  /** Continues the backfills a stop or crash interrupted. */
  async resume(): Promise<void> {
    const names = this.#manualTriggers().map((t) => t.name);
    // Without a trigger that allows it there is nothing to continue, and no progress table to create.
    if (names.length === 0) return;
    for (const progress of await this.store.running(names)) {
      const trigger = this.triggers.named(progress.trigger) as CompiledTrigger;
      this.logger.info({ trigger: trigger.name, rows_read: progress.rowsRead }, 'continuing a backfill');
      this.#begin(trigger, await this.#table(trigger), progress);
    }
  }

  async start(request: BackfillRequest): Promise<BackfillReport> {
    const trigger = this.#manual(request.trigger);
    if (this.#runs.get(trigger.name)?.progress.state === 'running') {
      throw new BackfillConflict(`a backfill of trigger ${trigger.name} is already running`);
    }
    const table = await this.#table(trigger);
    const stored = request.restart ? null : await this.store.load(trigger.name);
    const continuing = stored !== null && stored.state !== 'done';
    const progress = continuing
      ? { ...stored, state: 'running' as const, error: null, finishedAt: null }
      : newProgress(trigger.name, request);
    await this.store.save(progress);
    this.logger.info(
      { trigger: trigger.name, run_id: progress.runId, rows_read: progress.rowsRead, continuing },
      continuing ? 'backfill continues' : 'backfill started',
    );
    return report(this.#begin(trigger, table, progress));
  }

  /** Stops a running backfill; it continues from where it stopped when started again. */
  async cancel(name: string): Promise<BackfillReport | null> {
    const run = this.#runs.get(this.#manual(name).name);
    if (run === undefined) return null;
    await run.stop('cancelled');
    return report(run);
  }

  /** The names of the key columns a manual invocation of the trigger gives (read once, then kept). */
  async keyColumns(name: string): Promise<string[]> {
    const table = await this.#table(this.#manual(name));
    return table.key.map((column) => column.name);
  }

  reports(): BackfillReport[] {
    return [...this.#runs.values()].map(report);
  }

  /**
   * Reads the row with `key` now and delivers it as a MANUAL event through the trigger; resolves
   * once it is delivered or dead-lettered.
   */
  async invoke(name: string, key: Readonly<Record<string, unknown>>): Promise<ManualOutcome> {
    const trigger = this.#manual(name);
    const table = await this.#table(trigger);
    const values = keyValues(table, key);
    for (let attempt = 0; attempt < INVOKE_ATTEMPTS; attempt++) {
      const outcome = await this.#invokeOnce(trigger, table, values, key);
      if (outcome !== null) return outcome;
    }
    throw new BackfillConflict('the row changed every time it was read; try again');
  }

  /**
   * Hands `row` on as a MANUAL event of the trigger exactly as given (Hasura's
   * `pg_invoke_event_trigger`): nothing is read from the table, the row need not exist. It goes out
   * at a watermark like a read row, so the checkpoint and the row's ordering lane hold it; resolves
   * with its id once handed on, before it is delivered.
   */
  async invokeGiven(name: string, row: Readonly<Record<string, unknown>>): Promise<{ event_id: string }> {
    const trigger = this.#manual(name);
    const table = await this.#table(trigger);
    // Only for the ordering key: the text forms of the given columns, as pgoutput would carry them.
    const tuple = table.info.relation.columns.map((column) => textOf(row[column.name]));
    const id = `invoke/${randomUUID()}`;
    let handedOn: (eventId: string) => void = () => {};
    const emitted = new Promise<string>((resolve) => {
      handedOn = resolve;
    });
    this.windows.register({
      id,
      relation: table.info,
      rows: [tuple],
      // A change of the row in between does not drop it: it is the given row, not a read one.
      emit: (_rows, txn) => {
        const eventId = this.#context.emit({
          trigger,
          table,
          row: tuple,
          given: stringifyJson(row),
          op: 'MANUAL',
          txn,
          index: 0,
          onSettled: () => {},
        });
        handedOn(eventId);
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new BackfillConflict('the stream did not reach the invocation in time; try again')),
        GIVEN_TIMEOUT_MS,
      );
    });
    try {
      await this.reader.query(WATERMARK_SQL, [watermarkContent(id, 'low')]);
      await this.reader.query(WATERMARK_SQL, [watermarkContent(id, 'high')]);
      return { event_id: await Promise.race([emitted, timedOut]) };
    } finally {
      clearTimeout(timer);
      this.windows.forget(id);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#runs.values()].map((run) => run.stop('running')));
    await this.reader.close();
    await this.store.close();
  }

  /** One read between watermarks; null when the row changed in between (the stream carries that). */
  async #invokeOnce(
    trigger: CompiledTrigger,
    table: ReadableTable,
    key: readonly string[],
    given: Readonly<Record<string, unknown>>,
  ): Promise<ManualOutcome | null> {
    const id = `invoke/${randomUUID()}`;
    let finish: (outcome: ManualOutcome | null) => void = () => {};
    const finished = new Promise<ManualOutcome | null>((resolve) => {
      finish = resolve;
    });
    const chunk = {
      id,
      relation: table.info,
      rows: null as TupleData[] | null,
      emit: (rows: TupleData[], txn: TransactionInfo) => {
        const [row] = rows;
        if (row === undefined) {
          finish(null);
          return;
        }
        const eventId = this.#context.emit({
          trigger,
          table,
          row,
          op: 'MANUAL',
          txn,
          index: 0,
          onSettled: (outcome) => finish({ event_id: eventId, outcome }),
        });
      },
    };
    this.windows.register(chunk);
    try {
      await this.reader.query(WATERMARK_SQL, [watermarkContent(id, 'low')]);
      const row = await this.reader.row(table, key);
      if (row === null) {
        throw new BackfillNotFound(
          `trigger ${trigger.name}: no row of ${table.info.table} has the key ${stringifyJson(given)}`,
        );
      }
      chunk.rows = [row];
      await this.reader.query(WATERMARK_SQL, [watermarkContent(id, 'high')]);
      return await finished;
    } finally {
      this.windows.forget(id);
    }
  }

  #begin(trigger: CompiledTrigger, table: ReadableTable, progress: BackfillProgress): BackfillRun {
    const run = new BackfillRun(trigger, table, progress, this.#context);
    this.#runs.set(trigger.name, run);
    return run;
  }

  #manualTriggers(): CompiledTrigger[] {
    return this.triggers.all().filter((t) => t.enableManual);
  }

  #manual(name: string): CompiledTrigger {
    if (this.#closed) throw new BackfillConflict('the pipeline is stopping');
    const trigger = this.triggers.named(name);
    if (trigger === undefined) throw new BackfillNotFound(`no trigger named ${name}`);
    if (!trigger.enableManual) {
      throw new BackfillForbidden(
        `trigger ${name} has enable_manual: false; set enable_manual: true on it to invoke it by hand or backfill it`,
      );
    }
    return trigger;
  }

  #table(trigger: CompiledTrigger): Promise<ReadableTable> {
    let table = this.#tables.get(trigger.name);
    if (table === undefined) {
      table = this.reader.describe(trigger.table);
      table.catch(() => this.#tables.delete(trigger.name));
      this.#tables.set(trigger.name, table);
    }
    return table;
  }
}

/** The text values of a key given as `{"id": 42}`: every key column, nothing else. */
function keyValues(table: ReadableTable, key: Readonly<Record<string, unknown>>): string[] {
  const names = table.key.map((k) => k.name);
  const extra = Object.keys(key).find((name) => !names.includes(name));
  if (extra !== undefined || names.some((name) => key[name] === undefined || key[name] === null)) {
    throw new BackfillBadRequest(
      `the key of ${table.info.table} is ${JSON.stringify(names)}: give exactly these columns, not null${extra === undefined ? '' : ` (${JSON.stringify(extra)} is not one)`}`,
    );
  }
  return names.map((name) => {
    const value = key[name];
    // A number's digits as the user wrote them; Postgres reads them as the column's type.
    return typeof value === 'string' ? value : stringifyJson(value);
  });
}

/** A JSON value as the text pgoutput carries for it: strings as they are, the rest as JSON. */
function textOf(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return value;
  return typeof value === 'string' ? value : stringifyJson(value);
}

function report(run: BackfillRun): BackfillReport {
  return reportOf(run.progress, run.pace, run.remaining);
}

function reportOf(
  p: BackfillProgress,
  pace: { ratePerSec: number; etaSec: number | null },
  remaining: number | null,
): BackfillReport {
  return {
    trigger: p.trigger,
    state: p.state,
    op: p.op,
    rows_read: p.rowsRead,
    rows_sent: p.rowsSent,
    total_estimate: p.totalEstimate,
    remaining: p.state === 'done' ? 0 : remaining,
    rate_per_sec: Math.round(pace.ratePerSec * 10) / 10,
    eta_sec: pace.etaSec === null ? null : Math.round(pace.etaSec),
    started_at: p.startedAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
    finished_at: p.finishedAt?.toISOString() ?? null,
    error: p.error,
  };
}

/** Answered 404 over HTTP. */
export class BackfillNotFound extends Error {}
/** Answered 403: the trigger does not allow it. */
export class BackfillForbidden extends Error {}
/** Answered 409. */
export class BackfillConflict extends Error {}
/** Answered 400. */
export class BackfillBadRequest extends Error {}
