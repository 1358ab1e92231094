import type { Logger } from 'pino';
import { type Lsn, parseLsn } from '../core/lsn.js';
import type { PipelineMetrics } from '../core/metrics/metrics.js';

/** The slot as `pg_replication_slots` showed it at the last check. */
export interface SlotState {
  /** The server's current WAL position minus the slot's restart_lsn; null without a restart_lsn. */
  retainedWalBytes: number | null;
  /** reserved, extended, unreserved or lost; null when the slot is missing. */
  walStatus: string | null;
  /** The server setting as shown (`-1` is unlimited), beyond which Postgres invalidates the slot. */
  maxSlotWalKeepSize: string;
  /** The server's current WAL position. */
  walLsn: Lsn;
  checkedAt: Date;
}

export interface SlotMonitorOptions {
  slot: string;
  /** Retained WAL beyond this is logged as a warning (source.max_retained_wal). */
  maxRetainedWal: number;
  everyMs: number;
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  metrics: PipelineMetrics;
  logger: Logger;
}

// On a standby (logical slots there need Postgres 16) the current position is what was received.
const SLOT_QUERY = `
SELECT s.wal_status, pg_wal_lsn_diff(w.lsn, s.restart_lsn)::int8::text AS retained, w.lsn::text AS wal_lsn,
       current_setting('max_slot_wal_keep_size') AS max_keep
  FROM (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END AS lsn) w
  LEFT JOIN pg_replication_slots s ON s.slot_name = $1`;

interface SlotRow {
  wal_status: string | null;
  retained: string | null;
  wal_lsn: string;
  max_keep: string;
}

/**
 * Reads how much WAL the slot holds back and how close Postgres is to invalidating it, for the metrics
 * and `/status`, and warns once each time the retained WAL crosses `maxRetainedWal` (and says so when
 * it is back below): a slot that stops advancing fills the server's disk or gets invalidated.
 */
export class SlotMonitor {
  private current: SlotState | null = null;
  private timer: NodeJS.Timeout | null = null;
  private above = false;
  private failing = false;

  constructor(private readonly options: SlotMonitorOptions) {}

  /** Null before the first successful check. */
  get state(): SlotState | null {
    return this.current;
  }

  start(): void {
    if (this.timer) return;
    void this.check();
    this.timer = setInterval(() => void this.check(), this.options.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async check(): Promise<void> {
    const { slot, logger, metrics } = this.options;
    let row: SlotRow;
    try {
      row = (await this.options.query(SLOT_QUERY, [slot])).rows[0] as SlotRow;
    } catch (err) {
      metrics.error('slotMonitor');
      if (!this.failing) logger.warn({ err, slot }, 'cannot read the replication slot state; retrying');
      this.failing = true;
      return;
    }
    this.failing = false;
    const previous = this.current;
    const state: SlotState = {
      retainedWalBytes: row.retained === null ? null : Number(row.retained),
      walStatus: row.wal_status,
      maxSlotWalKeepSize: row.max_keep,
      walLsn: parseLsn(row.wal_lsn),
      checkedAt: new Date(),
    };
    this.current = state;
    metrics.slotChecked(state.retainedWalBytes, state.walStatus);
    if (previous && previous.walStatus !== state.walStatus && state.walStatus !== null) {
      const level = state.walStatus === 'unreserved' || state.walStatus === 'lost' ? 'warn' : 'info';
      logger[level](
        { slot, wal_status: state.walStatus, was: previous.walStatus, max_slot_wal_keep_size: row.max_keep },
        state.walStatus === 'unreserved'
          ? 'the slot retains more WAL than max_slot_wal_keep_size; Postgres will invalidate it at the next checkpoint unless it advances'
          : 'the slot wal_status changed',
      );
    }
    this.crossing(state);
  }

  private crossing(state: SlotState): void {
    const { slot, maxRetainedWal, logger } = this.options;
    const above = state.retainedWalBytes !== null && state.retainedWalBytes > maxRetainedWal;
    if (above === this.above) return;
    this.above = above;
    const fields = {
      slot,
      retained_wal_bytes: state.retainedWalBytes,
      max_retained_wal: maxRetainedWal,
      wal_status: state.walStatus,
      max_slot_wal_keep_size: state.maxSlotWalKeepSize,
    };
    if (above) {
      logger.warn(
        fields,
        'the slot retains more WAL than source.max_retained_wal: deliveries are behind or the slot is not advancing',
      );
    } else {
      logger.info(fields, 'the slot retains less WAL than source.max_retained_wal again');
    }
  }
}
