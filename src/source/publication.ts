import pg from 'pg';
import type { Logger } from 'pino';
import { WalhookError } from '../core/errors.js';
import { qualifiedName, type TableInfo, type TableName } from './tables.js';

/** What the publication lacks for the triggers' tables, and the statements that would fix it. */
export interface PublicationGap {
  exists: boolean;
  /** Tables it does not list (none when it is FOR ALL TABLES). */
  missing: TableInfo[];
  /** CREATE PUBLICATION …, or the ALTER PUBLICATION statements; empty when nothing is lacking. */
  statements: string[];
}

/**
 * Compares the publication with the triggers' tables. Partitioned tables publish through their root,
 * so a trigger on the parent sees every partition's changes under the parent's name; on Postgres 18
 * stored generated columns are published too, so rows match row_to_json.
 */
export async function publicationGap(
  client: Pick<pg.Client, 'query'>,
  publication: string,
  tables: readonly TableInfo[],
): Promise<PublicationGap> {
  const name = pg.escapeIdentifier(publication);
  const unique = [...new Map(tables.map((t) => [t.oid, t])).values()];
  const existing = await client.query<{ all: boolean; viaroot: boolean }>(
    'SELECT puballtables AS all, pubviaroot AS viaroot FROM pg_publication WHERE pubname = $1',
    [publication],
  );
  const row = existing.rows[0];
  if (!row) {
    const shown = await client.query<{ server_version_num: string }>('SHOW server_version_num');
    const options = ['publish_via_partition_root = true'];
    if (Number(shown.rows[0]?.server_version_num) >= 180_000)
      options.push("publish_generated_columns = 'stored'");
    return {
      exists: false,
      missing: unique,
      statements: [
        `CREATE PUBLICATION ${name} FOR TABLE ${unique.map(qualifiedName).join(', ')} WITH (${options.join(', ')})`,
      ],
    };
  }
  const statements: string[] = [];
  if (!row.viaroot && unique.some((t) => t.partitioned)) {
    statements.push(`ALTER PUBLICATION ${name} SET (publish_via_partition_root = true)`);
  }
  const missing = row.all ? [] : ((await unpublished(client, publication, unique)) as TableInfo[]);
  if (missing.length > 0) statements.push(addTablesStatement(publication, missing));
  return { exists: true, missing, statements };
}

function addTablesStatement(publication: string, tables: readonly TableName[]): string {
  return `ALTER PUBLICATION ${pg.escapeIdentifier(publication)} ADD TABLE ${tables.map(qualifiedName).join(', ')}`;
}

/** `manage_publication: true`: creates the publication, or adds what it lacks. */
export async function ensurePublication(
  client: pg.Client,
  publication: string,
  gap: PublicationGap,
  logger: Logger,
): Promise<void> {
  for (const statement of gap.statements) await client.query(statement);
  const tables = gap.missing.map(qualifiedName);
  if (!gap.exists) logger.info({ publication, tables }, 'publication created');
  else if (tables.length > 0) logger.info({ publication, tables }, 'tables added to publication');
  else if (gap.statements.length > 0) {
    logger.info({ publication }, 'publication now publishes partitions through their root');
  }
}

/** What the publication lacks, in a few words; null when nothing. */
export function gapSummary(publication: string, gap: PublicationGap): string | null {
  if (gap.statements.length === 0) return null;
  if (!gap.exists) return `publication ${publication} does not exist`;
  if (gap.missing.length > 0) {
    return `publication ${publication} lacks ${gap.missing.map(qualifiedName).join(', ')}`;
  }
  return `publication ${publication} does not publish partitions through their root`;
}

/**
 * `manage_publication: false`: an owner made the publication and walhook may not change it, so a gap
 * is reported with the statements to run and walhook does not start.
 */
export function requireComplete(publication: string, gap: PublicationGap): void {
  const summary = gapSummary(publication, gap);
  if (!summary) return;
  throw new WalhookError(
    'WALHOOK_ERR_PUBLICATION',
    `${summary} (source.manage_publication: false); as an owner of the tables run: ${gap.statements.join('; ')}`,
  );
}

