// The JSON shapes of /console/api/* as the contract between walhook and this page describes them.

export interface PipelineView {
  pipeline: string;
  slot: string;
  connected: boolean;
  ready: boolean;
  paused_by: string[];
  confirmed_lsn: string | null;
  lag: { bytes: number | null; seconds: number | null };
  retained_wal_bytes: number | null;
  dead_letters: number;
}

export interface ThroughputPoint {
  at: string;
  delivered: number;
  failed: number;
}

export interface TriggerStats {
  name: string;
  pipeline: string;
  delivered: number;
  failed: number;
  failure_ratio: number;
  dead_letters: number;
  throughput: ThroughputPoint[];
}

export interface Overview {
  pipelines: PipelineView[];
  triggers: TriggerStats[];
  now: string;
  version: string;
  admin: boolean;
}

export type InvocationStatus = 'ok' | 'failed' | 'pending';

export interface InvocationSummary {
  event_id: string;
  trigger: string;
  op: string;
  table: string;
  lsn: string;
  first_attempt_at: string;
  last_attempt_at: string;
  attempts: number;
  status: InvocationStatus;
  last_http_status: number | null;
  duration_ms: number;
}

export interface Attempt {
  attempt: number;
  at: string;
  http_status: number | null;
  duration_ms: number;
  error: string | null;
  request: { method: string; url: string; headers: Record<string, string>; body: string };
  response: { headers: Record<string, string> | null; body: string };
}

export type InvocationDetail = Omit<InvocationSummary, 'attempts'> & {
  attempt_count: number;
  attempts: Attempt[];
};

export interface DeadLetter {
  id: string;
  trigger: string;
  table: string;
  op: string;
  lsn: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  response_snippet: string | null;
  first_attempt_at: string;
  last_attempt_at: string;
  dead_lettered_at: string;
  pipeline: string;
  body?: string;
}

export interface RedeliverResult {
  redelivered: number;
  kept: number;
  results: { id: string; trigger: string; outcome: 'delivered' | 'kept'; detail: string | null }[];
}

export interface FilteredChange {
  at: string;
  op: string;
  lsn: string;
  reason: string;
  key: string;
}

export interface BackfillReport {
  trigger: string;
  state: 'running' | 'done' | 'cancelled' | 'failed';
  op: 'MANUAL' | 'READ';
  rows_read: number;
  rows_sent: number;
  total_estimate: number | null;
  remaining: number | null;
  rate_per_sec: number;
  eta_sec: number | null;
  error: string | null;
}

export interface ManualOutcome {
  event_id: string;
  outcome: string;
}

export interface TriggerDefinition {
  name: string;
  pipeline: string;
  table: string;
  operations: string[];
  enable_manual: boolean;
  /** The key columns a manual invocation names; null when not known (yet) or not manual. */
  key_columns: string[] | null;
  /** Null while its pipeline does not stream in this process. */
  paused: boolean | null;
  backfill: BackfillReport | null;
  definition: unknown;
  filtered: FilteredChange[];
}

export interface TriggersView {
  triggers: TriggerDefinition[];
  debug_filters: boolean;
}
