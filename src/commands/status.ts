import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { formatBytes, formatDuration, formatRate } from '../core/format.js';
import { redactText } from '../core/redact.js';
import type { Status } from '../service/status.js';
import { parseUsage, usageError } from './args.js';
import { progressLine } from './progress-line.js';

type TriggerStatus = Status['triggers'][number];

export interface StatusOutput {
  /** Writes text as is (the view, with its own newlines and screen clearing). */
  out(text: string): void;
  /** Writes one line to stderr. */
  err(line: string): void;
}

const DEFAULT_URL = 'http://127.0.0.1:9187';
const WATCH_INTERVAL_MS = 2000;
const REQUEST_TIMEOUT_MS = 5000;
/** Lag from which the view shows how the catch-up goes; below it, a catch-up is over in moments. */
const LARGE_LAG_BYTES = 16 * 1024 * 1024;
const LARGE_LAG_SEC = 10;
const ERROR_COLUMN_CHARS = 60;
/** Cursor home and clear screen, as `watch` does between frames. */
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

/** `walhook status [--url URL] [--watch] [--json]`: what a running walhook reports at `/status`. */
export async function statusCommand(args: string[], output: StatusOutput): Promise<number> {
  const { values } = parseUsage(
    () =>
      parseArgs({
        args,
        options: { url: { type: 'string' }, watch: { type: 'boolean' }, json: { type: 'boolean' } },
      }),
    'status: ',
  );
  if (values.watch && values.json) throw usageError('status: pass --watch or --json, not both');
  const url = statusUrl(values.url ?? (process.env.WALHOOK_URL || DEFAULT_URL));
  if (values.watch) return watch(url, output);
  const answer = await fetchStatus(url);
  if (typeof answer === 'string') {
    output.err(`walhook status: ${answer}`);
    return 1;
  }
  output.out(values.json ? `${answer.text.trimEnd()}\n` : `${renderStatus(answer.report).join('\n')}\n`);
  return 0;
}

/** The `/status` URL of a walhook base URL; a URL already ending in `/status` is taken as it is. */
function statusUrl(base: string): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw usageError(`status: --url "${redactText(base)}" is not a URL such as ${DEFAULT_URL}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`status: --url "${redactText(base)}" is not an http or https URL`);
  }
  if (!url.pathname.endsWith('/status')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/status`;
  return url.href;
}

/** The report, or one line saying why there is none. */
async function fetchStatus(
  url: string,
  signal?: AbortSignal,
): Promise<{ text: string; report: Status } | string> {
  const shown = redactText(url);
  let response: Response;
  let text: string;
  try {
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    response = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    text = await response.text();
  } catch (err) {
    return `cannot reach ${shown}: ${reason(err)}`;
  }
  if (!response.ok) return `${shown} answered HTTP ${response.status}${detail(text)}`;
  try {
    return { text, report: JSON.parse(text) as Status };
  } catch {
    return `${shown} did not answer JSON`;
  }
}

/** walhook answers 503 `{"error": "starting"}` before its pipeline exists; that word is worth showing. */
function detail(body: string): string {
  try {
    const { error } = JSON.parse(body) as { error?: unknown };
    return typeof error === 'string' ? ` (${error})` : '';
  } catch {
    return '';
  }
}

function reason(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError')
    return `no answer within ${REQUEST_TIMEOUT_MS / 1000}s`;
  // fetch hides the network error (ECONNREFUSED, ENOTFOUND) in its cause.
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = (cause as { code?: unknown }).code;
  return typeof code === 'string' ? code : cause instanceof Error ? cause.message : String(cause);
}

/**
 * Redraws the view every 2 s until Ctrl-C. An unreachable walhook is shown in the frame rather than
 * ending the watch, so it outlasts a restart of the service.
 */
async function watch(url: string, output: StatusOutput): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop.signal.aborted) {
      const answer = await fetchStatus(url, stop.signal);
      if (stop.signal.aborted) break;
      const lines = typeof answer === 'string' ? [answer] : renderStatus(answer.report);
      const title = `Every ${WATCH_INTERVAL_MS / 1000}s: walhook status ${redactText(url)}`;
      output.out(
        `${CLEAR_SCREEN}${title}  ${new Date().toTimeString().slice(0, 8)}\n\n${lines.join('\n')}\n`,
      );
      await sleep(WATCH_INTERVAL_MS, undefined, { signal: stop.signal }).catch(() => {});
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}

/** The human view of a report, one string per line; with several pipelines, one section each. */
export function renderStatus(report: Status): string[] {
  const title = `walhook ${report.version}, up ${formatDuration(report.uptime_sec)}`;
  const { pipelines } = report;
  const reload = report.last_reload ? [field('last reload', lastReload(report.last_reload, report.now))] : [];
  if (pipelines === undefined || pipelines.length === 0) return [title, ...reload, ...renderPipeline(report)];
  const lines = [`${title}, ${pipelines.length} pipelines`, ...reload];
  for (const pipeline of pipelines) {
    lines.push(
      '',
      `== pipeline ${pipeline.pipeline ?? '?'}`,
      ...renderPipeline({ ...pipeline, now: report.now }),
    );
  }
  return lines;
}

