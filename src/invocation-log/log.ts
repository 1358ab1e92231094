import pg from 'pg';
import type { Logger } from 'pino';
import type { DeliveryRecorder } from '../sinks/engine-hooks.js';
import { RetentionPruner } from './pruner.js';
import { RecordRenderer } from './record.js';
import type { InvocationLogConfig } from './settings.js';
import { ensureTable } from './table.js';
import { InvocationLogWriter, type WriterCounters, type WriterLimits } from './writer.js';

/** How long a stop waits for the records still buffered to be written. */
const CLOSE_TIMEOUT_MS = 2_000;

/**
 * A pipeline's invocation log: its table, the writer the delivery engine records attempts to, and the
 * retention. Its own pool of two connections (a write and a prune at once), apart from the dead letters'.
 */
export class InvocationLog {
  readonly recorder: DeliveryRecorder;
  readonly #pool: pg.Pool;
  readonly #table: string;
  readonly #writer: InvocationLogWriter;
  readonly #pruner: RetentionPruner;
  readonly #logger: Logger;
  #started = false;

  constructor(options: {
    connection: string;
    config: InvocationLogConfig;
    userAgent: string;
    counters: WriterCounters;
    logger: Logger;
    limits?: Partial<WriterLimits>;
  }) {
    const { config, counters } = options;
    this.#table = config.table;
    this.#logger = options.logger.child({ component: 'invocation-log', table: config.table });
    this.#pool = new pg.Pool({
      connectionString: options.connection,
      max: 2,
      application_name: 'walhook-invocation-log',
    });
    // An idle connection that breaks (a server restart) must not crash the process; the pool reconnects.
    this.#pool.on('error', (err) => this.#logger.debug({ err }, 'invocation log connection lost'));
    this.#writer = new InvocationLogWriter({
      pool: this.#pool,
      table: config.table,
      renderer: new RecordRenderer(options.userAgent, config.max_response_bytes),
      counters,
      logger: this.#logger,
      ...(options.limits && { limits: options.limits }),
    });
    this.#pruner = new RetentionPruner({
      pool: this.#pool,
      table: config.table,
      retentionMs: config.retention,
      logger: this.#logger,
      onError: () => counters.writeFailed(),
    });
    this.recorder = this.#writer;
  }

  /** Creates the table when missing, then starts writing and pruning. */
  async init(): Promise<void> {
    await ensureTable(this.#pool, this.#table, this.#logger);
    if (this.#started) return;
    this.#started = true;
    this.#writer.start();
    this.#pruner.start();
  }

  /** Writes what is buffered (for a short while at most) and closes the connections. */
  async close(): Promise<void> {
    await this.#pruner.stop();
    await this.#writer.close(CLOSE_TIMEOUT_MS);
    await this.#pool.end();
  }
}
