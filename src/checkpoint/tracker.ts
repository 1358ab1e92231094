import { WalhookError } from '../core/errors.js';
import { formatLsn, type Lsn } from '../core/lsn.js';
import { type Settlements, TrackedTransaction } from '../core/settlement.js';

/**
 * Decides which LSN may be confirmed to Postgres (see docs/architecture.md, acknowledgement):
 * transactions form a FIFO in commit order; the confirmable LSN is the end LSN of the newest
 * transaction that is settled together with every earlier one. Server positions from keepalives
 * are confirmable only when nothing is unsettled and no transaction is half received.
 * The confirmable LSN never moves backwards.
 */
export class CheckpointTracker implements Settlements {
  private readonly queue: TrackedTransaction[] = [];
  private head = 0;
  private open: TrackedTransaction | null = null;
  private confirmableLsn: Lsn;
  private pendingEvents = 0;

  constructor(
    startLsn: Lsn = 0n,
    private readonly onAdvance: (lsn: Lsn) => void = () => {},
  ) {
    this.confirmableLsn = startLsn;
  }

  get confirmable(): Lsn {
    return this.confirmableLsn;
  }

  /** Transactions received (or being received) whose events are not all settled. */
  get unsettledTransactions(): number {
    return this.queue.length - this.head;
  }

  get inFlightEvents(): number {
    return this.pendingEvents;
  }

  /** The transaction begun and not yet committed, if any. */
  get openTransaction(): TrackedTransaction | null {
    return this.open;
  }

  /** The oldest transaction not yet settled. */
  get oldestUnsettled(): TrackedTransaction | undefined {
    return this.queue[this.head];
  }

  /** Commit time of the oldest unsettled transaction; null when none is unsettled or it is not known. */
  get oldestUnsettledCommitTime(): bigint | null {
    return this.queue[this.head]?.commitTime ?? null;
  }

  begin(finalLsn: Lsn): TrackedTransaction {
    if (this.open) {
      throw new WalhookError(
        'WALHOOK_ERR_CHECKPOINT_REGRESSION',
        `transaction ${formatLsn(finalLsn)} began while ${formatLsn(this.open.finalLsn)} is still open`,
      );
    }
    // A commit record may start exactly at the confirmed position; Postgres resends it then.
    if (finalLsn < this.confirmableLsn) this.regression('begin', finalLsn);
    const txn = new TrackedTransaction(finalLsn);
    this.open = txn;
    this.queue.push(txn);
    return txn;
  }

  /** Registers one dispatched event of `txn`; the caller calls `settle(txn)` exactly once for it. */
  add(txn: TrackedTransaction): void {
    txn.pending++;
    this.pendingEvents++;
  }

  /** Settles one event registered with `add`. */
  settle(txn: TrackedTransaction): void {
    txn.pending--;
    this.pendingEvents--;
    if (txn.settled) this.popSettled();
  }

  commit(txn: TrackedTransaction, endLsn: Lsn): void {
    if (txn !== this.open) {
      throw new WalhookError(
        'WALHOOK_ERR_CHECKPOINT_REGRESSION',
        `commit of ${formatLsn(txn.finalLsn)} which is not the open transaction`,
      );
    }
    if (endLsn <= this.confirmableLsn) this.regression('commit', endLsn);
    txn.committed = true;
    txn.endLsn = endLsn;
    this.open = null;
    if (txn.settled) this.popSettled();
  }

  /** A keepalive reported the server's WAL position. */
  serverPosition(walEnd: Lsn): void {
    if (this.open || this.head < this.queue.length) return;
    // Keepalives after a reconnect may report an older position than one already confirmed.
    if (walEnd > this.confirmableLsn) this.advance(walEnd);
  }

  private popSettled(): void {
    let newest: Lsn | null = null;
    while (this.head < this.queue.length) {
      const txn = this.queue[this.head] as TrackedTransaction;
      if (!txn.settled) break;
      newest = txn.endLsn;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (newest !== null) this.advance(newest);
  }

  private advance(lsn: Lsn): void {
    if (lsn < this.confirmableLsn) this.regression('confirm', lsn);
    if (lsn === this.confirmableLsn) return;
    this.confirmableLsn = lsn;
    this.onAdvance(lsn);
  }

  private regression(what: string, lsn: Lsn): never {
    throw new WalhookError(
      'WALHOOK_ERR_CHECKPOINT_REGRESSION',
      `${what} at ${formatLsn(lsn)} would move the confirmed position back from ${formatLsn(this.confirmableLsn)}`,
    );
  }
}
