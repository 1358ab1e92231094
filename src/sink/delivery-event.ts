import type { Lsn } from '../source/change.js';

export interface RetryPolicy {
  /** Retries after the first attempt (Hasura's `num_retries`). */
  numRetries: number;
  intervalSec: number;
  timeoutSec: number;
}

export interface WebhookTarget {
  /** Trigger name, for logs and metrics. */
  trigger: string;
  url: string;
  headers: Readonly<Record<string, string>>;
  retry: RetryPolicy;
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
  /** Called exactly once, when the event is delivered or finally failed. */
  settle(outcome: 'delivered' | 'failed'): void;
}
