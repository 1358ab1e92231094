import pg from 'pg';
import type { Change } from './transaction-reader.js';

type Query = (sql: string, params?: unknown[]) => Promise<{ rows: Record<string, string | null>[] }>;

/**
 * Reads the values an update left unchanged in TOAST (pgoutput omits them) by the row's key, into
 * `change.newTuple`, and lists them in `change.toastFetched`: they are the row's current values, which
 * can be newer than the change. A row deleted since keeps them left out.
 */
export async function fetchUnchangedToast(query: Query, change: Change): Promise<void> {
  const { relation } = change;
  const tuple = change.newTuple;
  if (!tuple) return;
  const columns = relation.relation.columns;
  const wanted = tuple.flatMap((value, i) => (value === undefined ? [i] : []));
  const keys = relation.keyIndexes;
  const sql =
    `SELECT ${wanted.map((i, n) => `${pg.escapeIdentifier(columns[i]?.name ?? '')} AS c${n}`).join(', ')} ` +
    `FROM ${pg.escapeIdentifier(relation.schema)}.${pg.escapeIdentifier(relation.name)} ` +
    `WHERE ${keys.map((i, n) => `${pg.escapeIdentifier(columns[i]?.name ?? '')} = $${n + 1}`).join(' AND ')}`;
  const result = await query(
    sql,
    keys.map((i) => tuple[i]),
  );
  const row = result.rows[0];
  if (!row) return;
  change.toastFetched = wanted.map((i, n) => {
    tuple[i] = row[`c${n}`] ?? null;
    return columns[i]?.name ?? String(i);
  });
}
