import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { configFile, parseUsage, usageError } from '../cli-args.js';
import { loadConfigs } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { WebhookTarget } from '../sink/delivery-event.js';
import { attemptTrace } from '../sink/trace.js';
import { WebhookClient } from '../sink/webhook-client.js';
import { parseLsn } from '../source/change.js';
import { deliveryTarget } from '../triggers/matcher.js';
import { userAgent } from '../version.js';
import {
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterStore,
  letterToJson,
  openDeadLetterStore,
} from './store.js';

type Print = (line: string) => void;

const CONFIG = { config: { type: 'string', short: 'c' }, pipeline: { type: 'string' } } as const;
const DURATION_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };
/** Longer errors are cut in the table; `--json` has them whole. */
const ERROR_COLUMN_CHARS = 80;

/** `walhook dlq list | redeliver | purge`: inspect, redeliver and delete dead letters. */
export async function dlqCommand(args: string[], print: Print): Promise<number> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'list': {
      const { values } = parseUsage(
        () =>
          parseArgs({
            args: rest,
            options: { ...CONFIG, trigger: { type: 'string' }, json: { type: 'boolean' } },
          }),
        'dlq: ',
      );
      return withStores(values, async (scopes) => {
        const letters: DeadLetter[] = [];
        for (const scope of scopes) letters.push(...(await scope.list({ trigger: values.trigger })));
        // Each store lists in LSN order; several are merged into one order.
        if (scopes.length > 1) letters.sort((a, b) => compareLsn(a.lsn, b.lsn));
        if (values.json) for (const letter of letters) print(JSON.stringify(letterToJson(letter)));
        else for (const line of formatTable(letters)) print(line);
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

/**
 * POSTs each letter's stored body once, in LSN order, with its trigger's current URL, headers and
 * timeout. A delivered letter leaves the store; a failed one stays, with this attempt recorded.
 */
async function redeliver(
  scopes: readonly StoreScope[],
  configs: readonly Readonly<Config>[],
  filter: DeadLetterFilter,
  print: Print,
): Promise<number> {
  const letters: { letter: DeadLetter; store: DeadLetterStore }[] = [];
  for (const scope of scopes) {
    for (const letter of await scope.list(filter)) letters.push({ letter, store: scope.store });
  }
  if (letters.length === 0) {
    print('no dead letters match');
    // Asking for one letter by id that is not there is a failure a script should notice.
    return filter.id === undefined ? 0 : 1;
  }
  // Null for a trigger that now publishes to a broker: its old letters wait for a webhook again.
  const targets = new Map<string, WebhookTarget | null>();
  for (const trigger of configs.flatMap((config) => config.triggers)) {
    const target = deliveryTarget(trigger);
    targets.set(trigger.name, target.type === 'webhook' ? target : null);
  }
  const client = new WebhookClient({ userAgent: userAgent() });
  let delivered = 0;
  try {
    for (const { letter, store } of letters) {
      const target = targets.get(letter.trigger);
      if (target === undefined) {
        print(`${letter.id}  ${letter.trigger}  kept: trigger no longer configured`);
        continue;
      }
      if (target === null) {
        print(`${letter.id}  ${letter.trigger}  kept: trigger no longer has a webhook`);
        continue;
      }
      const attemptedAt = new Date();
      // The next attempt of the same trace, so receivers can follow it from the original attempts.
      const { traceparent } = attemptTrace(letter.id, letter.attempts + 1);
      const result = await client.post(target, letter.body, { traceparent });
      if (result.error === undefined) {
        await store.remove([letter.id]);
        delivered += 1;
        print(`${letter.id}  ${letter.trigger}  delivered: HTTP ${result.status}`);
      } else {
        await store.add({
          ...letter,
          attempts: letter.attempts + 1,
          lastStatus: result.status,
          lastError: result.error.message,
          responseSnippet: result.responseSnippet === '' ? null : result.responseSnippet,
          lastAttemptAt: attemptedAt,
        });
        print(`${letter.id}  ${letter.trigger}  kept: ${result.error.message}`);
      }
    }
  } finally {
    await client.close();
  }
  const kept = letters.length - delivered;
  print(`${delivered} of ${letters.length} redelivered, ${kept} kept`);
  return kept === 0 ? 0 : 1;
}

/**
 * One dead-letter store and the letters of it a command works on: pipelines that name the same table
 * (on the same database) or file share a store, which is then opened once. With `--pipeline`, a store
 * shared with other pipelines is narrowed to the letters of the chosen pipeline's triggers.
 */
class StoreScope {
  constructor(
    readonly store: DeadLetterStore,
    /** The triggers whose letters count here; null for all of the store's letters. */
    private readonly only: ReadonlySet<string> | null,
  ) {}

  async list(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const letters = await this.store.list(filter);
    const { only } = this;
    return only === null ? letters : letters.filter((l) => only.has(l.trigger));
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    if (this.only === null) return this.store.purge(filter);
    return this.store.remove((await this.list(filter)).map((l) => l.id));
  }
}

function compareLsn(a: string, b: string): number {
  const [x, y] = [parseLsn(a), parseLsn(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

function storeKey(config: Readonly<Config>): string {
  const target = config.dead_letter;
  return target.file !== undefined
    ? `file ${resolve(target.file)}`
    : `table ${config.source.connection} ${target.table}`;
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
  const groups = new Map<string, Readonly<Config>>();
  for (const config of selected) if (!groups.has(storeKey(config))) groups.set(storeKey(config), config);
  // Warnings (an unreadable line in the file) go to stderr, apart from the command's own output.
  const logger = pino({ level: 'warn', base: null }, pino.destination({ dest: 2, sync: true }));
  const scopes: StoreScope[] = [];
  try {
    for (const [key, config] of groups) {
      const shared = configs.some((c) => !selected.includes(c) && storeKey(c) === key);
      const mine = selected.filter((c) => storeKey(c) === key).flatMap((c) => c.triggers.map((t) => t.name));
      const store = openDeadLetterStore(config, logger);
      scopes.push(new StoreScope(store, shared ? new Set(mine) : null));
      await store.init();
    }
    return await run(scopes, configs);
  } finally {
    for (const scope of scopes) await scope.store.close();
  }
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
  return olderThan === undefined ? {} : { olderThan: new Date(Date.now() - parseDuration(olderThan)) };
}

function parseDuration(text: string): number {
  const match = /^(\d+)([dhm])$/.exec(text);
  if (!match) {
    throw usageError(`dlq purge: --older-than "${text}" is not a duration such as 7d, 12h or 30m`);
  }
  return Number(match[1]) * (DURATION_MS[match[2] as string] as number);
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
