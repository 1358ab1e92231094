import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { WalhookError } from '../../core/errors.js';
import type { TableName } from '../../core/table-name.js';
import { type HasuraMetadata, parseJsonMetadata } from './metadata-read.js';
import { tableOf } from './project.js';

/** The file `metadata_store` names unless the config sets another, in the config file's folder. */
export const DEFAULT_STORE_FILE = 'walhook-metadata.json';

/** The source a single-pipeline config's stored triggers are under: what Hasura calls its database. */
export const STORE_DEFAULT_SOURCE = 'default';

/**
 * An event trigger created through the metadata API, as its client sent it (Hasura's
 * `EventTriggerConf`): `source` is the pipeline it belongs to (`default` in the single-pipeline form).
 */
export interface StoredTrigger {
  readonly source: string;
  readonly table: TableName;
  readonly conf: Readonly<Record<string, unknown>>;
}

/** The store's text, or null when there is no store file yet (nothing was created). */
export function readStoreText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new WalhookError(
      'WALHOOK_ERR_CONFIG_READ',
      `${path}: cannot read the metadata store (${code ?? String(err)}); let walhook read and write it, or set metadata_store to another file`,
      { cause: err },
    );
  }
}

/** The store's content as metadata (Hasura's version 3 JSON, which it is written as). */
export function storeMetadata(text: string, label: string): HasuraMetadata {
  return parseJsonMetadata(text, label);
}

/** Every trigger of the store, in file order. */
export function storedTriggers(text: string | null, label: string): StoredTrigger[] {
  if (text === null) return [];
  const triggers: StoredTrigger[] = [];
  for (const source of storeMetadata(text, label).sources) {
    for (const entry of source.tables) {
      const table = tableOf(entry.value.table);
      const list = entry.value.event_triggers;
      if (table === null || !Array.isArray(list)) continue;
      for (const conf of list) triggers.push({ source: source.name, table, conf });
    }
  }
  return triggers;
}

/**
 * The store's text for `triggers`: Hasura's metadata version 3 (sources → tables → event_triggers), so
 * the file is also what `hasura:` or Hasura itself could read. Sources and tables in first-use order.
 */
export function storeText(triggers: readonly StoredTrigger[]): string {
  const sources = new Map<string, Map<string, { table: TableName; event_triggers: unknown[] }>>();
  for (const { source, table, conf } of triggers) {
    let tables = sources.get(source);
    if (tables === undefined) {
      tables = new Map();
      sources.set(source, tables);
    }
    const key = JSON.stringify([table.schema, table.name]);
    let entry = tables.get(key);
    if (entry === undefined) {
      entry = { table: { schema: table.schema, name: table.name }, event_triggers: [] };
      tables.set(key, entry);
    }
    entry.event_triggers.push(conf);
  }
  const metadata = {
    version: 3,
    sources: [...sources].map(([name, tables]) => ({ name, kind: 'postgres', tables: [...tables.values()] })),
  };
  return `${JSON.stringify(metadata, null, 2)}\n`;
}

/**
 * Replaces the store file with `text` so that a crash leaves the old file or the new one, never a part:
 * written to a file beside it, flushed, then renamed over it.
 */
export async function writeStore(path: string, text: string): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const file = await open(temporary, 'wx', 0o600);
    try {
      await file.writeFile(text, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}
