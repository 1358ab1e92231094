import type { BatchLimits } from '../sinks/batcher.js';
import type { Lsn } from './lsn.js';

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

/** What every target has: the trigger it belongs to and how its events may overlap. */
interface TargetBase {
  /** Trigger name, for logs and metrics. */
  trigger: string;
  ordering: OrderingMode;
  /** Deliveries in flight at most for this trigger. */
  concurrency: number;
}

export interface WebhookTarget extends TargetBase {
  type: 'webhook';
  url: string;
  headers: Readonly<Record<string, string>>;
  retry: RetryPolicy;
  /** With `maxEvents` above 1, events go in batches, as `{"events": [...]}`. */
  batch: BatchLimits;
  /** Standard Webhooks signing secrets (`whsec_…`); each signs every request. Empty: unsigned. */
  secrets: readonly string[];
  /** Files for an https receiver: a CA to trust instead of the system's, a client certificate. */
  tls: WebhookTls | null;
}

export interface WebhookTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** A JetStream stream fed through NATS; see docs/sinks.md. */
export interface NatsTarget extends TargetBase {
  type: 'nats';
  servers: readonly string[];
  /** The subject of an event of a table and operation. */
  subject: { render(relation: Relation, op: DeliveryEvent['op']): string };
  /** When set, JetStream refuses a message that its subject would store in another stream. */
  stream: string | null;
  ackTimeoutMs: number;
}

/** Where a trigger's events go; `type` picks the sink. */
export type DeliveryTarget = WebhookTarget | NatsTarget;

/** A table as Postgres names it, without quoting. */
export interface Relation {
  readonly schema: string;
  readonly name: string;
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
  relation: Relation;
  commitLsn: Lsn;
  /** The JSON body for a given attempt; only `delivery_info.current_retry` differs between attempts. */
  body(currentRetry: number): string;
  /** Size of the body in bytes (about), for the in-flight byte bound. */
  bytes: number;
  /** Called exactly once, when the event is delivered or finally failed. */
  settle(outcome: 'delivered' | 'failed'): void;
}
