import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../../config/schema.js';
import { InvocationLogReader } from '../../invocation-log/reader.js';
import { DeadLetterReader } from '../console/dead-letter-reader.js';
import { type Operation, pipelinesOf, triggerOf } from './context.js';
import { MetadataError, notExists, parseArgs } from './errors.js';
import { type EventRow, eventOfAttempt, eventOfLetter, invocationRow } from './event-rows.js';

const page = {
  limit: z.number().int().min(0).max(10_000).default(100),
  offset: z.number().int().min(0).default(0),
};
const source = z.string().min(1).default('default');

const eventLogsArgs = z.object({
  name: z.string().min(1),
  source,
  status: z.enum(['pending', 'processed', 'errored', 'all']).default('all'),
  ...page,
});
const invocationLogsArgs = z.object({ name: z.string().min(1), source, ...page });
const eventByIdArgs = z.object({
  source,
  event_id: z.string().min(1),
  invocation_log_limit: page.limit,
  invocation_log_offset: page.offset,
});

/** The latest attempt's outcomes each status keeps (Hasura: processed is delivered or errored). */
const OUTCOMES = {
  pending: ['retry'],
  processed: ['delivered', 'failed'],
  errored: ['failed'],
  all: undefined,
};

/**
 * `pg_get_event_logs`, `pg_get_event_invocation_logs` and `pg_get_event_by_id`, read from the
 * pipelines' invocation logs (`invocation_log`) and dead letters. Readers are opened on first use and
 * kept (one connection each).
 */
export class EventLogs {
  readonly #readers = new Map<string, InvocationLogReader>();
  readonly #letters: DeadLetterReader;

  constructor(configs: readonly Readonly<Config>[], logger: Logger) {
    this.#letters = new DeadLetterReader(configs, logger);
  }

  readonly eventLogs: Operation = async (args, context) => {
    const { name, source, status, limit, offset } = parseArgs(eventLogsArgs, args);
    const { config } = triggerOf(context, source, name);
    const wanted = offset + limit;
    const logged = await this.#reader(config).latest({
      trigger: name,
      outcomes: OUTCOMES[status],
      limit: wanted,
    });
    const events = new Map<string, EventRow>(
      logged.map((attempt) => [attempt.eventId, eventOfAttempt(attempt)]),
    );
    if (status !== 'pending') {
      for (const { letter } of await this.#letters.list(name, wanted)) {
        const event = events.get(letter.id);
        if (event === undefined) events.set(letter.id, eventOfLetter(letter));
        else Object.assign(event, { delivered: false, error: true });
      }
    }
    return [...events.values()]
      .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0))
      .slice(offset, wanted);
  };

  readonly invocationLogs: Operation = async (args, context) => {
    const { name, source, limit, offset } = parseArgs(invocationLogsArgs, args);
    const { config } = triggerOf(context, source, name);
    return (await this.#reader(config).attempts({ trigger: name, limit, offset })).map(invocationRow);
  };

  readonly eventById: Operation = async (args, context) => {
    const { source, event_id, invocation_log_limit, invocation_log_offset } = parseArgs(eventByIdArgs, args);
    const pipelines = pipelinesOf(context, source);
    const [first] = pipelines;
    if (first !== undefined && pipelines.every((c) => c.invocation_log === undefined)) throw logOff(first);
    for (const config of pipelines.filter((c) => c.invocation_log !== undefined)) {
      const reader = this.#reader(config);
      const [latest] = await reader.latest({ eventId: event_id, limit: 1 });
      if (latest === undefined) continue;
      const event = eventOfAttempt(latest);
      if ((await this.#letters.get(event_id)) !== undefined)
        Object.assign(event, { delivered: false, error: true });
      const query = { eventId: event_id, limit: invocation_log_limit, offset: invocation_log_offset };
      return { event, invocations: (await reader.attempts(query)).map(invocationRow) };
    }
    const letter = await this.#letters.get(event_id);
    if (letter !== undefined) return { event: eventOfLetter(letter.letter), invocations: [] };
    throw notExists(`event with id "${event_id}" does not exist`, '$.args.event_id');
  };

  async close(): Promise<void> {
    await Promise.all([...this.#readers.values()].map((reader) => reader.close()));
    await this.#letters.close();
  }

  #reader(config: Readonly<Config>): InvocationLogReader {
    const log = config.invocation_log;
    if (log === undefined) throw logOff(config);
    const key = `${config.source.connection} ${log.table}`;
    let reader = this.#readers.get(key);
    if (reader === undefined) {
      reader = new InvocationLogReader(config.source.connection, log.table);
      this.#readers.set(key, reader);
    }
    return reader;
  }
}

function logOff(config: Readonly<Config>): MetadataError {
  return new MetadataError(
    'not-supported',
    `pipeline "${config.pipeline}" keeps no invocation log, which event logs are read from: set invocation_log: {} in its config (the table walhook.invocation_log, kept 7d) and restart`,
  );
}
