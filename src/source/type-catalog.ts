import type { ColumnTypes } from './transaction-reader.js';
import { buildRenderer, builtinType, dependencies, type TypeInfo, type ValueRenderer } from './values.js';

/** Runs one catalog query; a pg Client's or Pool's `query` fits, with or without type parsing. */
export type CatalogQuery = (sql: string, params?: unknown[]) => Promise<{ rows: unknown[] }>;

/**
 * Column types as json.c sees them. Built-in types are known without a query; user types (domains,
 * composites, enums, ranges, extension types and arrays of any of them) are read from the catalog
 * with `load`, which the source must call for what `missing` reports before it decodes a relation.
 *
 * A type with a cast to json renders as that cast would only for hstore; json.c would call any other
 * cast function (PostGIS's geometry to GeoJSON, say), which walhook cannot, so such a value is sent
 * as a JSON string of its text. `where` compares an enum by its label's code points, where Postgres
 * orders enums by their declaration (enumsortorder): only `_eq`, `_neq`, `_in` and `_nin` on an enum
 * agree with SQL.
 */
export class TypeCatalog implements ColumnTypes {
  private readonly loaded = new Map<number, TypeInfo>();
  private readonly renderers = new Map<number, ValueRenderer>();
  private readonly lookup = (oid: number): TypeInfo | undefined => builtinType(oid) ?? this.loaded.get(oid);

  /**
   * Reads the types `oids` need that are not known yet, with the element, base and field types they
   * depend on, in one query; without `oids`, every type created after initdb and what it depends on.
   */
  async load(query: CatalogQuery, oids?: readonly number[]): Promise<void> {
    const wanted = oids ? this.missing(oids) : null;
    if (wanted?.length === 0) return;
    const { rows } = await query(TYPES_SQL, [wanted]);
    for (const row of rows as TypeRow[]) {
      const oid = Number(row.oid);
      if (!builtinType(oid)) this.loaded.set(oid, typeInfo(row));
    }
    // A type dropped since the relation named it is no longer in pg_type: text is all that is left.
    if (wanted) for (const oid of this.missing(wanted)) this.loaded.set(oid, { kind: 'text' });
    // Renderers built while a type was unknown rendered it as text; they are built again on demand.
    this.renderers.clear();
  }

  /** The OIDs among `oids`, and among the types they depend on, that `load` has yet to read. */
  missing(oids: readonly number[]): number[] {
    const unknown: number[] = [];
    const seen = new Set<number>();
    const visit = (oid: number): void => {
      if (seen.has(oid)) return;
      seen.add(oid);
      const info = this.lookup(oid);
      if (info === undefined) unknown.push(oid);
      else for (const dependency of dependencies(info)) visit(dependency);
    };
    for (const oid of oids) visit(oid);
    return unknown;
  }

  /** The renderer for a type, built once; an unknown type renders as a JSON string of its text. */
  renderer(typeOid: number): ValueRenderer {
    return buildRenderer(typeOid, this.lookup, this.renderers);
  }

  /** The type a `where` comparison reads a value as: a domain's base type, through any domain chain. */
  comparable(typeOid: number): number {
    let oid = typeOid;
    for (let info = this.lookup(oid); info?.kind === 'domain'; info = this.lookup(oid)) oid = info.base;
    return oid;
  }
}

/** A row of TYPES_SQL, every column text so that any client's type parsers leave it alone. */
interface TypeRow {
  oid: string;
  kind: 'domain' | 'array' | 'composite' | 'hstore' | 'cast' | 'text';
  base: string;
  element: string;
  delimiter: string | null;
  /** JSON: [[attname, atttypid], ...] in attnum order. */
  fields: string | null;
}

function typeInfo(row: TypeRow): TypeInfo {
  switch (row.kind) {
    case 'domain':
      return { kind: 'domain', base: Number(row.base) };
    case 'array':
      return { kind: 'array', element: Number(row.element), delimiter: row.delimiter ?? ',' };
    case 'composite': {
      const fields = JSON.parse(row.fields ?? '[]') as [string, string][];
      return { kind: 'composite', fields: fields.map(([name, type]) => ({ name, type: Number(type) })) };
    }
    default:
      return { kind: row.kind };
  }
}

/**
 * The wanted types and, recursively, their element, base and attribute types, each categorized in
 * json_categorize_type's order: a domain by its base; a true array (Postgres 14's typsubscript); a
 * composite; a type created after initdb (OID 16384 and up) with a cast to json through a function;
 * anything else, text.
 */
const TYPES_SQL = `
WITH RECURSIVE wanted(oid) AS (
    SELECT oid FROM pg_catalog.pg_type
    WHERE CASE WHEN $1::oid[] IS NULL THEN oid >= 16384 ELSE oid = ANY ($1::oid[]) END
  UNION
    SELECT dependency.oid
    FROM wanted JOIN pg_catalog.pg_type t ON t.oid = wanted.oid
    CROSS JOIN LATERAL (
        SELECT t.typelem WHERE t.typelem <> 0
      UNION ALL
        SELECT t.typbasetype WHERE t.typbasetype <> 0
      UNION ALL
        SELECT a.atttypid FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
    ) AS dependency(oid)
)
SELECT
  t.oid::text AS oid,
  CASE
    WHEN t.typtype = 'd' THEN 'domain'
    WHEN t.typsubscript = 'pg_catalog.array_subscript_handler'::regproc THEN 'array'
    WHEN t.typtype = 'c' THEN 'composite'
    WHEN cast_function.prosrc = 'hstore_to_json' AND cast_function.lanname = 'c' THEN 'hstore'
    WHEN cast_function.prosrc IS NOT NULL THEN 'cast'
    ELSE 'text'
  END AS kind,
  t.typbasetype::text AS base,
  t.typelem::text AS element,
  element.typdelim::text AS delimiter,
  (SELECT json_agg(json_build_array(a.attname, a.atttypid::text) ORDER BY a.attnum)::text
   FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS fields
FROM wanted
JOIN pg_catalog.pg_type t ON t.oid = wanted.oid
LEFT JOIN pg_catalog.pg_type element ON element.oid = t.typelem
LEFT JOIN LATERAL (
  SELECT p.prosrc, l.lanname
  FROM pg_catalog.pg_cast c
  JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc
  JOIN pg_catalog.pg_language l ON l.oid = p.prolang
  WHERE t.oid >= 16384 AND c.castsource = t.oid AND c.casttarget = 'pg_catalog.json'::regtype
    AND c.castmethod = 'f'
) AS cast_function ON true`;
