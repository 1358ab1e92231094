import type { TriggerConfig } from '../../config/schema.js';
import { formatLsn } from '../../core/lsn.js';
import { CENSOR, maskSecrets, redactText } from '../../core/redact.js';
import type { DeadLetter } from '../../dead-letters/store.js';
import type { ResponseHeaders } from '../../sinks/plugin.js';
import {
  safeUrl,
  shownTargetHeaders,
  webhookSecrets,
  withAttemptHeaders,
} from '../../sinks/webhook/shown-request.js';
import type { WebhookTarget } from '../../sinks/webhook/target.js';
import type { Invocation, KeptAttempt } from './recent-deliveries.js';

/** Response headers that hand out credentials. */
const SECRET_RESPONSE_HEADERS = new Set(['set-cookie', 'authorization', 'proxy-authenticate']);

/** What a target's requests are shown with: worked out once per target, when first shown. */
interface ShownTarget {
  url: string;
  headers: Record<string, string>;
  /** Header values a receiver may echo back, to mask in responses. */
  secrets: string[];
}

const shownTargets = new WeakMap<WebhookTarget, ShownTarget>();

export function invocationSummary(invocation: Invocation) {
  const last = invocation.attempts.at(-1);
  return {
    event_id: invocation.eventId,
    trigger: invocation.trigger,
    op: invocation.op,
    table: invocation.table,
    lsn: formatLsn(invocation.lsn),
    first_attempt_at: invocation.firstAttemptAt.toISOString(),
    last_attempt_at: invocation.lastAttemptAt.toISOString(),
    attempts: invocation.attemptCount,
    status: invocation.status,
    last_http_status: last?.status ?? null,
    duration_ms: last === undefined ? 0 : round(last.durationMs),
  };
}

/** The summary with each kept attempt: its request (credentials masked) and the start of its response. */
export function invocationDetail(invocation: Invocation, userAgent: string) {
  const { attempts: attemptCount, ...summary } = invocationSummary(invocation);
  return {
    ...summary,
    attempt_count: attemptCount,
    attempts: invocation.attempts.map((attempt) => attemptJson(attempt, userAgent)),
  };
}

function attemptJson(attempt: KeptAttempt, userAgent: string) {
  const shown = shownTarget(attempt.target, userAgent);
  const { sentAs } = attempt;
  const headers = withAttemptHeaders(sentAs?.headers ?? shown.headers, attempt.headers);
  return {
    attempt: attempt.attempt,
    at: attempt.at.toISOString(),
    http_status: attempt.status,
    duration_ms: round(attempt.durationMs),
    error: attempt.error,
    request: {
      method: sentAs?.method ?? 'POST',
      url: sentAs?.url ?? shown.url,
      headers,
      body: attempt.body,
    },
    response: {
      headers: attempt.responseHeaders && responseHeaders(attempt.responseHeaders, shown.secrets),
      body: maskSecrets(attempt.responseBody, shown.secrets),
    },
  };
}

function shownTarget(target: WebhookTarget, userAgent: string): ShownTarget {
  let shown = shownTargets.get(target);
  if (shown === undefined) {
    const headers = shownTargetHeaders(target, userAgent);
    shown = { url: safeUrl(target.url), headers, secrets: webhookSecrets(target) };
    shownTargets.set(target, shown);
  }
  return shown;
}

function responseHeaders(headers: ResponseHeaders, secrets: readonly string[]): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    shown[name] = SECRET_RESPONSE_HEADERS.has(name.toLowerCase()) ? CENSOR : maskSecrets(text, secrets);
  }
  return shown;
}

/** A trigger as loaded, with its signing secrets, header values and URL credentials masked. */
export function triggerDefinition(trigger: TriggerConfig) {
  const { tableText: _text, table, sink, ...rest } = trigger;
  return {
    ...(jsonSafe(rest) as typeof rest),
    table: `${table.schema}.${table.name}`,
    ...shownSink(sink),
  };
}

/** A webhook sink as Hasura's shorthand on the trigger (`webhook`, `headers`, `secrets`), which it means. */
function shownSink(sink: TriggerConfig['sink']) {
  // A broker's URLs may carry a user and password (RabbitMQ's, Redis's): masked as in the logs.
  if (sink.type !== 'webhook') return { sink: redactStrings(sink) };
  const { type: _type, url, headers, secrets, ...options } = sink;
  return {
    webhook: safeUrl(url),
    ...(headers !== undefined && {
      headers: Object.fromEntries(Object.keys(headers).map((name) => [name, CENSOR])),
    }),
    secrets: secrets.map(() => CENSOR),
    ...options,
  };
}

/** A broker sink's settings with every text masked as logs are: a Redis URL may carry a password. */
function redactStrings(value: unknown): unknown {
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map(redactStrings);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactStrings(item)]));
}

/**
 * `value` with its bigints (integers under `where`, which the loader keeps exact) as numbers, or as
 * text past 2^53, since JSON.stringify refuses them.
 */
function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER
      ? Number(value)
      : String(value);
  }
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, jsonSafe(item)]));
}

/** A dead letter as the console lists it; `withBody` adds the stored body (the detail view). */
export function deadLetterJson(letter: DeadLetter, pipeline: string, withBody = false) {
  return {
    id: letter.id,
    trigger: letter.trigger,
    table: letter.table,
    op: letter.op,
    lsn: letter.lsn,
    attempts: letter.attempts,
    last_status: letter.lastStatus,
    last_error: letter.lastError,
    response_snippet: letter.responseSnippet,
    first_attempt_at: letter.firstAttemptAt.toISOString(),
    last_attempt_at: letter.lastAttemptAt.toISOString(),
    dead_lettered_at: letter.deadLetteredAt.toISOString(),
    pipeline,
    ...(withBody && { body: letter.body }),
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
