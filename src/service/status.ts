import type { BackfillReport } from '../backfill/backfills.js';
import { formatLsn, type Lsn } from '../core/lsn.js';
import type { TriggerMetrics } from '../core/metrics/trigger-metrics.js';
import { version } from '../core/version.js';
import type { SlotState } from './slot-monitor.js';

/** Rates are measured over this much history, sampled this often. */
const WINDOW_MS = 60_000;
const SAMPLE_MS = 5_000;
/** Below this much history a rate says more about timing than about throughput. */
const MIN_SPAN_MS = 1_000;

/**
 * The `/status` document. The `walhook status` command reads these field names; it carries no config
 * value beyond names, so no connection string or header can leak through it.
 */
export interface Status {
  version: string;
  now: string;
  uptime_sec: number;
  slot: string;
  publication: string;
  connected: boolean;
  ready: boolean;
  paused: boolean;
  /**
   * Why reading is paused: `operator` (POST /pause), `backpressure` (in-flight limits); empty when
   * reading. Absent from the reports of walhook versions before it.
   */
  paused_by?: string[];
  /** The backfills run in this process, running or ended (see `walhook backfill`). */
  backfills?: BackfillReport[];
  confirmed_lsn: string;
  server_wal_end: string;
  lag: { bytes: number; seconds: number };
  slot_state: {
    retained_wal_bytes: number | null;
    wal_status: string | null;
    max_slot_wal_keep_size: string;
    checked_at: string;
  } | null;
  in_flight: { events: number; bytes: number };
  catch_up: {
    behind_bytes: number;
    confirm_rate_bytes_per_sec: number | null;
    eta_sec: number | null;
    events_per_sec: number | null;
    events_behind_estimate: number | null;
  };
  triggers: {
    name: string;
    table: string;
    matched: number;
    delivered: number;
    retrying: number;
    dead_lettered: number;
    filtered: number;
    in_flight: number;
    /** An operator paused its deliveries (POST /triggers/:name/pause); absent before walhook had it. */
    paused?: boolean;
    rate_per_sec_1m: number | null;
    last_error: { message: string; at: string } | null;
  }[];
  dead_letters: number | null;
  /** The last reload of the config (SIGHUP, `walhook reload`), absent until one. */
  last_reload?: ReloadReport;
  /** With several pipelines: this report's pipeline. */
  pipeline?: string;
  /**
   * With several pipelines: each one's report. The fields above then repeat the first pipeline's,
   * except `connected` and `ready` (all pipelines) and `paused` (any pipeline).
   */
  pipelines?: Status[];
}

/** A reload as `/status` shows it. */
export interface ReloadReport {
  at: string;
  result: 'ok' | 'failed';
  /** Why it was refused; null when it was applied. */
  error: string | null;
  /** Applied: whether the stream had reached its marker when the answer was given. */
  in_effect?: boolean;
  /** What changed: trigger names added, removed and changed. */
  added?: string[];
  removed?: string[];
  changed?: string[];
}

/** The pipeline's state at one moment. */
export interface Snapshot {
  connected: boolean;
  ready: boolean;
  pausedBy: string[];
  confirmedLsn: Lsn;
  serverWalEnd: Lsn;
  lagSeconds: number;
  inFlightEvents: number;
  inFlightBytes: number;
  /** A trigger's events submitted to the sink and not yet settled. */
  triggerInFlight(trigger: string): number;
  /** An operator paused the trigger's deliveries. */
  triggerPaused(trigger: string): boolean;
  slot: SlotState | null;
  deadLetters: number | null;
}

export interface StatusIdentity {
  slot: string;
  publication: string;
  triggers: readonly { metrics: TriggerMetrics; table: string }[];
}

/** Cumulative values at one moment; rates are differences between two of them. */
interface Sample {
  at: number;
  confirmed: number;
  settled: number;
  /** Per trigger name: a reload may add and remove triggers between two samples. */
  delivered: Map<string, number>;
}

/** Builds `/status`, keeping a minute of samples for the catch-up estimate and per-trigger rates. */
export class StatusReporter {
  private samples: Sample[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private identity: StatusIdentity,
    private readonly snapshot: () => Snapshot,
  ) {}

