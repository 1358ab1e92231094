import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { type CounterChild, CounterFamily } from './counters.js';
import { HistogramFamily } from './histogram-family.js';
import { TriggerMetrics } from './trigger-metrics.js';

/** What went wrong, for `walhook_errors_total`: a fixed set, so the label stays bounded. */
export const ERRORS = {
  /** Preparing the source (slot, publication) failed; retried with backoff. */
  setup: ['connection', 'setup'],
  /** The replication connection was lost; reopened with backoff. */
  connection: ['connection', 'source'],
  /** Postgres refused the login once walhook had been running (password, role, database); retried. */
  login: ['login', 'source'],
  /** A replication message could not be decoded (fatal). */
  decode: ['decode', 'source'],
  /** A catalog or TOAST lookup the stream waited for failed (fatal). */
  lookup: ['lookup', 'source'],
  /** The slot was dropped or invalidated (fatal). */
  slotLost: ['slot_lost', 'source'],
  /** The confirmed position was asked to move back (fatal). */
  checkpoint: ['checkpoint', 'checkpoint'],
  /** An event failed its last attempt and went to the dead-letter store. */
  deliveryFailed: ['delivery_failed', 'sink'],
  /** A trigger's request transform failed on an event (a Kriti error); it was dead-lettered unsent. */
  transform: ['transform', 'sink'],
  /** Storing a dead letter failed; retried, the event stays unsettled meanwhile. */
  deadLetterStore: ['dead_letter_store', 'sink'],
  /** Counting the dead letters failed. */
  deadLetterCount: ['dead_letter_store', 'monitor'],
  /** Reading the slot's state failed. */
  slotMonitor: ['slot_monitor', 'monitor'],
  /** Emitting a heartbeat message failed. */
  heartbeat: ['heartbeat', 'source'],
  /** A `walhook.session` message was not a session; its transaction's events went out without it. */
  sessionMessage: ['session_message', 'source'],
  /** Writing to the invocation log or pruning it failed; deliveries go on, records wait or are dropped. */
  invocationLog: ['invocation_log', 'sink'],
} as const satisfies Record<string, readonly [string, string]>;

export type ErrorKind = keyof typeof ERRORS;

/** `pg_replication_slots.wal_status` values, each a series of `walhook_slot_wal_status`. */
export const WAL_STATUSES = ['reserved', 'extended', 'unreserved', 'lost'] as const;

/** Values that depend on the time or live in the pipeline, read when scraped. */
export interface LiveState {
  inFlightEvents(): number;
  inFlightBytes(): number;
  lagBytes(): number;
  lagSeconds(): number;
}

const IDLE: LiveState = {
  inFlightEvents: () => 0,
  inFlightBytes: () => 0,
  lagBytes: () => 0,
  lagSeconds: () => 0,
};

