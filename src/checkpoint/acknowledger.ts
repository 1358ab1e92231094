import type { Logger } from 'pino';
import { formatLsn, type Lsn } from '../core/lsn.js';
import type { CheckpointTracker } from './tracker.js';

const COALESCE_MS = 100;
const STATUS_INTERVAL_MS = 10_000;

/**
 * Sends the tracker's confirmable LSN to Postgres: shortly after it advances (coalesced, so a burst
 * of small transactions costs one status update), at once when a keepalive asks for a reply, and
 * periodically regardless. The periodic update is what keeps `wal_sender_timeout` from closing the
 * connection while reading is paused for backpressure: keepalive requests then sit unread in the
 * socket, but any status update resets the server's timer.
 */
export class Acknowledger {
  private pending: NodeJS.Timeout | null = null;
  private interval: NodeJS.Timeout;
  private lastSent: Lsn = 0n;
  private lastLogged: Lsn = 0n;
  private walEnd: Lsn = 0n;

  constructor(
    private readonly tracker: CheckpointTracker,
    private readonly send: (lsn: Lsn) => boolean,
    private readonly logger: Logger,
    private readonly onSent: (lsn: Lsn) => void = () => {},
  ) {
    this.interval = this.every(STATUS_INTERVAL_MS);
  }

  /** Sends status updates at least every third of the server's `wal_sender_timeout` (0 = none). */
  adaptTo(walSenderTimeoutMs: number): void {
    if (walSenderTimeoutMs <= 0) return;
    clearInterval(this.interval);
    this.interval = this.every(
      Math.max(200, Math.min(STATUS_INTERVAL_MS, Math.floor(walSenderTimeoutMs / 3))),
    );
  }

  private every(ms: number): NodeJS.Timeout {
    const interval = setInterval(() => this.flush(true), ms);
    interval.unref();
    return interval;
  }

  /** The tracker advanced. */
  advanced(): void {
    this.pending ??= setTimeout(() => {
      this.pending = null;
      this.flush(false);
    }, COALESCE_MS);
  }

  /** The newest WAL end the server reported in a keepalive (0 before the first). */
  get serverWalEnd(): Lsn {
    return this.walEnd;
  }

  keepalive(walEnd: Lsn, replyRequested: boolean): void {
    // After a reconnect a keepalive may report less than one before it.
    if (walEnd > this.walEnd) this.walEnd = walEnd;
    this.tracker.serverPosition(walEnd);
    if (replyRequested) this.flush(false);
  }

  /** Sends the confirmable LSN now; returns the LSN sent, or null when the stream is down. */
  flush(periodic: boolean): Lsn | null {
    const lsn = this.tracker.confirmable;
    if (!this.send(lsn)) return null;
    if (lsn !== this.lastSent) {
      this.lastSent = lsn;
      this.onSent(lsn);
      this.logger.debug({ lsn: formatLsn(lsn) }, 'acknowledged');
    }
    // One line per period at most: acknowledgements can be many per second. Debug, not info: an idle
    // slot still moves (keepalives, heartbeats), and a quiet service should write nothing at info.
    if (periodic && lsn !== this.lastLogged) {
      this.lastLogged = lsn;
      this.logger.debug({ confirmed_lsn: formatLsn(lsn) }, 'acknowledged to Postgres');
    }
    return lsn;
  }

  stop(): void {
    clearInterval(this.interval);
    if (this.pending) clearTimeout(this.pending);
    this.pending = null;
  }
}
