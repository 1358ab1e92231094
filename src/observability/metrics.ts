import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** The metrics registry of one walhook process. Label values are bounded: trigger, table, op. */
export class Metrics {
  readonly registry = new Registry();
  readonly changesReceived = new Counter({
    name: 'walhook_changes_received_total',
    help: 'Row changes decoded from the replication stream.',
    labelNames: ['table', 'op'] as const,
    registers: [this.registry],
  });
  readonly eventsMatched = new Counter({
    name: 'walhook_events_matched_total',
    help: 'Changes that matched a trigger and were queued for delivery.',
    labelNames: ['trigger'] as const,
    registers: [this.registry],
  });
  readonly eventsFiltered = new Counter({
    name: 'walhook_events_filtered_total',
    help: "Changes of a trigger's table dropped on purpose by its operations, columns or where filter.",
    labelNames: ['trigger', 'reason'] as const,
    registers: [this.registry],
  });
  readonly eventsSettled = new Counter({
    name: 'walhook_events_settled_total',
    help: 'Events settled: delivered with a 2xx answer, or failed after all retries.',
    labelNames: ['trigger', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly deliveryAttempts = new Counter({
    name: 'walhook_delivery_attempts_total',
    help: 'HTTP delivery attempts by outcome: delivered, retry (another attempt follows) or failed (final).',
    labelNames: ['trigger', 'outcome', 'status_class'] as const,
    registers: [this.registry],
  });
  readonly eventsDeadLettered = new Counter({
    name: 'walhook_events_dead_lettered_total',
    help: 'Events stored in the dead-letter store after their last attempt failed.',
    labelNames: ['trigger'] as const,
    registers: [this.registry],
  });
  readonly inFlightEvents = new Gauge({
    name: 'walhook_in_flight_events',
    help: 'Events matched and not yet settled.',
    registers: [this.registry],
  });
  readonly replicationConnected = new Gauge({
    name: 'walhook_replication_connected',
    help: '1 while the replication stream is running.',
    registers: [this.registry],
  });
  readonly replicationPaused = new Gauge({
    name: 'walhook_replication_paused',
    help: '1 while reading is paused because the in-flight limits are reached (backpressure).',
    registers: [this.registry],
  });
  readonly unpublishedTables = new Gauge({
    name: 'walhook_unpublished_tables',
    help: "Triggers' tables missing from the publication at the last check (dropped and re-created, or removed).",
    registers: [this.registry],
  });
  readonly replicationReconnects = new Counter({
    name: 'walhook_replication_reconnects_total',
    help: 'Times the replication connection was lost.',
    registers: [this.registry],
  });
  readonly confirmedLsn = new Gauge({
    name: 'walhook_confirmed_flush_lsn_bytes',
    help: 'The LSN last confirmed to Postgres, as a byte position.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
