import { z } from 'zod';
import { STORE_DEFAULT_SOURCE, type StoredTrigger } from '../../config/hasura/trigger-store.js';
import type { Config } from '../../config/schema.js';
import { isWalhookError } from '../../core/errors.js';
import type { TableName } from '../../core/table-name.js';
import { type MetadataContext, type Operation, pipelinesOf } from './context.js';
import { MetadataError, notExists, parseArgs } from './errors.js';

const tableArg = z.union([
  z.string().min(1),
  z.strictObject({ schema: z.string().min(1).default('public'), name: z.string().min(1) }),
]);

/** Hasura's `pg_create_event_trigger` arguments; what each means is checked where the config is. */
const createArgs = z.strictObject({
  name: z.string().min(1),
  table: tableArg,
  source: z.string().min(1).default('default'),
  replace: z.boolean().default(false),
  insert: z.unknown().optional(),
  update: z.unknown().optional(),
  delete: z.unknown().optional(),
  enable_manual: z.boolean().default(false),
  webhook: z.unknown().optional(),
  webhook_from_env: z.unknown().optional(),
  retry_conf: z.unknown().optional(),
  headers: z.unknown().optional(),
  request_transform: z.unknown().optional(),
  response_transform: z.unknown().optional(),
  cleanup_config: z.unknown().optional(),
  trigger_on_replication: z.unknown().optional(),
});

const deleteArgs = z.strictObject({
  name: z.string().min(1),
  source: z.string().min(1).default('default'),
});

/**
 * `pg_create_event_trigger`: the trigger is kept in the metadata store and takes effect without a
 * restart, for changes committed after the answer (see docs/reload.md); with `replace`, a trigger
 * created this way gets the new definition.
 */
export const createEventTrigger: Operation = async (args, context) => {
  const { name, table, source, replace, ...rest } = parseArgs(createArgs, args);
  const { config, storeSource } = pipelineOf(context, source);
  const tableName: TableName = typeof table === 'string' ? { schema: 'public', name: table } : table;
  const { insert, update, delete: remove, enable_manual, ...others } = rest;
  const definition = { insert, update, delete: remove, enable_manual };
  const conf = withoutUndefined({
    name,
    definition: withoutUndefined(definition),
    ...withoutUndefined(others),
  });
  await change(context, `pg_create_event_trigger ${name}`, (stored) => {
    const index = stored.findIndex((t) => t.source === storeSource && t.conf.name === name);
    if (index === -1 && isRunning(config, name)) {
      if (!replace) throw alreadyExists(name);
      throw notOurs(name);
    }
    if (index >= 0 && !replace) throw alreadyExists(name);
    if (index === -1 && replace) throw notExists(`event trigger "${name}" does not exist`);
    const entry: StoredTrigger = { source: storeSource, table: tableName, conf };
    if (index === -1) return [...stored, entry];
    const before = stored[index] as StoredTrigger;
    if (before.table.schema !== tableName.schema || before.table.name !== tableName.name) {
      throw new MetadataError('not-supported', 'cannot replace table or schema for trigger', '$.args');
    }
    return stored.with(index, entry);
  });
  return { message: 'success' };
};

/**
 * `pg_delete_event_trigger`: a trigger of the metadata store is removed from it and stops for changes
 * committed after the answer; its events in flight finish or are dead-lettered (docs/reload.md).
 */
export const deleteEventTrigger: Operation = async (args, context) => {
  const { name, source } = parseArgs(deleteArgs, args);
  const { config, storeSource } = pipelineOf(context, source);
  await change(context, `pg_delete_event_trigger ${name}`, (stored) => {
    const index = stored.findIndex((t) => t.source === storeSource && t.conf.name === name);
    if (index >= 0) return stored.toSpliced(index, 1);
    throw isRunning(config, name) ? notOurs(name) : notExists(`event trigger "${name}" does not exist`);
  });
  return { message: 'success' };
};

/**
 * The one pipeline `source` names, and the name its triggers have in the store: `default` is the
 * pipeline of the single-pipeline form; with several pipelines, a source is a pipeline's name.
 */
function pipelineOf(context: MetadataContext, source: string) {
  const configs = pipelinesOf(context, source);
  const [config] = configs;
  if (config === undefined || configs.length > 1) {
    throw new MetadataError(
      'not-supported',
      `source "${source}" stands for all ${configs.length} pipelines of this walhook: name the pipeline the trigger belongs to (${configs.map((c) => c.pipeline).join(', ')})`,
      '$.args.source',
    );
  }
  const storeSource = context.configs.length > 1 ? config.pipeline : STORE_DEFAULT_SOURCE;
  return { config, storeSource };
}

async function change(
  context: MetadataContext,
  why: string,
  edit: (stored: StoredTrigger[]) => StoredTrigger[],
): Promise<void> {
  try {
    await context.changeStore(why, edit);
  } catch (err) {
    throw metadataError(err);
  }
}

function isRunning(config: Readonly<Config>, name: string): boolean {
  return config.triggers.some((t) => t.name === name);
}

function alreadyExists(name: string): MetadataError {
  return new MetadataError('already-exists', `Event trigger with name "${name}" already exists`, '$.args');
}

/** A trigger of the config file or of the Hasura metadata it imports: the API does not rewrite those. */
function notOurs(name: string): MetadataError {
  return new MetadataError(
    'not-supported',
    `event trigger "${name}" is defined in walhook's config file (or the Hasura metadata it imports), not through this API: change it there and reload walhook (kill -HUP, or walhook reload)`,
    '$.args.name',
  );
}

/** A refused change as Hasura says it: a missing table is `not-exists`, a bad definition invalid. */
function metadataError(err: unknown): unknown {
  if (err instanceof MetadataError || !isWalhookError(err)) return err;
  if (err.code === 'WALHOOK_ERR_TABLE_NOT_FOUND') return notExists(err.message, '$.args.table');
  if (err.exitCode === 2) return new MetadataError('invalid-configuration', err.message, '$.args');
  return new MetadataError('unexpected', err.message, '$', 500);
}

function withoutUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
