import type { Config } from '../../config/schema.js';
import { userAgent, version } from '../../core/version.js';
import type { Status } from '../../service/status.js';
import { HttpError } from '../admin/json.js';
import type { DeadLetterReader } from './dead-letter-reader.js';
import type { FilteredChanges } from './filtered-changes.js';
import type { LoggedInvocations } from './logged-invocations.js';
import type { InvocationStatus, RecentDeliveries } from './recent-deliveries.js';
import { type ThroughputPoint, windowTotals } from './throughput.js';
import { deadLetterJson, invocationDetail, invocationSummary, triggerDefinition } from './views.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const STATUSES: readonly InvocationStatus[] = ['ok', 'failed', 'pending'];

/** What the API reads about a running pipeline; null while it is being made (starting, after a lost lock). */
export interface PipelineProbe {
  status(): Status | null;
  readiness(): { ready: boolean; reason: string };
  /** The key columns of a manual trigger's table; null when not known. */
  keyColumns(trigger: string): Promise<string[] | null>;
}

export interface ConsoleSources {
  configs: readonly Readonly<Config>[];
  probe(pipeline: string): PipelineProbe | null;
  throughput(trigger: string, nowMs: number): ThroughputPoint[];
  recent: RecentDeliveries | null;
  /** The invocation logs, which hold what the ring no longer does; null when no pipeline keeps one. */
  logged: LoggedInvocations | null;
  filtered: FilteredChanges | null;
  deadLetters: DeadLetterReader;
  admin: boolean;
}

type Answer = { status?: number; body: unknown };

/**
 * The read-only JSON API under `/console/api/`: overview, recent invocations, dead letters and
 * triggers. `path` is below `/console/api`; an unknown one is a 404.
 */
export async function consoleApi(
  sources: ConsoleSources,
  path: string,
  query: URLSearchParams,
): Promise<Answer> {
  const [, first, id, ...rest] = path.split('/');
  if (rest.length > 0 || (id !== undefined && id === ''))
    throw new HttpError(404, `no endpoint /console/api${path}`);
  const key = id === undefined ? undefined : decode(id);
  switch (first) {
    case 'overview':
      if (key === undefined) return { body: await overview(sources) };
      break;
    case 'invocations':
      return key === undefined
        ? { body: await invocations(sources, query) }
        : { body: await invocation(sources, key) };
    case 'dead-letters':
      return key === undefined
        ? { body: await deadLetters(sources, query) }
        : { body: await deadLetter(sources, key) };
    case 'triggers':
      if (key === undefined) return { body: await triggers(sources) };
      break;
  }
  throw new HttpError(404, `no endpoint /console/api${path}`);
}

async function overview(sources: ConsoleSources) {
  const nowMs = Date.now();
  // The overview is what an operator opens when things go wrong: a store that cannot be read leaves
  // its counts null rather than failing the whole page.
  const counts = await sources.deadLetters.countsByTrigger().catch(() => null);
  return {
    pipelines: sources.configs.map((config) => pipelineOverview(config, sources.probe(config.pipeline))),
    triggers: sources.configs.flatMap((config) =>
      config.triggers.map(({ name }) => {
        const throughput = sources.throughput(name, nowMs);
        const totals = windowTotals(throughput);
        return {
          name,
          pipeline: config.pipeline,
          delivered: totals.delivered,
          failed: totals.failed,
          failure_ratio: Math.round(totals.failureRatio * 10_000) / 10_000,
          dead_letters: counts === null ? null : (counts.get(name) ?? 0),
          throughput,
        };
      }),
    ),
    now: new Date(nowMs).toISOString(),
    version: version(),
    admin: sources.admin,
  };
}

function pipelineOverview(config: Readonly<Config>, probe: PipelineProbe | null) {
  const status = probe?.status() ?? null;
  const { ready, reason } = probe?.readiness() ?? { ready: false, reason: 'starting' };
  return {
    pipeline: config.pipeline,
    slot: config.source.slot,
    connected: status?.connected ?? false,
    ready,
    reason,
    paused_by: status?.paused_by ?? [],
    confirmed_lsn: status?.confirmed_lsn ?? null,
    lag: status?.lag ?? { bytes: null, seconds: null },
    retained_wal_bytes: status?.slot_state?.retained_wal_bytes ?? null,
    dead_letters: status?.dead_letters ?? null,
  };
}

