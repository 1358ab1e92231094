import type { Logger } from 'pino';
import { formatLsn, type Lsn } from '../source/change.js';
import type { CheckpointTracker } from './tracker.js';

const COALESCE_MS = 100;
const STATUS_INTERVAL_MS = 10_000;

/**
 * Sends the tracker's confirmable LSN to Postgres: shortly after it advances (coalesced, so a burst
 * of small transactions costs one status update), at once when a keepalive asks for a reply, and
 * every 10 s regardless, which also keeps `wal_sender_timeout` from closing an idle connection.
 */
export class Acknowledger {
  private pending: NodeJS.Timeout | null = null;
  private readonly interval: NodeJS.Timeout;
  private lastSent: Lsn = 0n;
  private lastLogged: Lsn = 0n;

  constructor(
    private readonly tracker: CheckpointTracker,
    private readonly send: (lsn: Lsn) => boolean,
    private readonly logger: Logger,
    private readonly onSent: (lsn: Lsn) => void = () => {},
  ) {
    this.interval = setInterval(() => this.flush(true), STATUS_INTERVAL_MS);
    this.interval.unref();
  }

  /** The tracker advanced. */
  advanced(): void {
    this.pending ??= setTimeout(() => {
      this.pending = null;
      this.flush(false);
    }, COALESCE_MS);
  }

  keepalive(walEnd: Lsn, replyRequested: boolean): void {
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
    // One info line per period at most: acknowledgements can be many per second.
    if (periodic && lsn !== this.lastLogged) {
      this.lastLogged = lsn;
      this.logger.info({ confirmed_lsn: formatLsn(lsn) }, 'acknowledged to Postgres');
    }
    return lsn;
  }

  stop(): void {
    clearInterval(this.interval);
    if (this.pending) clearTimeout(this.pending);
    this.pending = null;
  }
}