/** One pipeline's lines. */
function renderPipeline(report: Status): string[] {
  const now = Date.parse(report.now);
  const state = [
    report.connected ? 'connected' : 'disconnected',
    report.ready ? 'ready' : 'not ready',
    report.paused
      ? `reading paused${report.paused_by?.length ? ` (${report.paused_by.join(', ')})` : ''}`
      : 'reading',
  ];
  const lines = [
    field('state', state.join(', ')),
    field('slot', `${report.slot} (publication ${report.publication})`),
    field('confirmed', `${report.confirmed_lsn} (server WAL end ${report.server_wal_end})`),
    field('lag', `${formatBytes(report.lag.bytes)}, ${formatDuration(report.lag.seconds)}`),
    field('retained', retained(report.slot_state, now)),
    field('in flight', `${count(report.in_flight.events)} events, ${formatBytes(report.in_flight.bytes)}`),
  ];
  if (lagIsLarge(report.lag)) lines.push(field('catch-up', catchUp(report.catch_up)));
  for (const backfill of report.backfills ?? []) {
    lines.push(field('backfill', `${backfill.trigger} ${progressLine(backfill)}`));
  }
  lines.push('', ...triggerTable(report.triggers, now), '');
  lines.push(
    field(
      'dead letters',
      report.dead_letters === null
        ? 'unknown'
        : `${count(report.dead_letters)}${report.dead_letters > 0 ? ' (walhook dlq list)' : ''}`,
    ),
  );
  return lines;
}

/** `ok 2m ago (added a; removed b)` or `failed 5s ago: restart to change source.slot`. */
function lastReload(reload: NonNullable<Status['last_reload']>, now: string): string {
  const when = `${reload.result} ${ago(reload.at, Date.parse(now))}`;
  if (reload.result !== 'ok') return `${when}: ${reload.error ?? 'no reason given'}`;
  const parts = (['added', 'removed', 'changed'] as const)
    .filter((key) => (reload[key]?.length ?? 0) > 0)
    .map((key) => `${key} ${reload[key]?.join(', ')}`);
  const pending = reload.in_effect === false ? ', waiting for the stream to reach it' : '';
  return `${when}${parts.length > 0 ? ` (${parts.join('; ')})` : ''}${pending}`;
}

function field(name: string, value: string): string {
  return `${name.padEnd(14)}${value}`;
}

function lagIsLarge(lag: Status['lag']): boolean {
  return lag.bytes >= LARGE_LAG_BYTES || lag.seconds >= LARGE_LAG_SEC;
}

function retained(state: Status['slot_state'], now: number): string {
  if (state === null) return 'not checked yet';
  return [
    `${orUnknown(state.retained_wal_bytes, formatBytes)} of WAL`,
    `wal_status ${state.wal_status ?? 'unknown'}`,
    `max_slot_wal_keep_size ${state.max_slot_wal_keep_size}`,
    `checked ${ago(state.checked_at, now)}`,
  ].join(', ');
}

function catchUp(progress: Status['catch_up']): string {
  const events = progress.events_behind_estimate;
  const eta = progress.eta_sec;
  return [
    `${formatBytes(progress.behind_bytes)} behind`,
    `~${orUnknown(events, count)} events`,
    `${orUnknown(progress.events_per_sec, formatRate)} events/s`,
    `${orUnknown(progress.confirm_rate_bytes_per_sec, formatBytes)}/s confirmed`,
    // Null before a rate is known, or while nothing is confirmed at all.
    eta === null ? 'ETA unknown' : `ETA ${formatDuration(eta)}`,
  ].join(', ');
}

function triggerTable(triggers: readonly TriggerStatus[], now: number): string[] {
  if (triggers.length === 0) return ['no triggers'];
  const header = ['TRIGGER', 'TABLE', 'MATCHED', 'DELIVERED', 'RETRYING', 'DEAD-LETTERED', 'FILTERED'];
  header.push('IN FLIGHT', 'RATE/S (1M)', 'LAST ERROR');
  const rows = triggers.map((t) => [
    t.name,
    t.table,
    ...[t.matched, t.delivered, t.retrying, t.dead_lettered, t.filtered, t.in_flight].map(count),
    orUnknown(t.rate_per_sec_1m, formatRate),
    t.last_error === null ? '-' : `${oneLine(t.last_error.message)} (${ago(t.last_error.at, now)})`,
  ]);
  const widths = header.map((_, column) =>
    Math.max(...[header, ...rows].map((row) => row[column]?.length ?? 0)),
  );
  // Names and the error read from the left, numbers line up on the right.
  const numeric = (column: number) => column >= 2 && column < header.length - 1;
  return [header, ...rows].map((row) =>
    row
      .map((cell, column) =>
        numeric(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd(),
  );
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > ERROR_COLUMN_CHARS ? `${flat.slice(0, ERROR_COLUMN_CHARS - 1)}…` : flat;
}

function orUnknown<T>(value: T | null, format: (value: T) => string): string {
  return value === null ? '?' : format(value);
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** How long before `now` (the report's own clock, so the viewer's clock does not matter) `at` was. */
function ago(at: string, now: number): string {
  const sec = Math.max(0, (now - Date.parse(at)) / 1000);
  return `${formatDuration(sec)} ago`;
}
