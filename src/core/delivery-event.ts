import type { Lsn } from './lsn.js';
import type { TableName } from './table-name.js';

export interface RetryPolicy {
  /** Retries after the first attempt (Hasura's `num_retries`); `Infinity` retries until delivered. */
  numRetries: number;
  /** The fixed wait, or the first wait of an exponential backoff. */
  intervalSec: number;
  timeoutSec: number;
  backoff: 'exponential' | 'fixed';
  /** Cap of the exponential backoff and of a receiver's Retry-After. */
  maxIntervalSec: number;
  /** Statuses (410) or classes ("4xx") answered finally: no retry, straight to the dead-letter store. */
  finalStatuses: readonly (number | string)[];
  /** Which answers' Retry-After is honoured: 429 and 503 (`throttling`), or any non-2xx (Hasura's way). */
  retryAfter: 'throttling' | 'any_status';
}

/** `row`: one at a time per ordering key; `trigger`: one at a time per trigger; `none`: no order. */
export type OrderingMode = 'row' | 'trigger' | 'none';

/** How a trigger groups its events into requests: one event per request when `maxEvents` is 1. */
export interface BatchLimits {
  maxEvents: number;
  /** How long the first event of a batch waits for others before the batch leaves anyway. */
  maxWaitMs: number;
}

/**
 * What every target has, whatever its sink: the trigger it belongs to, how its events may overlap and
 * how failures are retried. Each sink's target adds its own fields (see src/sinks/registry.ts).
 */
export interface DeliveryTarget {
  /** The sink: `webhook`, `nats`. */
  type: string;
  /** Trigger name, for logs and metrics. */
  trigger: string;
  ordering: OrderingMode;
  /** Deliveries in flight at most for this trigger. */
  concurrency: number;
  retry: RetryPolicy;
  /** With `maxEvents` above 1, events go in batches; absent for a sink that sends one event at a time. */
  batch?: BatchLimits;
}

/** A W3C trace the delivery attempts join as child spans of `parentSpanId`. */
export interface ParentTrace {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits. */
  parentSpanId: string;
  sampled: boolean;
}

/** One matched change on its way to one trigger's target. */
export interface DeliveryEvent<Target extends DeliveryTarget = DeliveryTarget> {
  /** Stable UUID of (database, commit LSN, index in transaction, trigger). */
  id: string;
  target: Target;
  /** Events with the same key are delivered one at a time, in submission (commit) order. */
  orderingKey: string;
  /** MANUAL and READ: a row read from the table (manual invocation, backfill), not a change. */
  op: 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE' | 'MANUAL' | 'READ';
  /** `schema.name`, as logs and dead letters show it. */
  table: string;
  relation: TableName;
  commitLsn: Lsn;
  /** The JSON body for a given attempt; only `delivery_info.current_retry` differs between attempts. */
  body(currentRetry: number): string;
  /** Size of the body in bytes (about), for the in-flight byte bound. */
  bytes: number;
  /** The trace of the transaction that made the change, when it carried one (a session message). */
  trace?: ParentTrace;
  /** Called exactly once, when the event is delivered or finally failed. */
  settle(outcome: 'delivered' | 'failed'): void;
}

/** What became of an attempt: delivered, to be tried again, or given up (dead-lettered). */
export type Outcome = 'delivered' | 'retry' | 'failed';

/**
 * Why an attempt failed. `connect`: nothing reached the receiver or broker; `timeout`: no answer in
 * time; `network`: the exchange broke off (or a broker refused); `http`: a non-2xx status;
 * `transform`: the trigger's request transform failed on the event, so nothing was sent.
 */
export type AttemptErrorType = 'timeout' | 'connect' | 'network' | 'http' | 'transform';

export interface AttemptError {
  type: AttemptErrorType;
  message: string;
}

/** One attempt, as the trigger's metrics count it. */
export interface AttemptInfo {
  trigger: string;
  /** Events in the request: 1, or the size of a batch. */
  events: number;
  currentRetry: number;
  outcome: Outcome;
  /** The receiver's status; null without one (no answer, or a sink without statuses). */
  status: number | null;
  errorType: AttemptErrorType | null;
  durationMs: number;
}

/**
 * `delivery_info.max_retries` under a policy: its retries, or 0 for one that retries until delivered,
 * which has no count to show and must still give Hasura's consumers a number.
 */
export function shownMaxRetries(retry: RetryPolicy): number {
  return Number.isFinite(retry.numRetries) ? retry.numRetries : 0;
}