/**
 * The metrics registry of one walhook process (see docs/metrics.md). Label values are bounded:
 * pipeline, trigger, table, op, reason, outcome, status_class, error_type, stage, status, role.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly changesReceived = new CounterFamily(
    this.registry,
    'walhook_changes_received_total',
    'Row changes decoded from the replication stream.',
    ['table', 'op'],
  );
  readonly eventsMatched = new CounterFamily(
    this.registry,
    'walhook_events_matched_total',
    'Changes that matched a trigger and were queued for delivery.',
    ['trigger'],
  );
  readonly eventsFiltered = new CounterFamily(
    this.registry,
    'walhook_events_filtered_total',
    "Changes of a trigger's table dropped on purpose: its operations, origin, columns, unchanged or where filter.",
    ['trigger', 'reason'],
  );
  readonly eventsSettled = new CounterFamily(
    this.registry,
    'walhook_events_settled_total',
    'Events settled: delivered with a 2xx answer, or failed after all retries.',
    ['trigger', 'outcome'],
  );
  readonly deliveryAttempts = new CounterFamily(
    this.registry,
    'walhook_delivery_attempts_total',
    'Delivery attempts (HTTP requests, or publishes to a sink) by outcome: delivered, retry (another attempt follows) or failed (final).',
    ['trigger', 'outcome', 'status_class'],
  );
  readonly eventsDelivered = new CounterFamily(
    this.registry,
    'walhook_events_delivered_total',
    'Events delivered with a 2xx answer.',
    ['trigger'],
  );
  readonly eventsDeadLettered = new CounterFamily(
    this.registry,
    'walhook_events_dead_lettered_total',
    'Events stored in the dead-letter store after their last attempt failed.',
    ['trigger'],
  );
  readonly errors = new CounterFamily(
    this.registry,
    'walhook_errors_total',
    'Errors by type and stage (a fixed set; see docs/metrics.md). Filtered changes are not errors.',
    ['error_type', 'stage'],
  );
  readonly deliveryDuration = new HistogramFamily(
    this.registry,
    'walhook_delivery_duration_seconds',
    'Duration of one HTTP delivery attempt, response body included.',
    ['trigger'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  );
  readonly endToEndLatency = new HistogramFamily(
    this.registry,
    'walhook_end_to_end_latency_seconds',
    'From the commit in Postgres to the event settled (delivered or dead-lettered).',
    ['trigger'],
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
  );
  readonly configReloads = new Counter({
    name: 'walhook_config_reloads_total',
    help: 'Config reloads (SIGHUP, POST /reload, walhook reload): applied (ok) or refused (failed).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly backfillRows = new Counter({
    name: 'walhook_backfill_rows_total',
    help: 'Rows a backfill sent through its trigger; rows changed while being read are left to the stream.',
    labelNames: ['trigger'] as const,
    registers: [this.registry],
  });
  readonly backfillRemaining = new Gauge({
    name: 'walhook_backfill_remaining',
    help: 'Rows a backfill has yet to read, estimated from pg_class.reltuples; 0 once done.',
    labelNames: ['trigger'] as const,
    registers: [this.registry],
  });
  readonly roles = new Gauge({
    name: 'walhook_role',
    help: "1 for the role this process has in a pipeline: active (holds the pipeline's slot lock and reads the slot) or standby.",
    labelNames: ['pipeline', 'role'] as const,
    registers: [this.registry],
  });
  readonly replicationConnected = new Gauge({
    name: 'walhook_replication_connected',
    help: '1 while the replication stream is running.',
    labelNames: ['pipeline'] as const,
    registers: [this.registry],
  });
  readonly replicationPaused = new Gauge({
    name: 'walhook_replication_paused',
    help: '1 while reading is paused because the in-flight limits are reached (backpressure).',
    labelNames: ['pipeline'] as const,
    registers: [this.registry],
  });
  readonly operatorPaused = new Gauge({
    name: 'walhook_operator_paused',
    help: '1 while an operator has paused reading with POST /pause.',
    labelNames: ['pipeline'] as const,
    registers: [this.registry],
  });
  readonly triggerPaused = new Gauge({
    name: 'walhook_trigger_paused',
    help: '1 while an operator has paused a trigger with POST /triggers/:name/pause: its events wait queued.',
    labelNames: ['pipeline', 'trigger'] as const,
    registers: [this.registry],
  });
  readonly unpublishedTables = new Gauge({
    name: 'walhook_unpublished_tables',
    help: "Triggers' tables missing from the publication at the last check (dropped and re-created, or removed).",
    labelNames: ['pipeline'] as const,
    registers: [this.registry],
  });
  readonly replicationReconnects = new Counter({
    name: 'walhook_replication_reconnects_total',
    help: 'Times the replication connection was lost.',
    labelNames: ['pipeline'] as const,
    registers: [this.registry],
  });
  readonly confirmedLsn = new Gauge({
    name: 'walhook_confirmed_flush_lsn_bytes',
    help: 'The LSN last confirmed to Postgres, as a byte position.',
    labelNames: ['pipeline'] as const,
    registers: [this.registry],
  });
  readonly slotRetainedWal = new Gauge({
    name: 'walhook_slot_retained_wal_bytes',
    help: "WAL the slot keeps from being removed: the server's current LSN minus the slot's restart_lsn.",
    labelNames: ['pipeline'] as const,
    registers: [this.registry],
  });
  readonly slotWalStatus = new Gauge({
    name: 'walhook_slot_wal_status',
    help: "1 for the slot's current wal_status (reserved, extended, unreserved, lost), 0 for the others.",
    labelNames: ['pipeline', 'status'] as const,
    registers: [this.registry],
  });
  readonly invocationLogRecords = new CounterFamily(
    this.registry,
    'walhook_invocation_log_records_total',
    'Delivery attempts recorded in the invocation log (written), or dropped unwritten while its database was slow or away.',
    ['pipeline', 'outcome'],
  );
  readonly deadLetters = new Gauge({
    name: 'walhook_dead_letters',
    help: 'Letters in the dead-letter store at the last count.',
    labelNames: ['pipeline'] as const,
    registers: [this.registry],
  });
  private readonly triggers = new Map<string, TriggerMetrics>();
  private readonly pipelines = new Map<string, PipelineMetrics>();

  constructor() {
    this.pipelineGauge('walhook_in_flight_events', 'Events matched and not yet settled.', (p) =>
      p.live.inFlightEvents(),
    );
    this.pipelineGauge('walhook_in_flight_bytes', 'Body bytes of the events in flight.', (p) =>
      p.live.inFlightBytes(),
    );
    this.pipelineGauge(
      'walhook_replication_lag_bytes',
      "The server's WAL end (keepalives, slot checks) minus the confirmed LSN.",
      (p) => p.live.lagBytes(),
    );
    this.pipelineGauge(
      'walhook_replication_lag_seconds',
      'Now minus the commit time of the oldest transaction not yet settled; 0 when none is.',
      (p) => p.live.lagSeconds(),
    );
    for (const kind of Object.keys(ERRORS) as ErrorKind[]) this.errorSeries(kind);
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters fail `promtool check metrics`; summing the per-type series of the
    // same name without the suffix gives these counts.
    for (const kind of ['handles', 'requests', 'resources']) {
      this.registry.removeSingleMetric(`nodejs_active_${kind}_total`);
    }
  }

  /** The series of one pipeline, labelled `pipeline`; they exist (at 0) from the first call. */
  pipeline(name: string): PipelineMetrics {
    let metrics = this.pipelines.get(name);
    if (metrics === undefined) {
      metrics = new PipelineMetrics(name, this);
      this.pipelines.set(name, metrics);
    }
    return metrics;
  }

  /** A gauge with one series per pipeline, computed when scraped. */
  private pipelineGauge(name: string, help: string, read: (pipeline: PipelineMetrics) => number): void {
    const { pipelines } = this;
    new Gauge({
      name,
      help,
      labelNames: ['pipeline'] as const,
      registers: [this.registry],
      collect() {
        for (const [pipeline, metrics] of pipelines) this.set({ pipeline }, read(metrics));
      },
    });
  }

  error(kind: ErrorKind): void {
    this.errorSeries(kind).inc();
  }

  /** The series of one kind of error, for a caller that counts it often. */
  errorSeries(kind: ErrorKind): CounterChild {
    return this.errors.labels(...ERRORS[kind]);
  }

  /** The metrics of one trigger; its counters exist (at 0) from the first call. */
  trigger(name: string): TriggerMetrics {
    let metrics = this.triggers.get(name);
    if (metrics === undefined) {
      metrics = new TriggerMetrics(name, this);
      this.triggers.set(name, metrics);
    }
    return metrics;
  }
}

