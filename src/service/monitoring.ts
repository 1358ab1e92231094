import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { PipelineMetrics } from '../core/metrics/metrics.js';
import type { DeadLetterStore } from '../dead-letters/store.js';
import { startHeartbeat } from '../source/heartbeat.js';
import { DeadLetterCount } from './dead-letter-count.js';
import { SlotMonitor } from './slot-monitor.js';
import { type Snapshot, StatusReporter } from './status.js';

const SLOT_CHECK_MS = 5_000;
const DEAD_LETTER_COUNT_MS = 10_000;

/**
 * The periodic work beside the stream: slot checks, the dead-letter count, status samples and
 * heartbeats. The database work runs on a connection of its own, so it never waits behind the
 * feed's lookups (nor they behind it).
 */
export class Monitoring {
  readonly slot: SlotMonitor;
  readonly deadLetters: DeadLetterCount;
  readonly status: StatusReporter;
  private readonly pool: pg.Pool;
  private stopHeartbeat: () => void = () => {};

  constructor(
    private readonly config: Readonly<Config>,
    private readonly metrics: PipelineMetrics,
    store: DeadLetterStore,
    private readonly logger: Logger,
    snapshot: () => Snapshot,
  ) {
    this.pool = new pg.Pool({
      connectionString: config.source.connection,
      application_name: 'walhook-monitor',
      max: 1,
    });
    this.pool.on('error', (err) => logger.warn({ err }, 'monitor connection error'));
    this.slot = new SlotMonitor({
      slot: config.source.slot,
      maxRetainedWal: config.source.max_retained_wal,
      everyMs: SLOT_CHECK_MS,
      query: (sql, params) => this.pool.query(sql, params),
      metrics,
      logger,
    });
    this.deadLetters = new DeadLetterCount(store, DEAD_LETTER_COUNT_MS, metrics, logger);
    this.status = new StatusReporter(
      {
        slot: config.source.slot,
        publication: config.source.publication,
        triggers: config.triggers.map((t) => ({
          metrics: metrics.trigger(t.name),
          table: `${t.table.schema}.${t.table.name}`,
        })),
      },
      snapshot,
    );
  }

  /**
   * Once the slot and the dead-letter store exist and the confirmed position is known (rates start
   * from it); heartbeats only while `streaming()`.
   */
  start(streaming: () => boolean): void {
    this.status.start();
    this.slot.start();
    this.deadLetters.start();
    if (this.config.source.heartbeat_sec > 0) {
      this.stopHeartbeat = startHeartbeat({
        query: (sql, params) => this.pool.query(sql, params),
        everySec: this.config.source.heartbeat_sec,
        active: streaming,
        logger: this.logger.child({ stage: 'heartbeat' }),
        onError: () => this.metrics.error('heartbeat'),
      });
    }
  }

  async stop(): Promise<void> {
    this.stopHeartbeat();
    this.slot.stop();
    this.deadLetters.stop();
    this.status.stop();
    await this.pool.end();
  }
}
