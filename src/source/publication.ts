import pg from 'pg';
import type { Logger } from 'pino';
import { qualifiedName, type TableInfo, type TableRef } from './tables.js';

/**
 * The publication the slot decodes: created for the triggers' tables, or extended with the ones it
 * lacks. Partitioned tables publish through their root, so a trigger on the parent sees every
 * partition's changes under the parent's name; on Postgres 18 stored generated columns are published
 * too, so rows match row_to_json.
 */
export async function ensurePublication(
  client: pg.Client,
  publication: string,
  tables: readonly TableInfo[],
  logger: Logger,
): Promise<void> {
  const name = pg.escapeIdentifier(publication);
  const unique = [...new Map(tables.map((t) => [t.oid, t])).values()];
  const existing = await client.query<{ all: boolean; viaroot: boolean }>(
    'SELECT puballtables AS all, pubviaroot AS viaroot FROM pg_publication WHERE pubname = $1',
    [publication],
  );
  const shown = await client.query<{ server_version_num: string }>('SHOW server_version_num');
  const version = Number(shown.rows[0]?.server_version_num);
  const row = existing.rows[0];
  if (!row) {
    const options = ['publish_via_partition_root = true'];
    if (version >= 180_000) options.push("publish_generated_columns = 'stored'");
    await client.query(
      `CREATE PUBLICATION ${name} FOR TABLE ${unique.map(qualifiedName).join(', ')} WITH (${options.join(', ')})`,
    );
    logger.info({ publication, tables: unique.map(qualifiedName) }, 'publication created');
    return;
  }
  if (!row.viaroot && unique.some((t) => t.partitioned)) {
    await client.query(`ALTER PUBLICATION ${name} SET (publish_via_partition_root = true)`);
    logger.info({ publication }, 'publication now publishes partitions through their root');
  }
  if (row.all) return;
  const missing = await unpublished(client, publication, unique);
  if (missing.length > 0) {
    await client.query(`ALTER PUBLICATION ${name} ADD TABLE ${missing.map(qualifiedName).join(', ')}`);
    logger.info({ publication, tables: missing.map(qualifiedName) }, 'tables added to publication');
  }
}

/** Which of `tables` the publication does not publish (by name: a re-created table has a new OID). */
export async function unpublished(
  client: Pick<pg.Client, 'query'>,
  publication: string,
  tables: readonly TableRef[],
): Promise<TableRef[]> {
  const result = await client.query<{ schemaname: string; tablename: string }>(
    `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1
     UNION SELECT n.nspname, c.relname FROM pg_publication p
       JOIN pg_publication_rel r ON r.prpubid = p.oid JOIN pg_class c ON c.oid = r.prrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.pubname = $1`,
    [publication],
  );
  const have = new Set(result.rows.map((r) => `${r.schemaname}.${r.tablename}`));
  return tables.filter((t) => !have.has(`${t.schema}.${t.name}`));
}

/**
 * Dropping a table removes it from every publication, and a re-created table is not in it, so its
 * changes silently stop. Every `everyMs` this reports such tables at error level and adds them back
 * where they exist again; changes made in between were not captured.
 */
export function watchPublication(
  query: (sql: string, params?: unknown[]) => Promise<{ rows: unknown[] }>,
  publication: string,
  tables: readonly TableRef[],
  everyMs: number,
  logger: Logger,
  onResult: (unpublishedCount: number) => void,
): () => void {
  const client = { query } as unknown as Pick<pg.Client, 'query'>;
  const check = async () => {
    const missing = await unpublished(client, publication, tables);
    onResult(missing.length);
    for (const table of missing) {
      const name = qualifiedName(table);
      logger.error(
        { code: 'WALHOOK_ERR_TABLE_UNPUBLISHED', table: name, publication },
        'table left the publication (dropped, re-created or removed); its changes are not streamed',
      );
      const exists = await query('SELECT 1 WHERE to_regclass($1) IS NOT NULL', [name]);
      if (exists.rows.length === 0) continue;
      await query(`ALTER PUBLICATION ${pg.escapeIdentifier(publication)} ADD TABLE ${name}`);
      logger.warn(
        { table: name, publication },
        'table added back to the publication; changes before this were not captured',
      );
    }
  };
  const timer = setInterval(() => {
    check().catch((err: unknown) => logger.warn({ err }, 'publication check failed'));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
