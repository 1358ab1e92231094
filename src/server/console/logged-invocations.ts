import type { Config } from '../../config/schema.js';
import { InvocationLogReader, type LoggedAttempt, type LoggedEvent } from '../../invocation-log/reader.js';
import type { InvocationStatus } from './recent-deliveries.js';

const OUTCOME_OF: Record<InvocationStatus, string> = { ok: 'delivered', failed: 'failed', pending: 'retry' };
const STATUS_OF: Record<string, InvocationStatus> = { delivered: 'ok', failed: 'failed', retry: 'pending' };

export interface LoggedQuery {
  trigger?: string | undefined;
  status?: InvocationStatus | undefined;
  eventId?: string | undefined;
  limit: number;
}

/**
 * The console's history beyond its ring: the invocation logs of the pipelines that keep one
 * (`invocation_log`), which outlive restarts. Shown in the ring's JSON shapes (views.ts).
 */
export class LoggedInvocations {
  readonly #readers: InvocationLogReader[];

  private constructor(readers: InvocationLogReader[]) {
    this.#readers = readers;
  }

  /** One reader per log table (pipelines may share one); null when no pipeline keeps a log. */
  static of(configs: readonly Readonly<Config>[]): LoggedInvocations | null {
    const readers = new Map<string, InvocationLogReader>();
    for (const { invocation_log: log, source } of configs) {
      const key = `${source.connection} ${log?.table}`;
      if (log !== undefined && !readers.has(key)) {
        readers.set(key, new InvocationLogReader(source.connection, log.table));
      }
    }
    return readers.size === 0 ? null : new LoggedInvocations([...readers.values()]);
  }

  /** Events by latest attempt, newest first, leaving out those in `skip` (the ring's). */
  async list(query: LoggedQuery, skip: ReadonlySet<string>) {
    const logQuery = {
      trigger: query.trigger,
      eventId: query.eventId,
      outcome: query.status && OUTCOME_OF[query.status],
      limit: query.limit + skip.size,
    };
    const found = (await Promise.all(this.#readers.map((reader) => reader.events(logQuery)))).flat();
    found.sort((a, b) => b.lastAttemptAt.getTime() - a.lastAttemptAt.getTime());
    return found
      .filter((event) => !skip.has(event.eventId))
      .slice(0, query.limit)
      .map(summary);
  }

  /** An event with its logged attempts (oldest first, as the ring shows them); undefined if none. */
  async get(eventId: string) {
    for (const reader of this.#readers) {
      const [event] = await reader.events({ eventId, limit: 1 });
      if (event === undefined) continue;
      const attempts = await reader.attempts({ eventId, limit: 100 });
      const { attempts: count, ...rest } = summary(event);
      return { ...rest, attempt_count: count, attempts: attempts.reverse().map(attemptJson) };
    }
    return undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.#readers.map((reader) => reader.close()));
  }
}

function summary(event: LoggedEvent) {
  return {
    event_id: event.eventId,
    trigger: event.trigger,
    op: event.op,
    table: event.table,
    lsn: event.lsn,
    first_attempt_at: event.firstAttemptAt.toISOString(),
    last_attempt_at: event.lastAttemptAt.toISOString(),
    attempts: event.attempts,
    status: STATUS_OF[event.outcome] ?? 'pending',
    last_http_status: event.status,
    duration_ms: round(event.durationMs),
  };
}

/** Stored redacted (src/invocation-log/record.ts), so shown as stored. */
function attemptJson(attempt: LoggedAttempt) {
  return {
    attempt: attempt.attempt,
    at: attempt.at.toISOString(),
    http_status: attempt.status,
    duration_ms: round(attempt.durationMs),
    error: attempt.error === null ? null : `${attempt.errorType}: ${attempt.error}`,
    request: { url: attempt.request.url, headers: attempt.request.headers, body: attempt.request.body },
    response: { headers: null, body: attempt.responseBody },
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
