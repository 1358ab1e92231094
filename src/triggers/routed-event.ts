import type { TriggerMetrics } from '../observability/trigger-metrics.js';
import type { DeliveryEvent, WebhookTarget } from '../sink/delivery-event.js';
import type { HasuraBody } from '../sink/payload.js';
import type { Lsn } from '../source/change.js';

/** What an event reports to when it settles. */
export interface SettleHooks {
  /** Once per event, after the transaction's count went down: for gauges and backpressure. */
  settled(): void;
}

/**
 * One matched change on its way to one trigger. A class rather than an object of closures: thousands
 * wait in flight, and each closure would be another object for the garbage collector to copy.
 */
export class RoutedEvent implements DeliveryEvent {
  #settled = false;

  constructor(
    readonly id: string,
    readonly target: WebhookTarget,
    readonly orderingKey: string,
    readonly op: DeliveryEvent['op'],
    readonly table: string,
    readonly commitLsn: Lsn,
    private readonly commitTime: bigint,
    private readonly payload: HasuraBody,
    private readonly metrics: TriggerMetrics,
    /** The checkpoint tracker's settlement of this event's transaction share. */
    private readonly settleTransaction: () => void,
    private readonly hooks: SettleHooks,
  ) {}

  get bytes(): number {
    return this.payload.bytes;
  }

  body(currentRetry: number): string {
    return this.payload.render(currentRetry);
  }

  settle(outcome: 'delivered' | 'failed'): void {
    if (this.#settled) return;
    this.#settled = true;
    this.metrics.settled(outcome, this.commitTime);
    this.settleTransaction();
    this.hooks.settled();
  }
}
