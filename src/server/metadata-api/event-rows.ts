import { parseJson } from '../../core/json.js';
import type { DeadLetter } from '../../dead-letters/store.js';
import type { LoggedAttempt } from '../../invocation-log/reader.js';

/**
 * Rows of Hasura's `hdb_catalog.event_log` and `event_invocation_logs` as the metadata API answers
 * them, made of what walhook keeps: the invocation log's attempts and the dead letters. Walhook keeps
 * no event table, so some columns are fixed: `locked` is null (no row is ever locked), `next_retry_at`
 * null (retries are timed in memory), `archived` false.
 */
export interface EventRow {
  id: string;
  schema_name: string;
  table_name: string;
  trigger_name: string;
  payload: unknown;
  delivered: boolean;
  error: boolean;
  tries: number;
  created_at: string;
  locked: null;
  next_retry_at: null;
  archived: boolean;
}

/** An event by its latest logged attempt: delivered, failed for good (error) or waiting to retry. */
export function eventOfAttempt(attempt: LoggedAttempt & { tries: number; firstAt: Date }): EventRow {
  return eventRow(attempt.eventId, attempt.table, attempt.trigger, attempt.request.body, attempt.firstAt, {
    delivered: attempt.outcome === 'delivered',
    error: attempt.outcome === 'failed',
    tries: attempt.tries,
  });
}

/** A dead letter: an event that errored. */
export function eventOfLetter(letter: DeadLetter): EventRow {
  return eventRow(letter.id, letter.table, letter.trigger, letter.body, letter.firstAttemptAt, {
    delivered: false,
    error: true,
    tries: letter.attempts,
  });
}

/** An attempt as Hasura logs an invocation: the request sent and the response (or why none came). */
export function invocationRow(attempt: LoggedAttempt) {
  return {
    id: attempt.id,
    event_id: attempt.eventId,
    trigger_name: attempt.trigger,
    status: attempt.status,
    request: {
      payload: parsed(attempt.request.body),
      headers: Object.entries(attempt.request.headers ?? {}).map(([name, value]) => ({ name, value })),
      version: '2',
    },
    response:
      attempt.status === null
        ? { type: 'client_error', data: { message: errorText(attempt) }, version: '2' }
        : {
            type: 'webhook_response',
            data: { body: attempt.responseBody, headers: [], status: attempt.status },
            version: '2',
          },
    created_at: attempt.at.toISOString(),
  };
}

function eventRow(
  id: string,
  table: string,
  trigger: string,
  bodyText: string,
  firstAt: Date,
  state: { delivered: boolean; error: boolean; tries: number },
): EventRow {
  const dot = table.indexOf('.');
  const body = parsed(bodyText) as { event?: unknown; created_at?: unknown } | null;
  // The body is Hasura's `{event, created_at, id, trigger, table, delivery_info}`: its event part is
  // what Hasura keeps as the payload, its created_at when the event was made.
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
  return {
    id,
    schema_name: dot < 0 ? 'public' : table.slice(0, dot),
    table_name: dot < 0 ? table : table.slice(dot + 1),
    trigger_name: trigger,
    payload: isObject && body.event !== undefined ? body.event : body,
    ...state,
    created_at: isObject && typeof body.created_at === 'string' ? body.created_at : firstAt.toISOString(),
    locked: null,
    next_retry_at: null,
    archived: false,
  };
}

function parsed(text: string): unknown {
  try {
    return parseJson(text);
  } catch {
    return text;
  }
}

function errorText(attempt: LoggedAttempt): string {
  if (attempt.error === null) return 'no response';
  return attempt.errorType === null ? attempt.error : `${attempt.errorType}: ${attempt.error}`;
}
