import type { DeliveryEvent, DeliveryTarget } from '../core/delivery-event.js';
import type { Lsn } from '../core/lsn.js';
import type { TriggerMetrics } from '../core/metrics/trigger-metrics.js';
import type { Settlements, TrackedTransaction } from '../core/settlement.js';
import type { TableName } from '../core/table-name.js';
import { type BodySource, type BodyTrigger, HasuraBody, type RenderedRows } from './payload.js';
import type { Session } from './session.js';

/** What an event reports to when it settles. */
export interface SettleHooks {
  /** Once per event, after the transaction's count went down: for backpressure. */
  settled(outcome: 'delivered' | 'failed'): void;
}

/**
 * What the events of one trigger from one transaction and table have in common, made once for all of
 * them (see `EventRouter`): each waiting event then holds one reference instead of nine.
 */
export interface EventOrigin {
  readonly target: DeliveryTarget;
  /** `schema.name`. */
  readonly table: string;
  readonly relation: TableName;
  readonly commitLsn: Lsn;
  readonly commitTime: bigint;
  readonly metrics: TriggerMetrics;
  readonly tracker: Settlements;
  /** Registered with the tracker once per event, settled there once per event. */
  readonly transaction: TrackedTransaction;
  readonly hooks: SettleHooks;
}

/**
 * One matched change on its way to one trigger, its body included. A class rather than an object of
 * closures, and one object rather than an event holding a body: thousands wait in flight, and each
 * object is another for the garbage collector to copy.
 */
export class RoutedEvent extends HasuraBody implements DeliveryEvent {
  #settled = false;

  constructor(
    readonly id: string,
    readonly orderingKey: string,
    readonly op: DeliveryEvent['op'],
    private readonly origin: EventOrigin,
    source: BodySource,
    rows: RenderedRows,
    trigger: BodyTrigger,
    session?: Session,
  ) {
    super(source, rows, trigger, id, session);
  }

  get target(): DeliveryTarget {
    return this.origin.target;
  }

  get table(): string {
    return this.origin.table;
  }

  get relation(): TableName {
    return this.origin.relation;
  }

  get commitLsn(): Lsn {
    return this.origin.commitLsn;
  }

  body(currentRetry: number): string {
    return this.render(currentRetry);
  }

  settle(outcome: 'delivered' | 'failed'): void {
    if (this.#settled) return;
    this.#settled = true;
    const { origin } = this;
    origin.metrics.settled(outcome, origin.commitTime);
    origin.tracker.settle(origin.transaction);
    origin.hooks.settled(outcome);
  }
}
