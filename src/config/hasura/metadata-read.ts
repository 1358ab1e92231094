import { readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse, type ScalarTag } from 'yaml';
import { WalhookError } from '../../core/errors.js';

/** One table entry of a source: what Hasura keeps about it, and the file it was read from. */
export interface HasuraTableEntry {
  readonly value: Record<string, unknown>;
  readonly file: string;
}

/** A Hasura source (a database): its kind, its `configuration` as written, its tables. */
export interface HasuraSource {
  readonly name: string;
  readonly kind: string;
  readonly configuration: unknown;
  readonly tables: readonly HasuraTableEntry[];
}

export interface HasuraMetadata {
  /** Hasura's metadata format: 2 (tables of one database) or 3 (sources). */
  readonly version: number;
  readonly sources: readonly HasuraSource[];
}

/** The database of a version 2 project is the one Hasura itself was started with. */
const V2_CONNECTION = { database_url: { from_env: 'HASURA_GRAPHQL_DATABASE_URL' } };

/** Deeper than any metadata folder goes; past it an include cycle is the likelier cause. */
const MAX_INCLUDE_DEPTH = 16;

class Include {
  constructor(readonly path: string) {}
}

/**
 * `!include FILE` as a YAML tag. The Hasura CLI writes the same thing as a quoted string
 * (`tables: "!include default/tables/tables.yaml"`), which `includedPath` also accepts.
 */
const includeTag: ScalarTag = {
  tag: '!include',
  identify: (value) => value instanceof Include,
  resolve: (value) => new Include(value.trim()),
};

function includedPath(value: unknown): string | null {
  if (value instanceof Include) return value.path;
  const match = typeof value === 'string' ? /^!include\s+(.+)$/.exec(value.trim()) : null;
  return match?.[1] ?? null;
}

function fail(where: string, problem: string, cause?: unknown): WalhookError {
  return new WalhookError('WALHOOK_ERR_HASURA_METADATA', `${where}: ${problem}`, { cause });
}

function readText(file: string, label: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : `cannot read it (${code})`;
    throw fail(label, `${why} (is this a Hasura metadata folder or export?)`, err);
  }
}

/** The path as the user sees it: relative to the working folder when inside it. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

function readYaml(file: string): unknown {
  const label = shown(file);
  try {
    return parse(readText(file, label), {
      customTags: [includeTag],
      logLevel: 'silent',
      prettyErrors: false,
    });
  } catch (err) {
    if (err instanceof WalhookError) throw err;
    throw fail(label, `not valid YAML: ${(err as Error).message.split('\n', 1)[0]}`, err);
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Include);
}

/** `value`, or the content of the file it includes (relative to `from`), with the file it came from. */
function followInclude(value: unknown, from: string, depth: number): { value: unknown; file: string } {
  const path = includedPath(value);
  if (path === null) return { value, file: from };
  if (depth > MAX_INCLUDE_DEPTH)
    throw fail(shown(from), `!include nested more than ${MAX_INCLUDE_DEPTH} deep`);
  const file = resolve(dirname(from), path);
  return followInclude(readYaml(file), file, depth + 1);
}

/** A version 3 folder: `databases/databases.yaml`, the tables of each source through `!include`. */
function readFolder(folder: string): HasuraMetadata {
  const versionFile = join(folder, 'version.yaml');
  const versionDoc = readYaml(versionFile);
  const version = isMapping(versionDoc) ? versionDoc.version : undefined;
  if (version === 2)
    return fromTables(readYaml(join(folder, 'tables.yaml')), shown(join(folder, 'tables.yaml')));
  if (version !== 3) throw fail(shown(versionFile), 'version: expected 2 or 3');
  const databasesFile = join(folder, 'databases', 'databases.yaml');
  const databases = readYaml(databasesFile);
  if (!Array.isArray(databases)) throw fail(shown(databasesFile), 'expected a list of sources');
  const sources = databases.map((entry, i) => {
    const where = `${shown(databasesFile)}: [${i}]`;
    if (!isMapping(entry)) throw fail(where, 'expected a source mapping (name, kind, configuration, tables)');
    const list = followInclude(entry.tables ?? [], databasesFile, 0);
    if (!Array.isArray(list.value)) throw fail(shown(list.file), 'tables: expected a list of tables');
    const tables = list.value.map((item, j) => {
      const table = followInclude(item, list.file, 0);
      if (!isMapping(table.value)) throw fail(`${shown(table.file)}: [${j}]`, 'expected a table mapping');
      return { value: table.value, file: shown(table.file) };
    });
    return source(entry, where, tables);
  });
  return { version: 3, sources };
}

function source(entry: Record<string, unknown>, where: string, tables: HasuraTableEntry[]): HasuraSource {
  const { name, kind } = entry;
  if (typeof name !== 'string' || name === '') throw fail(where, 'name: expected the source name');
  return {
    name,
    kind: typeof kind === 'string' ? kind : 'postgres',
    configuration: entry.configuration,
    tables,
  };
}

function fromTables(tables: unknown, where: string): HasuraMetadata {
  if (!Array.isArray(tables)) throw fail(where, 'tables: expected a list of tables');
  const entries = tables.map((table, i) => {
    if (!isMapping(table)) throw fail(`${where}: tables[${i}]`, 'expected a table mapping');
    return { value: table, file: where };
  });
  const only = {
    name: 'default',
    kind: 'postgres',
    configuration: { connection_info: V2_CONNECTION },
    tables: entries,
  };
  return { version: 2, sources: [only] };
}

/**
 * A metadata JSON file: what `export_metadata` returns (`{resource_version, metadata}`) or its
 * `metadata` alone; version 3 (`sources`) or 2 (`tables` of the one database).
 */
function readJson(file: string): HasuraMetadata {
  const label = shown(file);
  return parseJsonMetadata(readText(file, label), label);
}

/** Metadata JSON text (as `readJson` reads it); `label` names it in every problem. */
export function parseJsonMetadata(text: string, label: string): HasuraMetadata {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw fail(label, `not valid JSON: ${(err as Error).message}`, err);
  }
  if (isMapping(data) && 'resource_version' in data && isMapping(data.metadata)) data = data.metadata;
  if (!isMapping(data)) throw fail(label, 'expected a metadata object with version and sources');
  if (data.version === 3) {
    if (!Array.isArray(data.sources)) throw fail(label, 'sources: expected a list');
    const sources = data.sources.map((entry, i) => {
      const where = `${label}: sources[${i}]`;
      if (!isMapping(entry)) throw fail(where, 'expected a source mapping');
      const list = entry.tables ?? [];
      if (!Array.isArray(list)) throw fail(where, 'tables: expected a list');
      const tables = list.map((table, j) => {
        if (!isMapping(table)) throw fail(`${where}.tables[${j}]`, 'expected a table mapping');
        return { value: table, file: label };
      });
      return source(entry, where, tables);
    });
    return { version: 3, sources };
  }
  if (data.version === 2 || data.version === 1) return fromTables(data.tables, label);
  throw fail(label, 'version: expected 2 or 3');
}

/**
 * Reads Hasura metadata: a folder as `hasura metadata export` writes it, or a JSON export. Only what
 * event triggers need is followed (sources, their tables); every problem is one coded line.
 */
export function readHasuraMetadata(path: string): HasuraMetadata {
  let folder: boolean;
  try {
    folder = statSync(path).isDirectory();
  } catch (err) {
    throw fail(
      shown(resolve(path)),
      'no such file or folder (expected a Hasura metadata folder or JSON export)',
      err,
    );
  }
  return folder ? readFolder(resolve(path)) : readJson(resolve(path));
}
