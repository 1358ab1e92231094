import { resolve } from 'node:path';
import { Document } from 'yaml';
import { type ErrorCode, isWalhookError } from '../../core/errors.js';
import { interpolateEnv, type KeyPath } from '../interpolate.js';
import { DEFAULT_HASURA_VERSION, hasuraVersion } from './event-trigger.js';
import { readHasuraMetadata } from './metadata-read.js';
import { type ImportedTrigger, importProject } from './project.js';

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

/**
 * A Hasura source's triggers, and its connection when `withConnection`, `${VAR}` references resolved
 * like the config's own (a connection the file sets itself needs none of the source's variables).
 */
function loadEntry(
  entry: Entry,
  withConnection: boolean,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  fail: Fail,
) {
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
  const problem = source.triggers.map(unmapped).find((line) => line !== null);
  if (problem != null) throw fail('WALHOOK_ERR_CONFIG_INVALID', at, `${problem} (see walhook import-hasura)`);
  const doc = new Document({
    triggers: source.triggers.map((t) => t.trigger),
    ...(withConnection && { connection: source.connection.connection }),
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
  return { ...loaded, origins: source.triggers.map((t) => `event trigger ${t.name} of ${t.file}`) };
}

/**
 * Replaces a pipeline's `hasura` key by the triggers of that Hasura source, appended to its own, and
 * gives `source.connection` the source's connection when the file sets none. `pipeline` is the
 * top-level mapping (single-pipeline form) or one of `pipelines`, at `path`.
 */
function expandPipeline(
  pipeline: Mapping,
  path: KeyPath,
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
  for (const entry of entriesOf(pipeline.hasura, [...path, 'hasura'], fail)) {
    const withConnection = fileConnection === undefined && connection === undefined;
    const loaded = loadEntry(entry, withConnection, baseDir, env, fail);
    loaded.triggers.forEach((trigger, i) => {
      const name = String(trigger.name);
      const first = names.get(name);
      if (first !== undefined) {
        const problem = `duplicate trigger name "${name}": ${first} and ${loaded.origins[i]}; rename one`;
        throw fail('WALHOOK_ERR_CONFIG_INVALID', [...entry.path, 'metadata'], problem);
      }
      names.set(name, loaded.origins[i] as string);
    });
    own.push(...loaded.triggers);
    origins.push(...loaded.origins);
    connection ??= loaded.connection;
  }
  const base = own.length - origins.length;
  delete pipeline.hasura;
  pipeline.triggers = own;
  if (pipeline.source === undefined) pipeline.source = {};
  if (isMapping(pipeline.source) && fileConnection === undefined) pipeline.source.connection = connection;
  return (index: number) => (index >= base ? (origins[index - base] ?? null) : null);
}

/**
 * Expands every `hasura` key of a config's data (after interpolation, before validation). Returns
 * where each loaded trigger came from, by its key path in the expanded config.
 */
export function expandHasura(
  data: unknown,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  fail: Fail,
): TriggerOrigins {
  if (!isMapping(data)) return () => null;
  const found = new Map<string, (index: number) => string | null>();
  if (Array.isArray(data.pipelines)) {
    data.pipelines.forEach((pipeline, i) => {
      if (isMapping(pipeline) && 'hasura' in pipeline) {
        found.set(`pipelines.${i}`, expandPipeline(pipeline, ['pipelines', i], baseDir, env, fail));
      }
    });
  } else if ('hasura' in data) {
    found.set('', expandPipeline(data, [], baseDir, env, fail));
  }
  return (path) => {
    const at = path.indexOf('triggers');
    const index = path[at + 1];
    const origin = at >= 0 ? found.get(path.slice(0, at).join('.')) : undefined;
    return origin && typeof index === 'number' ? origin(index) : null;
  };
}
