import type { AttemptInfo } from '../delivery-event.js';
import { POSTGRES_EPOCH_MICROS } from '../lsn.js';
import type { CounterChild } from './counters.js';

/**
 * Why a trigger on the changed table did not fire; `null` when it fires. `unchanged`: an update that
 * left every column as it was (`skip_unchanged_updates`); `origin`: a change applied by logical
 * replication from another server (`trigger_on_replication: false`).
 */
export type FilterReason = 'operation' | 'origin' | 'columns' | 'unchanged' | 'where' | null;

const FILTER_REASONS: readonly Exclude<FilterReason, null>[] = [
  'operation',
  'origin',
  'columns',
  'unchanged',
  'where',
];
const OUTCOMES: readonly AttemptInfo['outcome'][] = ['delivered', 'retry', 'failed'];
/** Indexed by the status divided by 100; no response is `none`. */
const STATUS_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const POSTGRES_EPOCH_SEC = Number(POSTGRES_EPOCH_MICROS) / 1e6;
const ERROR_MESSAGES: Record<string, string> = {
  timeout: 'timeout',
  connect: 'connection failed',
  network: 'network error',
  transform: 'request transform failed',
};

/** Seconds from a commit time (microseconds since 2000-01-01) to now; the database clock may run ahead. */
export function secondsSinceCommit(commitTime: bigint): number {
  return Math.max(0, Date.now() / 1000 - Number(commitTime) / 1e6 - POSTGRES_EPOCH_SEC);
}

interface Observer {
  observe(value: number): void;
}

interface Family<Child> {
  labels(...values: string[]): Child;
}

/** The process-wide families a trigger's series belong to (`Metrics` holds them). */
export interface TriggerFamilies {
  readonly eventsMatched: Family<CounterChild>;
  readonly eventsDelivered: Family<CounterChild>;
  readonly eventsDeadLettered: Family<CounterChild>;
  readonly eventsFiltered: Family<CounterChild>;
  readonly eventsSettled: Family<CounterChild>;
  readonly deliveryAttempts: Family<CounterChild>;
  readonly deliveryDuration: Family<Observer>;
  readonly endToEndLatency: Family<Observer>;
  errorSeries(kind: 'deliveryFailed' | 'transform'): CounterChild;
}

/**
 * One trigger's series, held so that counting an event or an attempt needs no label lookup, and
 * what `/status` shows about it. Only bounded facts are kept: a status code or an error type, never
 * a URL or a response.
 */
export class TriggerMetrics {
  readonly matched: CounterChild;
  readonly delivered: CounterChild;
  readonly deadLettered: CounterChild;
  lastError: { message: string; at: Date } | null = null;
  private readonly filteredBy: CounterChild[];
  /** By outcome, then status class; created on first use. */
  private readonly attempts: (CounterChild | undefined)[] = [];
  private readonly duration: Observer;
  private readonly latency: Observer;
  private readonly deliveryFailed: CounterChild;
  private readonly transformFailed: CounterChild;
  private readonly settledDelivered: CounterChild;
  private readonly settledFailed: CounterChild;
  /** Attempts answered with a retry, and retry attempts begun: the difference is waiting for one. */
  private retryOutcomes = 0;
  private retriesBegun = 0;

  constructor(
    readonly name: string,
    private readonly metrics: TriggerFamilies,
  ) {
    this.matched = metrics.eventsMatched.labels(name);
    this.delivered = metrics.eventsDelivered.labels(name);
    this.deadLettered = metrics.eventsDeadLettered.labels(name);
    this.filteredBy = FILTER_REASONS.map((reason) => metrics.eventsFiltered.labels(name, reason));
    this.settledDelivered = metrics.eventsSettled.labels(name, 'delivered');
    this.settledFailed = metrics.eventsSettled.labels(name, 'failed');
    this.duration = metrics.deliveryDuration.labels(name);
    this.latency = metrics.endToEndLatency.labels(name);
    this.deliveryFailed = metrics.errorSeries('deliveryFailed');
    this.transformFailed = metrics.errorSeries('transform');
  }

  get filtered(): number {
    let sum = 0;
    for (const child of this.filteredBy) sum += child.value;
    return sum;
  }

  /** Events whose last attempt failed and that wait for the next one. */
  get retrying(): number {
    return this.retryOutcomes - this.retriesBegun;
  }

  attempt(info: AttemptInfo): void {
    const outcome = OUTCOMES.indexOf(info.outcome);
    const statusClass = info.status === null ? 0 : Math.floor(info.status / 100);
    const index = outcome * STATUS_CLASSES.length + statusClass;
    let child = this.attempts[index];
    if (child === undefined) {
      child = this.metrics.deliveryAttempts.labels(
        this.name,
        info.outcome,
        STATUS_CLASSES[statusClass] ?? 'none',
      );
      this.attempts[index] = child;
    }
    child.inc();
    this.duration.observe(info.durationMs / 1000);
    if (info.currentRetry > 0) this.retriesBegun += info.events;
    if (info.outcome === 'delivered') return;
    if (info.outcome === 'retry') this.retryOutcomes += info.events;
    else this.deliveryFailed.inc();
    if (info.errorType === 'transform') this.transformFailed.inc();
    this.lastError = {
      message:
        info.status !== null ? `HTTP ${info.status}` : (ERROR_MESSAGES[info.errorType ?? ''] ?? 'failed'),
      at: new Date(),
    };
  }

  /** Counts an event's end and the time from its commit (microseconds since 2000-01-01) to now. */
  settled(outcome: 'delivered' | 'failed', commitTime: bigint): void {
    if (outcome === 'delivered') {
      this.delivered.inc();
      this.settledDelivered.inc();
    } else {
      this.deadLettered.inc();
      this.settledFailed.inc();
    }
    this.latency.observe(secondsSinceCommit(commitTime));
  }
}
