import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfigs } from '../config/load.js';
import { withStoreScopes } from '../dead-letters/store-scope.js';
import { InvocationLog } from '../invocation-log/log.js';
import { EventNotFound, EventRedeliverer, RedeliveryRefused } from '../service/redeliver-event.js';
import { configFile, parseUsage, usageError } from './args.js';

type Print = (line: string) => void;

const NO_COUNTS = { written: () => {}, dropped: () => {}, writeFailed: () => {} };

/**
 * `walhook events redeliver --id ID`: the event sent again once, from its dead letter or else from the
 * invocation log, as `POST /events/:id/redeliver` does; the attempt is written to the invocation log.
 * Exit 0 when delivered, 1 when not (kept as a dead letter, unknown, or refused, with the reason).
 */
export async function eventsCommand(args: string[], print: Print): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand !== 'redeliver') {
    throw usageError(
      subcommand === undefined
        ? 'events: missing subcommand (redeliver)'
        : `events: unknown subcommand "${subcommand}" (expected redeliver)`,
    );
  }
  const { values } = parseUsage(
    () =>
      parseArgs({
        args: rest,
        options: {
          config: { type: 'string', short: 'c' },
          pipeline: { type: 'string' },
          id: { type: 'string' },
        },
      }),
    'events: ',
  );
  if (values.id === undefined || values.id === '') throw usageError('events redeliver: pass --id ID');
  const id = values.id;
  const configs = await loadConfigs(configFile(values.config));
  const selected =
    values.pipeline === undefined ? configs : configs.filter((c) => c.pipeline === values.pipeline);
  if (selected.length === 0) {
    throw usageError(
      `events: --pipeline "${values.pipeline}" is not in the config (pipelines: ${configs.map((c) => c.pipeline).join(', ')})`,
    );
  }
  // Warnings go to stderr, apart from the command's own output.
  const logger = pino({ level: 'warn', base: null }, pino.destination({ dest: 2, sync: true }));
  const logs = new Map<string, InvocationLog>();
  for (const config of configs) {
    if (config.invocation_log === undefined) continue;
    const log = new InvocationLog({
      connection: config.source.connection,
      config: config.invocation_log,
      userAgent: config.user_agent,
      counters: NO_COUNTS,
      logger,
    });
    for (const trigger of config.triggers) logs.set(trigger.name, log);
  }
  const redeliverer = new EventRedeliverer(
    configs,
    (pipelines, work) => withStoreScopes(configs, pipelines, logger, work),
    (trigger) => logs.get(trigger)?.recorder,
  );
  const opened = [...new Set(logs.values())];
  try {
    for (const log of opened) await log.init();
    const result = await redeliverer.redeliver(id, selected);
    print(
      `${id}  ${result.trigger}  ${result.outcome === 'delivered' ? `delivered: HTTP ${result.status}` : `kept as a dead letter: ${result.reason}`}`,
    );
    return result.outcome === 'delivered' ? 0 : 1;
  } catch (err) {
    if (!(err instanceof EventNotFound || err instanceof RedeliveryRefused)) throw err;
    print(err.message);
    return 1;
  } finally {
    await redeliverer.close();
    // Writes the attempt before the command ends.
    for (const log of opened) await log.close();
  }
}
