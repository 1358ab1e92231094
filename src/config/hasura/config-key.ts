import { resolve } from 'node:path';
import { Document } from 'yaml';
import { type ErrorCode, isWalhookError } from '../../core/errors.js';
import { interpolateEnv, type KeyPath } from '../interpolate.js';
import { DEFAULT_HASURA_VERSION, hasuraVersion } from './event-trigger.js';
import { readHasuraMetadata } from './metadata-read.js';
import { type ImportedTrigger, importProject, type SourceImport } from './project.js';
import { STORE_DEFAULT_SOURCE, storeMetadata } from './trigger-store.js';

/** How the config loader reports a problem: its code, the key path in the config file, one line. */
export type Fail = (code: ErrorCode, path: KeyPath, problem: string) => Error;

/** Where each trigger taken from metadata sits in the expanded config, for messages about it. */
export type TriggerOrigins = (path: readonly PropertyKey[]) => string | null;

const ENTRY_KEYS = ['metadata', 'source', 'version'];

type Mapping = Record<string, unknown>;

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface Entry {
  metadata: string;
  source: string;
  version: string;
  path: KeyPath;
}

function entriesOf(value: unknown, path: KeyPath, fail: Fail): Entry[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((item, i) => {
    const at = Array.isArray(value) ? [...path, i] : path;
    if (!isMapping(item))
      throw fail('WALHOOK_ERR_CONFIG_INVALID', at, 'expected {metadata: PATH, source: NAME}');
    const unknown = Object.keys(item).find((key) => !ENTRY_KEYS.includes(key));
    if (unknown !== undefined) {
      throw fail(
        'WALHOOK_ERR_CONFIG_INVALID',
        [...at, unknown],
        `unknown key (expected one of ${ENTRY_KEYS.join(', ')})`,
      );
    }
    const { metadata, source = 'default', version = DEFAULT_HASURA_VERSION } = item;
    for (const [key, text] of Object.entries({ metadata, source, version })) {
      if (typeof text !== 'string' || text === '') {
        throw fail(
          'WALHOOK_ERR_CONFIG_INVALID',
          [...at, key],
          text === undefined ? 'required' : 'expected a string',
        );
      }
    }
    return {
      metadata: String(metadata),
      source: String(source),
      version: hasuraVersion(String(version)),
      path: at,
    };
  });
}

/** The one line for a trigger that cannot be mapped, naming the file, the trigger and the key. */
function unmapped(trigger: ImportedTrigger): string | null {
  if (trigger.problem === null) return null;
  return `${trigger.file}: event trigger ${trigger.name}: ${trigger.problem.key}: ${trigger.problem.why}`;
}

/** Triggers taken from metadata, where each came from, and the source's connection if asked for. */
interface Loaded {
  triggers: Mapping[];
  origins: string[];
  connection?: string | undefined;
  /** The config key they were loaded by, for messages about them. */
  at: KeyPath;
}

/**
 * One `hasura` entry's source: its triggers, and its connection when `withConnection`, `${VAR}`
 * references resolved like the config's own (a connection the file sets itself needs none of the
 * source's variables).
 */
function loadEntry(
  entry: Entry,
  withConnection: boolean,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  fail: Fail,
): Loaded {
  const at = [...entry.path, 'metadata'];
  let metadata: ReturnType<typeof readHasuraMetadata>;
  try {
    metadata = readHasuraMetadata(resolve(baseDir, entry.metadata));
  } catch (err) {
    if (isWalhookError(err)) throw fail(err.code, at, err.message);
    throw err;
  }
  const sources = importProject(metadata, entry.version);
  const source = sources.find((s) => s.name === entry.source);
  const sourcePath = [...entry.path, 'source'];
  if (source === undefined) {
    const names = sources.map((s) => s.name).join(', ') || 'none';
    throw fail(
      'WALHOOK_ERR_CONFIG_INVALID',
      sourcePath,
      `no source ${entry.source} in ${entry.metadata} (its sources: ${names})`,
    );
  }
  if (source.skipped !== null)
    throw fail('WALHOOK_ERR_CONFIG_INVALID', sourcePath, `source ${source.name}: ${source.skipped}`);
  if ('problem' in source.connection) {
    throw fail(
      'WALHOOK_ERR_CONFIG_INVALID',
      sourcePath,
      `source ${source.name}: ${source.connection.problem}`,
    );
  }
  return sourceTriggers(source, withConnection ? source.connection.connection : undefined, at, {
    baseDir,
    env,
    fail,
  });
}

/** A source's mapped triggers (and `connection`) as config values, `${VAR}` references resolved. */
function sourceTriggers(
  source: SourceImport,
  connection: string | undefined,
  at: KeyPath,
  { baseDir, env, fail }: { baseDir: string; env: NodeJS.ProcessEnv; fail: Fail },
): Loaded {
  const problem = source.triggers.map(unmapped).find((line) => line !== null);
  if (problem != null) throw fail('WALHOOK_ERR_CONFIG_INVALID', at, `${problem} (see walhook import-hasura)`);
  const doc = new Document({
    triggers: source.triggers.map((t) => t.trigger),
    ...(connection !== undefined && { connection }),
  });
  const envProblem = interpolateEnv(doc, env, baseDir);
  if (envProblem) {
    const [first, index, ...key] = envProblem.path;
    const trigger = first === 'triggers' && typeof index === 'number' ? source.triggers[index] : undefined;
    const where = trigger
      ? `${trigger.file}: event trigger ${trigger.name}: ${key.join('.')}`
      : `source ${source.name}`;
    throw fail(envProblem.code, at, `${where}: ${envProblem.problem}`);
  }
  const loaded = doc.toJS() as { connection?: string; triggers: Mapping[] };
  return { ...loaded, at, origins: source.triggers.map((t) => `event trigger ${t.name} of ${t.file}`) };
}

