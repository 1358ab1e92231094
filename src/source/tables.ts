import pg from 'pg';
import { type TableName, tableLine } from '../core/table-name.js';

export type { TableName } from '../core/table-name.js';

export interface TableInfo extends TableName {
  oid: number;
  /** pg_class.relreplident: d default, n nothing, f full, i index. */
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  hasPrimaryKey: boolean;
  /** Primary key columns in key order (empty without one). */
  primaryKey: string[];
  partitioned: boolean;
}

export function qualifiedName(table: TableName): string {
  return `${pg.escapeIdentifier(table.schema)}.${pg.escapeIdentifier(table.name)}`;
}

export async function describeTables(
  client: pg.Client,
  tables: readonly TableName[],
): Promise<(TableInfo | null)[]> {
  const result = await client.query<{
    i: number;
    oid: number;
    relreplident: TableInfo['replicaIdentity'];
    pk: string[];
    partitioned: boolean;
  }>(
    `SELECT t.i, c.oid::int AS oid, c.relreplident, c.relkind = 'p' AS partitioned,
            ARRAY(SELECT a.attname::text FROM pg_index x
                    CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
                    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                   WHERE x.indrelid = c.oid AND x.indisprimary ORDER BY k.n) AS pk
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema, name, i)
       JOIN pg_namespace n ON n.nspname = t.schema
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name AND c.relkind IN ('r', 'p')`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  const found = new Map(result.rows.map((row) => [Number(row.i) - 1, row]));
  return tables.map((table, i) => {
    const row = found.get(i);
    return row
      ? {
          ...table,
          oid: row.oid,
          replicaIdentity: row.relreplident,
          hasPrimaryKey: row.pk.length > 0,
          primaryKey: row.pk,
          partitioned: row.partitioned,
        }
      : null;
  });
}

/**
 * What follows "table X does not exist" in the error of the triggers naming it: the tables whose names
 * differ only in case, since an unquoted name folds to lower case (a table created as "Orders" is not
 * `orders`) and a quoted one keeps its case, with the line to write for each; else what to do.
 */
export async function missingTableHint(client: Pick<pg.Client, 'query'>, table: TableName): Promise<string> {
  const result = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE lower(n.nspname) = lower($1) AND lower(c.relname) = lower($2) AND c.relkind IN ('r', 'p')
      ORDER BY 1, 2`,
    [table.schema, table.name],
  );
  if (result.rows.length === 0) return "; create it, or set the trigger's table: to an existing table";
  const found = result.rows.map(qualifiedName).join(', ');
  const lines = result.rows.map(tableLine).join(' or ');
  return `, but ${found} does (unquoted names fold to lower case, double-quoted ones keep their case); write ${lines}`;
}

/**
 * Postgres refuses UPDATE and DELETE on a published table without a replica identity, so walhook
 * must not add one to its publication and break the application's writes.
 */
export function replicaIdentityProblem(table: TableInfo): string | null {
  const name = qualifiedName(table);
  if (table.replicaIdentity === 'n') {
    return `table ${name} has REPLICA IDENTITY NOTHING: once published, UPDATE and DELETE on it fail; run ALTER TABLE ${name} REPLICA IDENTITY FULL (or DEFAULT with a primary key)`;
  }
  if (table.replicaIdentity === 'd' && !table.hasPrimaryKey) {
    return `table ${name} has no primary key: once published, UPDATE and DELETE on it fail; add a primary key or run ALTER TABLE ${name} REPLICA IDENTITY FULL`;
  }
  return null;
}
