import pg from 'pg';
import { WalhookError } from '../core/errors.js';
import type { Relation, RelationColumn, TupleData } from './change.js';
import { OUTPUT_SETTINGS } from './replication-stream.js';
import { qualifiedName, type TableName } from './tables.js';
import { type ColumnTypes, describeRelation, type RelationInfo } from './transaction-reader.js';
import type { TypeCatalog } from './type-catalog.js';

/** A table described for reading: the relation as the stream would describe it, and its paging key. */
export interface ReadableTable {
  info: RelationInfo;
  /** The key's columns with their SQL types, in key order: rows are read in this order. */
  key: { name: string; index: number; type: string }[];
  /** `SELECT` list and `FROM`, quoted once. */
  select: string;
}

interface ColumnRow {
  name: string;
  type_oid: string;
  type_modifier: string;
  type_name: string;
  is_key: boolean;
  /** 1-based position in the primary key, null outside it. */
  pk_position: number | null;
}

/**
 * Reads rows of a published table in the same text form pgoutput sends (same output functions, same
 * DateStyle/IntervalStyle/extra_float_digits), so a row read here renders exactly as a streamed one.
 * Rows are read by keyset pagination on the primary key (or replica identity index): each page is its
 * own short statement, with no OFFSET, no long transaction and no table lock.
 */
export class TableReader {
  readonly #pool: pg.Pool;

  constructor(
    connection: string,
    private readonly types: TypeCatalog & ColumnTypes,
    private readonly publication: string,
  ) {
    this.#pool = new pg.Pool({
      connectionString: connection,
      application_name: 'walhook-reads',
      max: 2,
      options: OUTPUT_SETTINGS,
      types: { getTypeParser: () => (value: string) => value },
    });
    this.#pool.on('error', () => {});
  }

  /** Runs a statement on the reading pool (watermark messages go through it too). */
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult> {
    return this.#pool.query(sql, params);
  }

  async describe(table: TableName): Promise<ReadableTable> {
    const name = qualifiedName(table);
    const found = await this.query(
      `SELECT c.oid, c.relreplident,
              coalesce((SELECT to_jsonb(p) ->> 'pubgencols' FROM pg_publication p WHERE p.pubname = $2), 'n') AS gencols
         FROM pg_class c WHERE c.oid = to_regclass($1)`,
      [name, this.publication],
    );
    const row = found.rows[0] as { oid: string; relreplident: string; gencols: string } | undefined;
    if (row === undefined) {
      throw new WalhookError('WALHOOK_ERR_TABLE_NOT_FOUND', `table ${name} does not exist`);
    }
    // The columns pgoutput publishes: generated ones only where the publication asks for them (PG 18).
    const { rows } = await this.query(
      `SELECT a.attname AS name, a.atttypid AS type_oid, a.atttypmod AS type_modifier,
              format_type(a.atttypid, a.atttypmod) AS type_name,
              coalesce(a.attnum = ANY (ri.indkey), false) AS is_key,
              array_position(pk.indkey::int2[], a.attnum) AS pk_position
         FROM pg_attribute a
         LEFT JOIN pg_index ri ON ri.indrelid = a.attrelid AND ri.indisreplident
         LEFT JOIN pg_index pk ON pk.indrelid = a.attrelid AND pk.indisprimary
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
          AND (a.attgenerated = '' OR (a.attgenerated = 's' AND $2 = 's'))
        ORDER BY a.attnum`,
      [row.oid, row.gencols],
    );
    const columns = rows as unknown as ColumnRow[];
    await this.types.load(
      (sql, params) => this.query(sql, params),
      columns.map((c) => Number(c.type_oid)),
    );
    const identity = row.relreplident;
    const isKey = (c: ColumnRow) =>
      identity === 'f' || (identity === 'i' ? c.is_key : c.pk_position !== null);
    const relation: Relation = {
      id: Number(row.oid),
      schema: table.schema,
      name: table.name,
      replicaIdentity: identity === 'f' ? 'full' : identity === 'i' ? 'index' : 'default',
      columns: columns.map(
        (c): RelationColumn => ({
          name: c.name,
          typeOid: Number(c.type_oid),
          typeModifier: Number(c.type_modifier),
          isKey: isKey(c),
        }),
      ),
    };
    // In key order, as the stream's lookup gives it (source/tables.ts).
    const primaryKey = columns
      .filter((c) => c.pk_position !== null)
      .sort((a, b) => Number(a.pk_position) - Number(b.pk_position))
      .map((c) => c.name);
    const info = describeRelation(relation, this.types, () => primaryKey);
    if (info.keyIndexes.length === 0 || (identity === 'f' && primaryKey.length === 0)) {
      throw new WalhookError(
        'WALHOOK_ERR_NO_KEY',
        `table ${name} has no primary key: rows can only be read by key; add a primary key`,
      );
    }
    const key = info.keyIndexes.map((index) => {
      const column = columns[index] as ColumnRow;
      return { name: column.name, index, type: column.type_name };
    });
    const list = columns.map((c) => pg.escapeIdentifier(c.name)).join(', ');
    return { info, key, select: `SELECT ${list} FROM ${name}` };
  }

  /** Up to `limit` rows with a key after `after` (the key's text values), in key order. */
  async page(table: ReadableTable, after: readonly string[] | null, limit: number): Promise<TupleData[]> {
    const columns = table.key.map((k) => pg.escapeIdentifier(k.name)).join(', ');
    const params: unknown[] = [];
    let where = '';
    if (after !== null) {
      const values = table.key.map((k, i) => {
        params.push(after[i]);
        return `$${params.length}::${k.type}`;
      });
      where = ` WHERE (${columns}) > (${values.join(', ')})`;
    }
    params.push(limit);
    const result = await this.#pool.query({
      text: `${table.select}${where} ORDER BY ${columns} LIMIT $${params.length}`,
      values: params,
      rowMode: 'array',
    });
    return result.rows as TupleData[];
  }

  /** The row with this key (text values in key order), or null. */
  async row(table: ReadableTable, key: readonly string[]): Promise<TupleData | null> {
    const conditions = table.key.map((k, i) => `${pg.escapeIdentifier(k.name)} = $${i + 1}::${k.type}`);
    const result = await this.#pool.query({
      text: `${table.select} WHERE ${conditions.join(' AND ')}`,
      values: [...key],
      rowMode: 'array',
    });
    return (result.rows[0] as TupleData | undefined) ?? null;
  }

  /**
   * Rows in the table (its partitions, for a partitioned one) as the planner estimates them
   * (pg_class.reltuples); null when never analysed.
   */
  async estimate(table: ReadableTable): Promise<number | null> {
    const { rows } = await this.query(
      `SELECT CASE WHEN bool_or(c.reltuples < 0) THEN NULL ELSE sum(c.reltuples)::bigint END AS n
         FROM pg_partition_tree($1::regclass) t JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf`,
      [table.info.relation.id],
    );
    const n = (rows[0] as { n: string | null } | undefined)?.n;
    return n == null ? null : Number(n);
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}
