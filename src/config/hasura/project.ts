import type { TableName } from '../../core/table-name.js';
import { mapEventTrigger, type TriggerMapping } from './event-trigger.js';
import type { HasuraMetadata, HasuraSource } from './metadata-read.js';
import { type ConnectionResult, isPostgresKind, sourceConnection } from './values.js';

/** A trigger's mapping with where it came from. */
export interface ImportedTrigger extends TriggerMapping {
  readonly table: TableName | null;
  /** The metadata file that defines it. */
  readonly file: string;
}

/** One Hasura source as walhook sees it: a pipeline, or a source it skips and why. */
export interface SourceImport {
  readonly name: string;
  readonly kind: string;
  /** Why the source is not imported (its kind), or null. */
  readonly skipped: string | null;
  readonly connection: ConnectionResult;
  readonly triggers: readonly ImportedTrigger[];
  /** Tables whose triggers need whole old rows, which only REPLICA IDENTITY FULL puts in the WAL. */
  readonly needFullIdentity: readonly TableName[];
}

/** A table entry's `table`: `{schema, name}`, or (version 1) the name of a table of the public schema. */
export function tableOf(value: unknown): TableName | null {
  if (typeof value === 'string' && value !== '') return { schema: 'public', name: value };
  if (typeof value !== 'object' || value === null) return null;
  const { schema = 'public', name } = value as Record<string, unknown>;
  return typeof schema === 'string' && typeof name === 'string' && name !== '' ? { schema, name } : null;
}

function eventTriggersOf(entry: Record<string, unknown>): unknown[] {
  const list = entry.event_triggers;
  return Array.isArray(list) ? list : [];
}

function importSource(source: HasuraSource, hasuraVersion: string): SourceImport {
  const triggers: ImportedTrigger[] = [];
  const needFull = new Map<string, TableName>();
  for (const entry of source.tables) {
    // Tables without event triggers (permissions, relationships only) are none of walhook's business.
    const list = eventTriggersOf(entry.value);
    if (list.length === 0) continue;
    const table = tableOf(entry.value.table);
    for (const item of list) {
      if (table === null) {
        const name = (item as { name?: unknown })?.name;
        const problem = { key: 'table', why: 'expected {schema, name} naming the table' };
        triggers.push({
          name: String(name),
          trigger: null,
          notes: [],
          problem,
          needsOldRows: false,
          table,
          file: entry.file,
        });
        continue;
      }
      const mapped = mapEventTrigger(item, table, hasuraVersion);
      triggers.push({ ...mapped, table, file: entry.file });
      if (mapped.needsOldRows) needFull.set(JSON.stringify(table), table);
    }
  }
  const postgres = isPostgresKind(source.kind);
  return {
    name: source.name,
    kind: source.kind,
    skipped: postgres ? null : `kind ${source.kind}: walhook reads Postgres sources only`,
    connection: sourceConnection(source.configuration),
    triggers,
    needFullIdentity: [...needFull.values()],
  };
}

/**
 * Every source of the metadata with its triggers mapped. A trigger name used twice among the Postgres
 * sources is refused on its second use: walhook names metrics, dead letters and events by it.
 */
export function importProject(metadata: HasuraMetadata, hasuraVersion: string): SourceImport[] {
  const sources = metadata.sources.map((source) => importSource(source, hasuraVersion));
  const seen = new Map<string, string>();
  return sources.map((source) => {
    if (source.skipped !== null) return source;
    const triggers = source.triggers.map((trigger) => {
      const first = seen.get(trigger.name);
      if (first === undefined) {
        seen.set(trigger.name, `${source.name} (${trigger.file})`);
        return trigger;
      }
      const problem = { key: 'name', why: `also the name of a trigger of source ${first}; rename one` };
      return { ...trigger, trigger: null, problem, needsOldRows: false };
    });
    return { ...source, triggers };
  });
}
