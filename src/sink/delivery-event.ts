import type { Lsn } from '../source/change.js';
import type { BatchLimits } from './batcher.js';

export interface RetryPolicy {
  /** Retries after the first attempt (Hasura's `num_retries`). */
  numRetries: number;
  /** The fixed wait, or the first wait of an exponential backoff. */
  intervalSec: number;
  timeoutSec: number;
  backoff: 'exponential' | 'fixed';
  /** Cap of the exponential backoff and of a receiver's Retry-After. */
  maxIntervalSec: number;
  /** Statuses (410) or classes ("4xx") answered finally: no retry, straight to the dead-letter store. */
  finalStatuses: readonly (number | string)[];
}

/** `row`: one at a time per ordering key; `trigger`: one at a time per trigger; `none`: no order. */
export type OrderingMode = 'row' | 'trigger' | 'none';

export interface WebhookTarget {
  /** Trigger name, for logs and metrics. */
  trigger: string;
  url: string;
  headers: Readonly<Record<string, string>>;
  retry: RetryPolicy;
  ordering: OrderingMode;
  /** Requests in flight at most for this trigger. */
  concurrency: number;
  /** With `maxEvents` above 1, events go in batches, as `{"events": [...]}`. */
  batch: BatchLimits;
}

/** One matched change on its way to one trigger's webhook. */
export interface DeliveryEvent {
  /** Stable UUID of (database, commit LSN, index in transaction, trigger). */
  id: string;
  target: WebhookTarget;
  /** Events with the same key are delivered one at a time, in submission (commit) order. */
  orderingKey: string;
  op: 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';
  table: string;
  commitLsn: Lsn;
  /** The JSON body for a given attempt; only `delivery_info.current_retry` differs between attempts. */
  body(currentRetry: number): string;
  /** Size of the body in bytes (about), for the in-flight byte bound. */
  bytes: number;
  /** Called exactly once, when the event is delivered or finally failed. */
  settle(outcome: 'delivered' | 'failed'): void;
}
