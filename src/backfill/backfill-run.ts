import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { TupleData } from '../source/change.js';
import type { ReadableTable, TableReader } from '../source/table-reader.js';
import type { TransactionInfo } from '../source/transaction-reader.js';
import type { CompiledTrigger } from '../triggers/matcher.js';
import { readRowMatches } from '../triggers/matcher.js';
import { compileWhere } from '../triggers/where.js';
import type { WhereExpression } from '../triggers/where-schema.js';
import type { BackfillProgress, ProgressStore } from './progress-store.js';
import { type ChunkWindows, WATERMARK_SQL, watermarkContent } from './watermarks.js';

/** What a run needs from its pipeline. */
export interface RunContext {
  reader: TableReader;
  store: ProgressStore;
  windows: ChunkWindows;
  logger: Logger;
  /**
   * Hands a row on as an event of the trigger and returns its id; `onSettled` once it is delivered
   * or dead-lettered.
   */
  emit(read: {
    trigger: CompiledTrigger;
    table: ReadableTable;
    row: TupleData;
    op: 'MANUAL' | 'READ';
    txn: TransactionInfo;
    index: number;
    onSettled: (outcome: 'delivered' | 'failed') => void;
    /** The JSON of a row given rather than read (the metadata API's invocation): sent as it is. */
    given?: string;
  }): string;
  /** After each page: rows sent and rows left (estimate), for metrics. */
  onPage(trigger: string, sent: number, remaining: number | null): void;
}

/** Thrown into the waits of a run that is stopping. */
class Stopped extends Error {}

/**
 * One trigger's backfill: pages of the table in key order, each read between two watermarks and
 * handed on at the high one, the next page only once this one has settled, progress stored after
 * each. Stopping leaves the stored progress as it is, so the run can continue later.
 */
export class BackfillRun {
  readonly progress: BackfillProgress;
  /** Rows read by this process, and since when: the rate and ETA are this process's. */
  #readHere = 0;
  readonly #since = Date.now();
  #stopping: ((err: Stopped) => void) | null = null;
  readonly #stopped: Promise<never>;
  readonly #filter: ReturnType<typeof compileWhere> | null;
  readonly done: Promise<void>;

  constructor(
    private readonly trigger: CompiledTrigger,
    private readonly table: ReadableTable,
    progress: BackfillProgress,
    private readonly context: RunContext,
  ) {
    this.progress = { ...progress };
    this.#filter = progress.where ? compileWhere(progress.where as WhereExpression) : null;
    this.#stopped = new Promise<never>((_, reject) => {
      this.#stopping = reject;
    });
    this.#stopped.catch(() => {});
    this.done = this.#loop();
  }

  /** Rows read per second in this process, and seconds left at that rate (null when unknown). */
  get pace(): { ratePerSec: number; etaSec: number | null } {
    const elapsed = (Date.now() - this.#since) / 1000;
    const ratePerSec = elapsed > 0 ? this.#readHere / elapsed : 0;
    const remaining = this.remaining;
    return {
      ratePerSec,
      etaSec: remaining === null || ratePerSec === 0 ? null : remaining / ratePerSec,
    };
  }

  get remaining(): number | null {
    if (this.progress.state === 'done') return 0;
    const { totalEstimate, rowsRead } = this.progress;
    return totalEstimate === null ? null : Math.max(0, totalEstimate - rowsRead);
  }

  /** Ends the run after the page in hand; `state` is what is stored (running: continue at next start). */
  async stop(state: 'running' | 'cancelled'): Promise<void> {
    this.#stopping?.(new Stopped());
    this.#stopping = null;
    await this.done;
    if (this.progress.state === 'running' && state === 'cancelled') {
      await this.#save({ state: 'cancelled' });
    }
  }

  async #loop(): Promise<void> {
    const { reader, logger } = this.context;
    try {
      this.progress.totalEstimate = await this.#race(reader.estimate(this.table));
      for (;;) {
        const page = await this.#page();
        if (page === null) break;
        this.context.onPage(this.trigger.name, page.sent, this.remaining);
      }
      await this.#save({ state: 'done', finishedAt: new Date() });
      this.context.onPage(this.trigger.name, 0, 0);
      logger.info(
        { trigger: this.trigger.name, rows_read: this.progress.rowsRead, rows_sent: this.progress.rowsSent },
        'backfill done',
      );
    } catch (err) {
      if (err instanceof Stopped) return;
      logger.error({ err, trigger: this.trigger.name }, 'backfill failed; run it again to continue');
      await this.#save({ state: 'failed', error: err instanceof Error ? err.message : String(err) }).catch(
        () => {},
      );
    }
  }

  /** Reads, hands on and settles one page; null when there is none left. */
  async #page(): Promise<{ sent: number } | null> {
    const { reader, windows } = this.context;
    const id = `${this.progress.runId}/${randomUUID()}`;
    let settle: (sent: number) => void = () => {};
    const settled = new Promise<number>((resolve) => {
      settle = resolve;
    });
    const chunk = {
      id,
      relation: this.table.info,
      rows: null as TupleData[] | null,
      emit: (rows: TupleData[], txn: TransactionInfo) => {
        const matching = rows.filter(
          (row) =>
            readRowMatches(this.trigger.where, this.table.info, row) &&
            readRowMatches(this.#filter, this.table.info, row),
        );
        let pending = matching.length;
        if (pending === 0) settle(0);
        matching.forEach((row, index) => {
          this.context.emit({
            trigger: this.trigger,
            table: this.table,
            row,
            op: this.progress.op,
            txn,
            index,
            onSettled: () => {
              pending -= 1;
              if (pending === 0) settle(matching.length);
            },
          });
        });
      },
    };
    windows.register(chunk);
    try {
      await this.#race(reader.query(WATERMARK_SQL, [watermarkContent(id, 'low')]));
      const rows = await this.#race(reader.page(this.table, this.progress.lastKey, this.progress.batchSize));
      if (rows.length === 0) return null;
      chunk.rows = rows;
      await this.#race(reader.query(WATERMARK_SQL, [watermarkContent(id, 'high')]));
      const sent = await this.#race(settled);
      const last = rows[rows.length - 1] as TupleData;
      this.#readHere += rows.length;
      await this.#save({
        lastKey: this.table.key.map((k) => last[k.index] as string),
        rowsRead: this.progress.rowsRead + rows.length,
        rowsSent: this.progress.rowsSent + sent,
      });
      return { sent };
    } finally {
      windows.forget(id);
    }
  }

  #race<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.#stopped]);
  }

  async #save(change: Partial<BackfillProgress>): Promise<void> {
    Object.assign(this.progress, change, { updatedAt: new Date() });
    await this.context.store.save(this.progress);
  }
}

/** A fresh run's progress. */
export function newProgress(
  trigger: string,
  options: { op: 'MANUAL' | 'READ'; where: unknown; batchSize: number },
): BackfillProgress {
  const now = new Date();
  return {
    trigger,
    runId: randomUUID(),
    state: 'running',
    op: options.op,
    where: options.where ?? null,
    batchSize: options.batchSize,
    lastKey: null,
    rowsRead: 0,
    rowsSent: 0,
    totalEstimate: null,
    startedAt: now,
    updatedAt: now,
    finishedAt: null,
    error: null,
  };
}
