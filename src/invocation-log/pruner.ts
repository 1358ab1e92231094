import type pg from 'pg';
import type { Logger } from 'pino';
import { quotedTable } from './table.js';

/** How often the retention is applied; it also runs once at start. */
const PRUNE_EVERY_MS = 60_000;
/** Rows per DELETE: short statements, so no long lock or transaction holds up the writes. */
const PRUNE_BATCH = 5_000;

/**
 * Deletes the rows older than the retention, in small batches, at start and then every minute. A
 * failure is logged and the next round tries again: an oversized log is no reason to stop delivering.
 */
export class RetentionPruner {
  readonly #pool: pg.Pool;
  readonly #delete: string;
  readonly #retentionMs: number;
  readonly #logger: Logger;
  readonly #onError: () => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(options: {
    pool: pg.Pool;
    table: string;
    retentionMs: number;
    logger: Logger;
    onError: () => void;
  }) {
    const { quoted } = quotedTable(options.table);
    this.#pool = options.pool;
    this.#retentionMs = options.retentionMs;
    this.#logger = options.logger;
    this.#onError = options.onError;
    // The BRIN index on `at` finds the old rows; by id so each batch is a plain index delete.
    this.#delete = `DELETE FROM ${quoted} WHERE id IN (SELECT id FROM ${quoted} WHERE at < $1 LIMIT ${PRUNE_BATCH})`;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.prune(), PRUNE_EVERY_MS);
    this.#timer.unref();
    void this.prune();
  }

  /** One round: batches until one is not full. Never rejects. */
  prune(): Promise<void> {
    this.#running ??= this.#round().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  async #round(): Promise<void> {
    const before = new Date(Date.now() - this.#retentionMs);
    let deleted = 0;
    try {
      for (;;) {
        if (this.#stopped) break;
        const result = await this.#pool.query(this.#delete, [before]);
        deleted += result.rowCount ?? 0;
        if ((result.rowCount ?? 0) < PRUNE_BATCH) break;
      }
    } catch (err) {
      this.#onError();
      this.#logger.warn(
        { err, deleted },
        'cannot apply the invocation log retention; trying again in a minute',
      );
      return;
    }
    if (deleted > 0) this.#logger.debug({ deleted, before: before.toISOString() }, 'invocation log pruned');
  }
}
