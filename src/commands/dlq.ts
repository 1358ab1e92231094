import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfigs } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { DURATION_EXAMPLES, parseDuration as durationMs } from '../core/duration.js';
import { parseLsn } from '../core/lsn.js';
import { redeliverLetters } from '../dead-letters/redeliver.js';
import { type DeadLetter, type DeadLetterFilter, letterToJson } from '../dead-letters/store.js';
import { type StoreScope, withStoreScopes } from '../dead-letters/store-scope.js';
import { configFile, parseUsage, usageError } from './args.js';

type Print = (line: string) => void;

const CONFIG = { config: { type: 'string', short: 'c' }, pipeline: { type: 'string' } } as const;
/** Longer errors are cut in the table; `--json` has them whole. */
const ERROR_COLUMN_CHARS = 80;
/** A table of thousands of letters scrolls past what a terminal keeps; JSON lines are for scripts. */
const TABLE_LIMIT = 100;

/** `walhook dlq list | redeliver | purge`: inspect, redeliver and delete dead letters. */
export async function dlqCommand(args: string[], print: Print): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'list': {
      const { values } = parseUsage(
        () =>
          parseArgs({
            args: rest,
            options: {
              ...CONFIG,
              trigger: { type: 'string' },
              json: { type: 'boolean' },
              since: { type: 'string' },
              limit: { type: 'string' },
            },
          }),
        'dlq: ',
      );
      const limit =
        values.limit === undefined ? (values.json ? null : TABLE_LIMIT) : parseLimit(values.limit);
      const filter: DeadLetterFilter = {
        ...(values.trigger !== undefined && { trigger: values.trigger }),
        ...(values.since !== undefined && {
          since: new Date(Date.now() - parseDuration('list', '--since', values.since)),
        }),
      };
      return withStores(values, async (scopes) => {
        const letters: DeadLetter[] = [];
        for (const scope of scopes) letters.push(...(await scope.list(filter)));
        // Each store lists in LSN order; several are merged into one order.
        if (scopes.length > 1) letters.sort((a, b) => compareLsn(a.lsn, b.lsn));
        const shown = limit === null ? letters : letters.slice(0, limit);
        if (values.json) for (const letter of shown) print(JSON.stringify(letterToJson(letter)));
        else {
          for (const line of formatTable(shown)) print(line);
          const more = letters.length - shown.length;
          if (more > 0) {
            print(
              `… and ${more} more (${letters.length} in all); show them with --limit ${letters.length}, narrow with --since or --trigger, or use --json`,
            );
          }
        }
        return 0;
      });
    }
    case 'redeliver': {
      const { values } = parseUsage(
        () =>
          parseArgs({
            args: rest,
            options: {
              ...CONFIG,
              id: { type: 'string' },
              trigger: { type: 'string' },
              all: { type: 'boolean' },
            },
          }),
        'dlq: ',
      );
      const filter = selection('redeliver', values, 'all');
      return withStores(values, (scopes, configs) => redeliver(scopes, configs, filter, print));
    }
    case 'purge': {
      const { values } = parseUsage(
        () =>
          parseArgs({
            args: rest,
            options: {
              ...CONFIG,
              id: { type: 'string' },
              trigger: { type: 'string' },
              'older-than': { type: 'string' },
            },
          }),
        'dlq: ',
      );
      const filter = selection('purge', values, 'older-than');
      return withStores(values, async (scopes) => {
        let removed = 0;
        for (const scope of scopes) removed += await scope.purge(filter);
        print(`purged ${removed} dead letter${removed === 1 ? '' : 's'}`);
        return 0;
      });
    }
    case undefined:
      throw usageError('dlq: missing subcommand (list, redeliver or purge)');
    default:
      throw usageError(`dlq: unknown subcommand "${subcommand}" (expected list, redeliver or purge)`);
  }
}