async function invocations(sources: ConsoleSources, query: URLSearchParams) {
  const status = query.get('status') ?? undefined;
  if (status !== undefined && !STATUSES.includes(status as InvocationStatus)) {
    throw new HttpError(400, `status must be one of ${STATUSES.join(', ')}`);
  }
  const wanted = {
    trigger: query.get('trigger') ?? undefined,
    status: status as InvocationStatus | undefined,
    eventId: query.get('event_id') ?? undefined,
    limit: limit(query),
  };
  const found = (sources.recent?.list(wanted) ?? []).map(invocationSummary);
  // The ring holds the newest; the log the rest, also from before a restart.
  if (sources.logged !== null && found.length < wanted.limit) {
    const skip = new Set(found.map((item) => item.event_id));
    found.push(...(await sources.logged.list({ ...wanted, limit: wanted.limit - found.length }, skip)));
  }
  return { invocations: found, recent: sources.recent?.capacity ?? 0, logged: sources.logged !== null };
}

async function invocation(sources: ConsoleSources, eventId: string) {
  const found = sources.recent?.get(eventId);
  if (found === undefined) {
    const logged = await sources.logged?.get(eventId);
    if (logged !== undefined) return logged;
    throw new HttpError(
      404,
      sources.recent === null && sources.logged === null
        ? 'recent deliveries are not kept (server.console.recent is 0, no invocation_log)'
        : `no delivery with event id ${eventId} (the console keeps the last ${sources.recent?.capacity ?? 0}${sources.logged === null ? '' : ', and the invocation log its retention'})`,
    );
  }
  // `user_agent` is shared by every pipeline.
  return invocationDetail(found, sources.configs[0]?.user_agent ?? userAgent());
}

async function deadLetters(sources: ConsoleSources, query: URLSearchParams) {
  const found = await sources.deadLetters.list(query.get('trigger') ?? undefined, limit(query));
  return { dead_letters: found.map(({ letter, pipeline }) => deadLetterJson(letter, pipeline)) };
}

async function deadLetter(sources: ConsoleSources, id: string) {
  const found = await sources.deadLetters.get(id);
  if (found === undefined) throw new HttpError(404, `no dead letter with id ${id}`);
  return deadLetterJson(found.letter, found.pipeline, true);
}

/**
 * Each trigger's definition and state: paused, its backfill in this process (running or ended) and,
 * for a manual one, its key columns. State is null while its pipeline does not stream here.
 */
async function triggers(sources: ConsoleSources) {
  const shown = sources.configs.map(async (config) => {
    const probe = sources.probe(config.pipeline);
    const status = probe?.status() ?? null;
    return Promise.all(
      config.triggers.map(async (trigger) => ({
        name: trigger.name,
        pipeline: config.pipeline,
        table: `${trigger.table.schema}.${trigger.table.name}`,
        operations: trigger.operations,
        enable_manual: trigger.enable_manual,
        key_columns: trigger.enable_manual ? ((await probe?.keyColumns(trigger.name)) ?? null) : null,
        paused: status?.triggers.find((t) => t.name === trigger.name)?.paused ?? null,
        backfill: status?.backfills?.find((b) => b.trigger === trigger.name) ?? null,
        definition: triggerDefinition(trigger),
        filtered: sources.filtered?.of(trigger.name) ?? [],
      })),
    );
  });
  return { triggers: (await Promise.all(shown)).flat(), debug_filters: sources.filtered !== null };
}

function limit(query: URLSearchParams): number {
  const text = query.get('limit');
  if (text === null) return DEFAULT_LIMIT;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw new HttpError(400, `limit must be a whole number from 1 to ${MAX_LIMIT}`);
  }
  return value;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `malformed path segment ${segment}`);
  }
}
