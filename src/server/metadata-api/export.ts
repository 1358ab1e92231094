import { z } from 'zod';
import {
  readStoreText,
  STORE_DEFAULT_SOURCE,
  type StoredTrigger,
  storedTriggers,
} from '../../config/hasura/trigger-store.js';
import type { Config, TriggerConfig } from '../../config/schema.js';
import { DEFAULT_RETRY } from '../../sinks/retry-policy.js';
import { safeUrl } from '../../sinks/webhook/shown-request.js';
import type { Operation } from './context.js';
import { parseArgs } from './errors.js';

const exportArgs = z.object({ version: z.union([z.literal(1), z.literal(2)]).default(1) });

/** What a header's value is exported as: the config's values are often credentials. */
const MASKED = '<masked>';

/**
 * `export_metadata`: the event triggers of the running config in Hasura's metadata v3 shape (sources
 * → tables → event_triggers). A source per pipeline, named after it; with one pipeline `default`, as
 * Hasura names its database. Only what Hasura's metadata can say is there: walhook's own keys (where,
 * ordering, sinks other than webhooks…) are left out, header values are masked and a
 * request_transform of the config (kept compiled) is left out; triggers created through this API come
 * as they were created. `version: 2` wraps it as `{resource_version,
 * metadata}`, as Hasura does.
 */
export const exportMetadata: Operation = async (args, context) => {
  const { version } = parseArgs(exportArgs, args);
  const several = context.configs.length > 1;
  const metadata = {
    version: 3,
    sources: context.configs.map((config) => {
      const name = several ? config.pipeline : STORE_DEFAULT_SOURCE;
      const path = config.metadata_store;
      const stored = path === undefined ? [] : storedTriggers(readStoreText(path), path);
      const created = new Map(stored.filter((t) => t.source === name).map((t) => [t.conf.name, t.conf]));
      return source(config, name, created);
    }),
  };
  return version === 2 ? { resource_version: 1, metadata } : metadata;
};

/**
 * A source's tables and their triggers. A trigger created through this API (in `created`, by name) is
 * exported as it was given, request_transform included, with its header values masked.
 */
function source(config: Readonly<Config>, name: string, created: ReadonlyMap<unknown, StoredConf>) {
  const tables = new Map<string, { table: { schema: string; name: string }; event_triggers: unknown[] }>();
  for (const trigger of config.triggers) {
    const key = JSON.stringify([trigger.table.schema, trigger.table.name]);
    let table = tables.get(key);
    if (table === undefined) {
      table = { table: { schema: trigger.table.schema, name: trigger.table.name }, event_triggers: [] };
      tables.set(key, table);
    }
    const given = created.get(trigger.name);
    table.event_triggers.push(given === undefined ? eventTrigger(trigger) : maskedHeaders(given));
  }
  return { name, kind: 'postgres', tables: [...tables.values()], configuration: {} };
}

function eventTrigger(trigger: Readonly<TriggerConfig>) {
  const payload = trigger.payload_columns === undefined ? '*' : [...trigger.payload_columns];
  const spec = (columns: '*' | string[]) => ({ columns, payload });
  const definition: Record<string, unknown> = { enable_manual: trigger.enable_manual };
  if (trigger.operations.includes('insert')) definition.insert = spec('*');
  if (trigger.operations.includes('update')) {
    definition.update = spec(trigger.columns === undefined ? '*' : [...trigger.columns]);
  }
  if (trigger.operations.includes('delete')) definition.delete = spec('*');
  const { sink } = trigger;
  const webhook =
    sink.type === 'webhook' ? (sink as { url: string; headers?: Record<string, string> }) : null;
  return {
    name: trigger.name,
    definition,
    retry_conf: {
      num_retries: trigger.retry?.num_retries ?? DEFAULT_RETRY.numRetries,
      interval_sec: trigger.retry?.interval_sec ?? DEFAULT_RETRY.intervalSec,
      timeout_sec: trigger.retry?.timeout_sec ?? DEFAULT_RETRY.timeoutSec,
    },
    ...(webhook !== null && { webhook: safeUrl(webhook.url) }),
    ...(webhook?.headers !== undefined && {
      headers: Object.keys(webhook.headers).map((name) => ({ name, value: MASKED })),
    }),
  };
}

type StoredConf = StoredTrigger['conf'];

function maskedHeaders(conf: StoredConf): StoredConf {
  if (!Array.isArray(conf.headers)) return conf;
  const headers = conf.headers.map((header: unknown) =>
    typeof header === 'object' && header !== null && 'value' in header
      ? { ...header, value: MASKED }
      : header,
  );
  return { ...conf, headers };
}
