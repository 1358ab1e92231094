import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { BackfillReport } from '../backfill/backfills.js';
import { loadConfigs } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { WalhookError } from '../core/errors.js';
import { JsonSyntaxError, parseJson, stringifyJson } from '../core/json.js';
import type { Status } from '../service/status.js';
import { whereSchema } from '../triggers/where-schema.js';
import { configFile, parseUsage, usageError } from './args.js';
import { progressLine } from './progress-line.js';

export interface CommandOutput {
  /** Text as is (progress redraws carry their own carriage returns). */
  progress(text: string): void;
  line(text: string): void;
  /** Whether `progress` goes to a terminal, which can redraw one line. */
  tty: boolean;
}

const POLL_MS = 500;
/** Without a terminal, one progress line this often. */
const LOG_EVERY_MS = 5_000;

/** How to reach the running service's admin API, from the config unless overridden. */
interface AdminTarget {
  base: string;
  token: string | undefined;
}

/** `walhook invoke --config F --trigger T --key JSON`: one row now, as a MANUAL event. */
export async function invokeCommand(args: string[], output: CommandOutput): Promise<number> {
  const { values } = parseUsage(
    () =>
      parseArgs({
        args,
        options: {
          config: { type: 'string', short: 'c' },
          trigger: { type: 'string' },
          key: { type: 'string' },
          url: { type: 'string' },
        },
      }),
    'invoke: ',
  );
  if (values.trigger === undefined) throw usageError('invoke: --trigger is required');
  if (values.key === undefined) throw usageError('invoke: --key is required, e.g. --key \'{"id": 42}\'');
  const key = parseObject(values.key, '--key');
  const { target } = await resolve(values.config, values.trigger, values.url);
  const answer = await call(target, 'POST', `/triggers/${encodeURIComponent(values.trigger)}/invoke`, {
    key,
  });
  const result = answer as { event_id: string; outcome: string };
  output.line(`${result.event_id}  ${values.trigger}  ${result.outcome}`);
  return result.outcome === 'delivered' ? 0 : 1;
}

/** `walhook backfill --config F --trigger T [--where EXPR] [--batch-size N] [--op manual|read] [--restart] [--detach]`. */
export async function backfillCommand(args: string[], output: CommandOutput): Promise<number> {
  const { values } = parseUsage(
    () =>
      parseArgs({
        args,
        options: {
          config: { type: 'string', short: 'c' },
          trigger: { type: 'string' },
          where: { type: 'string' },
          'batch-size': { type: 'string' },
          op: { type: 'string' },
          restart: { type: 'boolean' },
          detach: { type: 'boolean' },
          cancel: { type: 'boolean' },
          url: { type: 'string' },
        },
      }),
    'backfill: ',
  );
  if (values.trigger === undefined) throw usageError('backfill: --trigger is required');
  const { target } = await resolve(values.config, values.trigger, values.url);
  const path = `/triggers/${encodeURIComponent(values.trigger)}/backfill`;
  if (values.cancel) {
    const stopped = (await call(target, 'POST', `${path}/cancel`, {})) as BackfillReport;
    output.line(`backfill of ${values.trigger} ${stopped.state}: ${stopped.rows_read} rows read`);
    return 0;
  }
  const batchSize = values['batch-size'] === undefined ? 1000 : Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw usageError('backfill: --batch-size must be an integer from 1 to 100000');
  }
  const op = (values.op ?? 'manual').toUpperCase();
  if (op !== 'MANUAL' && op !== 'READ') throw usageError('backfill: --op must be manual or read');
  const where = values.where === undefined ? null : parseWhere(values.where);
  const started = (await call(target, 'POST', path, {
    where,
    batch_size: batchSize,
    op,
    restart: values.restart === true,
  })) as BackfillReport;
  if (values.detach) {
    output.line(`backfill of ${values.trigger} started; follow it with walhook status`);
    return 0;
  }
  return follow(target, started, output);
}

/**
 * Follows the backfill in `/status` until it ends, drawing a bar on a terminal and a line every few
 * seconds elsewhere.
 */
async function follow(target: AdminTarget, started: BackfillReport, output: CommandOutput): Promise<number> {
  let lastLine = 0;
  for (;;) {
    const status = (await call(target, 'GET', '/status')) as Status;
    const report =
      [status, ...(status.pipelines ?? [])]
        .flatMap((s) => s.backfills ?? [])
        .find((b) => b.trigger === started.trigger) ?? started;
    const ended = report.state !== 'running';
    if (output.tty) {
      output.progress(`\r\x1b[2K${progressLine(report)}${ended ? '\n' : ''}`);
    } else if (ended || Date.now() - lastLine >= LOG_EVERY_MS) {
      output.line(progressLine(report));
      lastLine = Date.now();
    }
    if (ended) {
      if (report.state === 'failed') output.line(`backfill failed: ${report.error ?? 'unknown error'}`);
      return report.state === 'done' ? 0 : 1;
    }
    await sleep(POLL_MS);
  }
}

/** The option's JSON, every digit kept: `{"id": 9007199254740993}` names that row, not its neighbour. */
function parseObject(text: string, option: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    throw usageError(`${option} is not valid JSON (${err.message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw usageError(`${option} must be an object such as '{"id": 42}'`);
  }
  return value as Record<string, unknown>;
}

function parseWhere(text: string): unknown {
  const value = parseObject(text, '--where');
  const parsed = whereSchema.safeParse(value);
  if (!parsed.success) {
    throw usageError(`--where: ${parsed.error.issues[0]?.message ?? 'not a valid where expression'}`);
  }
  // Sent as given (the service validates it again).
  return value;
}

/** The service of the pipeline holding the trigger, and the token to call it with. */
async function resolve(
  config: string | undefined,
  trigger: string,
  url: string | undefined,
): Promise<{ target: AdminTarget; config: Readonly<Config> }> {
  const configs = await loadConfigs(configFile(config));
  const owner = configs.find((c) => c.triggers.some((t) => t.name === trigger));
  if (owner === undefined) throw usageError(`no trigger named ${trigger} in the config`);
  const { host, port, admin_token } = owner.server;
  // A service listening on every interface is reachable on loopback.
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const base = url ?? `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
  return { target: { base: base.replace(/\/+$/, ''), token: admin_token }, config: owner };
}

async function call(target: AdminTarget, method: string, path: string, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${target.base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: stringifyJson(body) }),
    });
    text = await response.text();
  } catch (err) {
    throw new WalhookError(
      'WALHOOK_ERR_SERVICE',
      `cannot reach walhook at ${target.base}: ${(err as Error).message}; is walhook run running with this config?`,
    );
  }
  let answer: unknown;
  try {
    answer = parseJson(text);
  } catch {
    answer = { error: text.trim() };
  }
  if (!response.ok) {
    const message = (answer as { error?: string }).error ?? `HTTP ${response.status}`;
    throw new WalhookError(
      'WALHOOK_ERR_SERVICE',
      `walhook answered ${method} ${path} with HTTP ${response.status}: ${message}`,
    );
  }
  return answer;
}