  /** The triggers after a reload. */
  triggersChanged(triggers: StatusIdentity['triggers']): void {
    this.identity = { ...this.identity, triggers };
  }

  start(): void {
    if (this.timer) return;
    this.record(this.sample(this.snapshot(), Date.now()));
    this.timer = setInterval(() => this.record(this.sample(this.snapshot(), Date.now())), SAMPLE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  report(): Status {
    const nowMs = Date.now();
    const state = this.snapshot();
    const current = this.sample(state, nowMs);
    const base = this.samples.find((s) => s.at >= nowMs - WINDOW_MS);
    const spanSec = base && nowMs - base.at >= MIN_SPAN_MS ? (nowMs - base.at) / 1000 : null;
    const rate = (delta: number) => (spanSec === null ? null : delta / spanSec);
    const behind =
      state.serverWalEnd > state.confirmedLsn ? Number(state.serverWalEnd - state.confirmedLsn) : 0;
    const confirmedDelta = base ? current.confirmed - base.confirmed : 0;
    const settledDelta = base ? current.settled - base.settled : 0;
    const confirmRate = rate(confirmedDelta);
    return {
      version: version(),
      now: new Date(nowMs).toISOString(),
      uptime_sec: round(process.uptime(), 1),
      slot: this.identity.slot,
      publication: this.identity.publication,
      connected: state.connected,
      ready: state.ready,
      paused: state.pausedBy.length > 0,
      paused_by: state.pausedBy,
      confirmed_lsn: formatLsn(state.confirmedLsn),
      server_wal_end: formatLsn(state.serverWalEnd),
      lag: { bytes: behind, seconds: round(state.lagSeconds, 3) },
      slot_state: state.slot && {
        retained_wal_bytes: state.slot.retainedWalBytes,
        wal_status: state.slot.walStatus,
        max_slot_wal_keep_size: state.slot.maxSlotWalKeepSize,
        checked_at: state.slot.checkedAt.toISOString(),
      },
      in_flight: { events: state.inFlightEvents, bytes: state.inFlightBytes },
      catch_up: {
        behind_bytes: behind,
        confirm_rate_bytes_per_sec: round(confirmRate, 1),
        eta_sec: behind === 0 ? 0 : confirmRate ? round(behind / confirmRate, 1) : null,
        events_per_sec: round(rate(settledDelta), 1),
        events_behind_estimate:
          behind === 0 ? 0 : confirmedDelta > 0 ? Math.round((behind * settledDelta) / confirmedDelta) : null,
      },
      triggers: this.identity.triggers.map(({ metrics, table }) => ({
        name: metrics.name,
        table,
        matched: metrics.matched.value,
        delivered: metrics.delivered.value,
        retrying: metrics.retrying,
        dead_lettered: metrics.deadLettered.value,
        filtered: metrics.filtered,
        in_flight: state.triggerInFlight(metrics.name),
        paused: state.triggerPaused(metrics.name),
        rate_per_sec_1m: round(
          rate(
            (current.delivered.get(metrics.name) ?? 0) -
              (base?.delivered.get(metrics.name) ?? metrics.delivered.value),
          ),
          2,
        ),
        last_error: metrics.lastError && {
          message: metrics.lastError.message,
          at: metrics.lastError.at.toISOString(),
        },
      })),
      dead_letters: state.deadLetters,
    };
  }

  private sample(state: Snapshot, at: number): Sample {
    let settled = 0;
    const delivered = new Map<string, number>();
    for (const { metrics } of this.identity.triggers) {
      settled += metrics.delivered.value + metrics.deadLettered.value;
      delivered.set(metrics.name, metrics.delivered.value);
    }
    return { at, confirmed: Number(state.confirmedLsn), settled, delivered };
  }

  private record(sample: Sample): void {
    this.samples = this.samples.filter((s) => s.at >= sample.at - WINDOW_MS);
    this.samples.push(sample);
  }
}

function round(value: number, digits: number): number;
function round(value: number | null, digits: number): number | null;
function round(value: number | null, digits: number): number | null {
  if (value === null) return null;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
