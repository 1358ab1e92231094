import type { DeliveryEvent, DeliveryTarget, ParentTrace } from '../core/delivery-event.js';
import type { Lsn } from '../core/lsn.js';
import type { TriggerMetrics } from '../core/metrics/trigger-metrics.js';
import type { Settlements, TrackedTransaction } from '../core/settlement.js';
import type { TableName } from '../core/table-name.js';
import type { HasuraBody } from './payload.js';

/** What an event reports to when it settles. */
export interface SettleHooks {
  /** Once per event, after the transaction's count went down: for backpressure. */
  settled(outcome: 'delivered' | 'failed'): void;
}

/**
 * One matched change on its way to one trigger. A class rather than an object of closures: thousands
 * wait in flight, and each closure would be another object for the garbage collector to copy.
 */
export class RoutedEvent implements DeliveryEvent {
  #settled = false;

  constructor(
    readonly id: string,
    readonly target: DeliveryTarget,
    readonly orderingKey: string,
    readonly op: DeliveryEvent['op'],
    readonly table: string,
    readonly relation: TableName,
    readonly commitLsn: Lsn,
    private readonly commitTime: bigint,
    private readonly payload: HasuraBody,
    private readonly metrics: TriggerMetrics,
    private readonly tracker: Settlements,
    /** Registered with the tracker once for this event, settled there once. */
    private readonly transaction: TrackedTransaction,
    private readonly hooks: SettleHooks,
  ) {}

  get bytes(): number {
    return this.payload.bytes;
  }

  get trace(): ParentTrace | undefined {
    return this.payload.trace;
  }

  body(currentRetry: number): string {
    return this.payload.render(currentRetry);
  }

  settle(outcome: 'delivered' | 'failed'): void {
    if (this.#settled) return;
    this.#settled = true;
    this.metrics.settled(outcome, this.commitTime);
    this.tracker.settle(this.transaction);
    this.hooks.settled(outcome);
  }
}