/** Which of `tables` the publication does not publish (by name: a re-created table has a new OID). */
async function unpublished(
  client: Pick<pg.Client, 'query'>,
  publication: string,
  tables: readonly TableName[],
): Promise<TableName[]> {
  const result = await client.query<{ schemaname: string; tablename: string }>(
    `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1
     UNION SELECT n.nspname, c.relname FROM pg_publication p
       JOIN pg_publication_rel r ON r.prpubid = p.oid JOIN pg_class c ON c.oid = r.prrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.pubname = $1`,
    [publication],
  );
  // Joined with a dot, "a"."b.c" and "a.b"."c" would read the same.
  const have = new Set(result.rows.map((r) => JSON.stringify([r.schemaname, r.tablename])));
  return tables.filter((t) => !have.has(JSON.stringify([t.schema, t.name])));
}

/**
 * Dropping a table removes it from every publication, and a re-created table is not in it, so its
 * changes silently stop. Every `everyMs` this reports such tables at error level, naming the triggers
 * that get nothing now and what to do, and, when walhook manages the publication, adds them back where
 * they exist again; changes made in between were not captured. `triggers` names the trigger of each of
 * `tables` (same order).
 */
export function watchPublication(
  query: (sql: string, params?: unknown[]) => Promise<{ rows: unknown[] }>,
  options: {
    publication: string;
    manage: boolean;
    tables: readonly TableName[];
    triggers: readonly string[];
    everyMs: number;
  },
  logger: Logger,
  onResult: (unpublishedCount: number) => void,
): () => void {
  const { publication, manage } = options;
  const client = { query } as unknown as Pick<pg.Client, 'query'>;
  const watched = byTable(options.tables, options.triggers);
  const check = async () => {
    const missing = await unpublished(
      client,
      publication,
      watched.map((w) => w.table),
    );
    onResult(missing.length);
    for (const table of missing) {
      const name = qualifiedName(table);
      const triggers = watched.find((w) => w.table === table)?.triggers ?? [];
      const statement = addTablesStatement(publication, [table]);
      const exists = (await query('SELECT 1 WHERE to_regclass($1) IS NOT NULL', [name])).rows.length > 0;
      const s = triggers.length > 1 ? 's' : '';
      const of = `table ${name} of trigger${s} ${triggers.join(', ')}`;
      let message: string;
      if (!exists) {
        const readd = manage
          ? `walhook adds it back to publication ${publication}`
          : 'its owner runs the statement';
        message = `${of} no longer exists (dropped or renamed), so the trigger${s} get${s ? '' : 's'} no changes: re-create the table (${readd}), or remove the trigger${s} from the config and restart walhook`;
      } else if (manage) {
        message = `${of} left publication ${publication} (re-created or removed): its changes are not streamed; adding it back`;
      } else {
        message = `${of} left publication ${publication} (re-created or removed): its changes are not streamed until an owner of the table runs the statement`;
      }
      logger.error(
        {
          code: 'WALHOOK_ERR_TABLE_UNPUBLISHED',
          table: name,
          triggers,
          publication,
          ...(manage ? {} : { statement }),
        },
        message,
      );
      if (!manage || !exists) continue;
      await query(statement);
      logger.warn(
        { table: name, publication },
        'table added back to the publication; changes before this were not captured',
      );
    }
  };
  const timer = setInterval(() => {
    check().catch((err: unknown) => logger.warn({ err }, 'publication check failed'));
  }, options.everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Each table once (two triggers may share one), with the triggers on it. */
function byTable(
  tables: readonly TableName[],
  triggers: readonly string[],
): { table: TableName; triggers: string[] }[] {
  const found = new Map<string, { table: TableName; triggers: string[] }>();
  for (const [i, table] of tables.entries()) {
    const key = JSON.stringify([table.schema, table.name]);
    const entry = found.get(key) ?? { table, triggers: [] };
    found.set(key, entry);
    const trigger = triggers[i];
    if (trigger !== undefined) entry.triggers.push(trigger);
  }
  return [...found.values()];
}