/** Redelivers the matching letters, one line each, and a summary; exits 1 when any was kept. */
async function redeliver(
  scopes: readonly StoreScope[],
  configs: readonly Readonly<Config>[],
  filter: DeadLetterFilter,
  print: Print,
): Promise<number> {
  const results = await redeliverLetters(scopes, configs, filter, (result) =>
    print(
      `${result.id}  ${result.trigger}  ${result.outcome === 'delivered' ? `delivered: HTTP ${result.status}` : `kept: ${result.reason}`}`,
    ),
  );
  if (results.length === 0) {
    print('no dead letters match');
    // Asking for one letter by id that is not there is a failure a script should notice.
    return filter.id === undefined ? 0 : 1;
  }
  const delivered = results.filter((r) => r.outcome === 'delivered').length;
  const kept = results.length - delivered;
  print(`${delivered} of ${results.length} redelivered, ${kept} kept`);
  return kept === 0 ? 0 : 1;
}

function compareLsn(a: string, b: string): number {
  const [x, y] = [parseLsn(a), parseLsn(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

async function withStores(
  options: { config?: string; pipeline?: string },
  run: (scopes: StoreScope[], configs: readonly Readonly<Config>[]) => Promise<number>,
): Promise<number> {
  const configs = await loadConfigs(configFile(options.config));
  const selected =
    options.pipeline === undefined ? configs : configs.filter((c) => c.pipeline === options.pipeline);
  if (selected.length === 0) {
    throw usageError(
      `dlq: --pipeline "${options.pipeline}" is not in the config (pipelines: ${configs.map((c) => c.pipeline).join(', ')})`,
    );
  }
  // Warnings (an unreadable line in the file) go to stderr, apart from the command's own output.
  const logger = pino({ level: 'warn', base: null }, pino.destination({ dest: 2, sync: true }));
  return withStoreScopes(configs, selected, logger, (scopes) => run(scopes, configs));
}

/** The filter of exactly one selector: --id, --trigger, or `other` (--all or --older-than). */
function selection(
  command: string,
  values: { id?: string; trigger?: string; all?: boolean; 'older-than'?: string },
  other: 'all' | 'older-than',
): DeadLetterFilter {
  const given = (['id', 'trigger', other] as const).filter((name) => values[name] !== undefined);
  if (given.length !== 1) {
    throw usageError(`dlq ${command}: pass exactly one of --id, --trigger, --${other}`);
  }
  if (values.id !== undefined) return { id: values.id };
  if (values.trigger !== undefined) return { trigger: values.trigger };
  const olderThan = values['older-than'];
  return olderThan === undefined
    ? {}
    : { olderThan: new Date(Date.now() - parseDuration(command, '--older-than', olderThan)) };
}

function parseDuration(command: string, option: string, text: string): number {
  const ms = durationMs(text);
  if (ms === null) {
    throw usageError(`dlq ${command}: ${option} "${text}" is not a duration such as ${DURATION_EXAMPLES}`);
  }
  return ms;
}

function parseLimit(text: string): number {
  const limit = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw usageError(`dlq list: --limit "${text}" is not a whole number of 1 or more`);
  }
  return limit;
}

function formatTable(letters: readonly DeadLetter[]): string[] {
  if (letters.length === 0) return ['no dead letters'];
  const header = [
    'ID',
    'TRIGGER',
    'TABLE',
    'OP',
    'LSN',
    'ATTEMPTS',
    'LAST STATUS',
    'DEAD-LETTERED AT',
    'ERROR',
  ];
  const rows = letters.map((letter) => [
    letter.id,
    letter.trigger,
    letter.table,
    letter.op,
    letter.lsn,
    String(letter.attempts),
    letter.lastStatus === null ? '-' : String(letter.lastStatus),
    letter.deadLetteredAt.toISOString(),
    oneLine(letter.lastError ?? ''),
  ]);
  const widths = header.map((_, column) =>
    Math.max(...[header, ...rows].map((row) => row[column]?.length ?? 0)),
  );
  return [header, ...rows].map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > ERROR_COLUMN_CHARS ? `${flat.slice(0, ERROR_COLUMN_CHARS - 1)}…` : flat;
}