/**
 * Replaces a pipeline's `hasura` key by the triggers of that Hasura source, appended to its own, then
 * the triggers the metadata store keeps for it (`stored`), and gives `source.connection` the source's
 * connection when the file sets none. `pipeline` is the top-level mapping (single-pipeline form) or
 * one of `pipelines`, at `path`.
 */
function expandPipeline(
  pipeline: Mapping,
  path: KeyPath,
  stored: Loaded | null,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  fail: Fail,
) {
  const own = (pipeline.triggers ?? []) as unknown[];
  if (!Array.isArray(own)) {
    // Left for the schema to report (`triggers: expected a list`), which it would not with triggers added.
    delete pipeline.hasura;
    return () => null;
  }
  const names = new Map<string, string>();
  own.forEach((trigger, i) => {
    const name = isMapping(trigger) ? trigger.name : undefined;
    const at = path.length === 0 ? '' : `pipelines[${path[1]}].`;
    if (typeof name === 'string' && !names.has(name)) names.set(name, `${at}triggers[${i}]`);
  });
  const origins: string[] = [];
  const fileConnection = isMapping(pipeline.source) ? pipeline.source.connection : undefined;
  let connection: string | undefined;
  const add = (loaded: Loaded) => {
    loaded.triggers.forEach((trigger, i) => {
      const name = String(trigger.name);
      const first = names.get(name);
      if (first !== undefined) {
        const problem = `duplicate trigger name "${name}": ${first} and ${loaded.origins[i]}; rename one`;
        throw fail('WALHOOK_ERR_CONFIG_INVALID', loaded.at, problem);
      }
      names.set(name, loaded.origins[i] as string);
    });
    own.push(...loaded.triggers);
    origins.push(...loaded.origins);
    connection ??= loaded.connection;
  };
  const entries = 'hasura' in pipeline ? entriesOf(pipeline.hasura, [...path, 'hasura'], fail) : [];
  for (const entry of entries) {
    const withConnection = fileConnection === undefined && connection === undefined;
    add(loadEntry(entry, withConnection, baseDir, env, fail));
  }
  if (stored !== null) add(stored);
  const base = own.length - origins.length;
  delete pipeline.hasura;
  pipeline.triggers = own;
  if (pipeline.source === undefined) pipeline.source = {};
  if (isMapping(pipeline.source) && fileConnection === undefined && connection !== undefined) {
    pipeline.source.connection = connection;
  }
  return (index: number) => (index >= base ? (origins[index - base] ?? null) : null);
}

/** The metadata store's content, for the loader: its path as messages show it, its text (null: none). */
export interface StoreInput {
  readonly label: string;
  readonly text: string | null;
}

/** The store's triggers by source (pipeline) name, mapped like metadata's own. */
function storedSources(
  store: StoreInput,
  settings: { baseDir: string; env: NodeJS.ProcessEnv; fail: Fail },
): Map<string, Loaded> {
  const at = ['metadata_store'];
  if (store.text === null) return new Map();
  let metadata: ReturnType<typeof storeMetadata>;
  try {
    metadata = storeMetadata(store.text, store.label);
  } catch (err) {
    if (isWalhookError(err)) throw settings.fail(err.code, at, err.message);
    throw err;
  }
  const sources = importProject(metadata, DEFAULT_HASURA_VERSION);
  return new Map(sources.map((source) => [source.name, sourceTriggers(source, undefined, at, settings)]));
}

/**
 * Expands every `hasura` key of a config's data (after interpolation, before validation) and adds the
 * triggers of the metadata store to their pipelines (a source of the store is a pipeline: `default` in
 * the single-pipeline form). Returns where each loaded trigger came from, by its key path in the
 * expanded config.
 */
export function expandHasura(
  data: unknown,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  fail: Fail,
  store: StoreInput,
): TriggerOrigins {
  if (!isMapping(data)) return () => null;
  const stored = storedSources(store, { baseDir, env, fail });
  const found = new Map<string, (index: number) => string | null>();
  const expand = (pipeline: Mapping, path: KeyPath, name: string) => {
    const own = stored.get(name) ?? null;
    stored.delete(name);
    if ('hasura' in pipeline || own !== null) {
      found.set(path.join('.'), expandPipeline(pipeline, path, own, baseDir, env, fail));
    }
  };
  const names: string[] = [];
  if (Array.isArray(data.pipelines)) {
    data.pipelines.forEach((pipeline, i) => {
      if (!isMapping(pipeline)) return;
      const name = typeof pipeline.name === 'string' ? pipeline.name : '';
      names.push(name);
      expand(pipeline, ['pipelines', i], name);
    });
  } else {
    names.push(STORE_DEFAULT_SOURCE);
    expand(data, [], STORE_DEFAULT_SOURCE);
  }
  const [orphan] = stored.keys();
  if (orphan !== undefined) {
    throw fail(
      'WALHOOK_ERR_CONFIG_INVALID',
      ['metadata_store'],
      `${store.label}: source ${orphan} is no pipeline of this config (its pipelines: ${names.join(', ')}); rename the source in the file, or add the pipeline`,
    );
  }
  return (path) => {
    const at = path.indexOf('triggers');
    const index = path[at + 1];
    const origin = at >= 0 ? found.get(path.slice(0, at).join('.')) : undefined;
    return origin && typeof index === 'number' ? origin(index) : null;
  };
}