type Settable = { set(value: number): void };

/**
 * The metrics one pipeline writes: its own series (label `pipeline`), and the process-wide ones
 * (trigger series, errors, changes received) it shares with the other pipelines.
 */
export class PipelineMetrics {
  readonly replicationConnected: Settable;
  readonly replicationPaused: Settable;
  readonly operatorPaused: Settable;
  readonly unpublishedTables: Settable;
  readonly replicationReconnects: { inc(value?: number): void };
  readonly confirmedLsn: Settable;
  readonly deadLetters: Settable;
  readonly changesReceived: Metrics['changesReceived'];
  readonly eventsFiltered: Metrics['eventsFiltered'];
  /** Where the gauges computed at scrape time read from. */
  live: LiveState = IDLE;

  constructor(
    readonly name: string,
    private readonly metrics: Metrics,
  ) {
    const labels = { pipeline: name };
    this.replicationConnected = metrics.replicationConnected.labels(labels);
    this.replicationPaused = metrics.replicationPaused.labels(labels);
    this.operatorPaused = metrics.operatorPaused.labels(labels);
    this.unpublishedTables = metrics.unpublishedTables.labels(labels);
    this.replicationReconnects = metrics.replicationReconnects.labels(labels);
    this.confirmedLsn = metrics.confirmedLsn.labels(labels);
    this.deadLetters = metrics.deadLetters.labels(labels);
    this.changesReceived = metrics.changesReceived;
    this.eventsFiltered = metrics.eventsFiltered;
    const gauges = [
      this.replicationConnected,
      this.replicationPaused,
      this.operatorPaused,
      this.unpublishedTables,
    ];
    for (const series of gauges) {
      series.set(0);
    }
    this.confirmedLsn.set(0);
    this.deadLetters.set(0);
    this.replicationReconnects.inc(0);
    metrics.slotRetainedWal.set(labels, 0);
    this.slotChecked(null, null);
    this.role('standby');
  }

  track(live: LiveState): void {
    this.live = live;
  }

  trigger(name: string): TriggerMetrics {
    return this.metrics.trigger(name);
  }

  error(kind: ErrorKind): void {
    this.metrics.error(kind);
  }

  role(role: 'active' | 'standby'): void {
    this.metrics.roles.set({ pipeline: this.name, role: 'active' }, role === 'active' ? 1 : 0);
    this.metrics.roles.set({ pipeline: this.name, role: 'standby' }, role === 'standby' ? 1 : 0);
  }

  /** 1 while an operator has paused the trigger, 0 otherwise. */
  triggerPaused(trigger: string, paused: boolean): void {
    this.metrics.triggerPaused.set({ pipeline: this.name, trigger }, paused ? 1 : 0);
  }

  /** After each backfill page: the rows it sent, and the rows left (null when not estimated). */
  backfillPage(trigger: string, sent: number, remaining: number | null): void {
    this.metrics.backfillRows.inc({ trigger }, sent);
    if (remaining !== null) this.metrics.backfillRemaining.set({ trigger }, remaining);
  }

  slotChecked(retainedWalBytes: number | null, walStatus: string | null): void {
    const pipeline = this.name;
    if (retainedWalBytes !== null) this.metrics.slotRetainedWal.set({ pipeline }, retainedWalBytes);
    for (const status of WAL_STATUSES) {
      this.metrics.slotWalStatus.set({ pipeline, status }, status === walStatus ? 1 : 0);
    }
  }
}
