import type { Lsn } from './lsn.js';

/** One transaction between its Begin and the moment every event matched from it is settled. */
export class TrackedTransaction {
  /** Events dispatched and not yet settled. */
  pending = 0;
  committed = false;
  endLsn: Lsn = 0n;
  /** Microseconds since 2000-01-01, once known: the stream's lag is measured from it. */
  commitTime: bigint | null = null;

  constructor(
    /** Begin's final LSN, which is the commit LSN. */
    readonly finalLsn: Lsn,
  ) {}

  get settled(): boolean {
    return this.committed && this.pending === 0;
  }
}

/**
 * Where the stages before the checkpoint count a transaction's events in and out: the checkpoint
 * tracker, seen through what they need of it, so they never depend on the checkpoint itself.
 */
export interface Settlements {
  /** Registers one dispatched event of `txn`; `settle(txn)` is then called exactly once for it. */
  add(txn: TrackedTransaction): void;
  settle(txn: TrackedTransaction): void;
}
