import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type ErrorCode, WalhookError } from '../core/errors.js';
import { expandHasura, type StoreInput } from './hasura/config-key.js';
import { DEFAULT_STORE_FILE, readStoreText } from './hasura/trigger-store.js';
import { interpolateEnv, type KeyPath } from './interpolate.js';
import { type Config, configSchema, PIPELINE_KEYS, pipelinesConfigSchema } from './schema.js';

/** The pipeline name of the single-pipeline form. */
export const DEFAULT_PIPELINE = 'default';

/**
 * Reads, interpolates and validates a config file; every failure is a one-line `WalhookError`.
 * One config per pipeline, in file order, each with the shared settings.
 */
export async function loadConfigs(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  /** The metadata store's text to use instead of the file's: a change checked before it is written. */
  storeText?: string,
): Promise<readonly Readonly<Config>[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = firstLine(err instanceof Error ? err.message : String(err));
    throw new WalhookError('WALHOOK_ERR_CONFIG_READ', `${path}: cannot read file: ${reason}`, { cause: err });
  }
  return parseConfigs(text, path, env, dirname(path), storeText);
}

/**
 * Validates config text. `fileLabel` starts every message; `baseDir` is where a relative
 * `${file:PATH}` starts (the config file's folder). Only the first problem is reported, in document
 * order, except that an unknown key goes first: a misspelt key usually also causes the "required" or
 * type problem zod lists before it, and naming the misspelling is the useful hint.
 */
export function parseConfigs(
  text: string,
  fileLabel: string,
  env: NodeJS.ProcessEnv = process.env,
  baseDir: string = process.cwd(),
  storeText?: string,
): readonly Readonly<Config>[] {
  const fail = (code: ErrorCode, path: readonly PropertyKey[], problem: string, cause?: unknown) => {
    const where = path.length > 0 ? `${formatKeyPath(path)}: ` : '';
    return new WalhookError(code, `${fileLabel}: ${where}${firstLine(problem)}`, { cause });
  };

  const lineCounter = new LineCounter();
  // Integers as bigints so a `where` literal keeps every digit; numbersOutsideWhere converts the rest.
  const doc = parseDocument(text, {
    intAsBigInt: true,
    prettyErrors: false,
    lineCounter,
    logLevel: 'silent',
  });
  // Warnings count as errors: an unresolved tag, for one, would otherwise silently become a string.
  const yamlError = doc.errors[0] ?? doc.warnings[0];
  if (yamlError) {
    const { line, col } = lineCounter.linePos(yamlError.pos[0]);
    const message = `${fileLabel}:${line}:${col}: invalid YAML: ${firstLine(yamlError.message)}`;
    throw new WalhookError('WALHOOK_ERR_CONFIG_YAML', message, { cause: yamlError });
  }
  if (doc.contents === null) {
    throw fail(
      'WALHOOK_ERR_CONFIG_INVALID',
      [],
      'the file is empty (expected a mapping with source and triggers)',
    );
  }
  if (!isMap(doc.contents)) {
    const got = isSeq(doc.contents) ? 'a list' : 'a single value';
    throw fail('WALHOOK_ERR_CONFIG_INVALID', [], `expected a mapping at the top level, got ${got}`);
  }

  const envProblem = interpolateEnv(doc, env, baseDir);
  if (envProblem) throw fail(envProblem.code, envProblem.path, envProblem.problem);

  let data: unknown;
  try {
    data = doc.toJS();
  } catch (err) {
    // Only alias abuse (a billion-laughs file) gets here; the parser reported everything else.
    throw fail(
      'WALHOOK_ERR_CONFIG_YAML',
      [],
      `invalid YAML: ${err instanceof Error ? err.message : err}`,
      err,
    );
  }
  const nesting = nestingProblem(data);
  if (nesting) throw fail('WALHOOK_ERR_CONFIG_INVALID', nesting.path, nesting.problem);
  data = numbersOutsideWhere(data, [], (path) => {
    throw fail(
      'WALHOOK_ERR_CONFIG_INVALID',
      path,
      `integer beyond ±${Number.MAX_SAFE_INTEGER} (only a trigger's where keeps such integers exact)`,
    );
  });

  const multi = typeof data === 'object' && data !== null && 'pipelines' in data;
  if (multi) {
    const misplaced = PIPELINE_KEYS.find((key) => key in (data as object));
    if (misplaced !== undefined) {
      throw fail(
        'WALHOOK_ERR_CONFIG_INVALID',
        [misplaced],
        'not allowed at the top level with pipelines: set it in each pipeline',
      );
    }
  }
  // Triggers from Hasura metadata and the metadata store join the file's own before validation, so
  // they are checked alike.
  const store = storeInput(data, baseDir, storeText);
  const origins = expandHasura(data, baseDir, env, fail, store);
  const result = multi
    ? pipelinesConfigSchema.safeParse(data, { error: issueProblem })
    : configSchema.safeParse(data, { error: issueProblem });
  if (!result.success) {
    const { issues } = result.error;
    const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
    const path =
      issue?.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : issue?.path;
    const origin = origins(path ?? []);
    const trigger =
      issue?.code === 'custom' && issue.params?.nameTrigger ? triggerNamed(data, path ?? []) : '';
    const problem = `${origin ? `${origin}: ` : ''}${trigger}${issue?.message ?? 'invalid'}`;
    throw fail('WALHOOK_ERR_CONFIG_INVALID', path ?? [], problem, result.error);
  }
  if (!('pipelines' in result.data)) {
    return deepFreeze([{ ...result.data, pipeline: DEFAULT_PIPELINE }]);
  }
  const { pipelines, ...shared } = result.data;
  return deepFreeze(pipelines.map(({ name, ...pipeline }) => ({ ...pipeline, ...shared, pipeline: name })));
}

/**
 * Where the metadata store is (`metadata_store`, relative to the config's folder; by default
 * DEFAULT_STORE_FILE there), written back into `data` as an absolute path, and its text.
 */
function storeInput(data: unknown, baseDir: string, storeText: string | undefined): StoreInput {
  const settings = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  const { metadata_store: set = DEFAULT_STORE_FILE } = settings;
  // Anything but a path is the schema's to report; there is no store to read then.
  if (typeof set !== 'string' || set === '') return { label: 'metadata_store', text: null };
  const path = resolve(baseDir, set);
  settings.metadata_store = path;
  return { label: set, text: storeText ?? readStoreText(path) };
}

/**
 * `trigger NAME: ` for an issue under a trigger, for the problems (a template's) whose key path alone
 * (`triggers[3]…`) would leave the reader counting triggers.
 */
function triggerNamed(data: unknown, path: readonly PropertyKey[]): string {
  const at = path.indexOf('triggers');
  if (at === -1) return '';
  let value = data;
  for (const key of path.slice(0, at + 2)) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  const name = (value as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? `trigger ${name}: ` : '';
}

/** Deeper than any config needs, and far below the depth at which the recursive steps after it fail. */
const MAX_NESTING = 64;

interface Visit {
  value: unknown;
  path: KeyPath;
  parent: Visit | null;
}

/**
 * The first value nested deeper than MAX_NESTING or holding itself (an alias inside its own anchor:
 * `&a [*a]`), found without recursion, since the steps after this one (numbers, zod, freezing)
 * recurse and would overflow the stack or never end.
 */
function nestingProblem(data: unknown): { path: KeyPath; problem: string } | null {
  const pending: Visit[] = [{ value: data, path: [], parent: null }];
  for (let visit = pending.pop(); visit !== undefined; visit = pending.pop()) {
    const { value, path } = visit;
    if (typeof value !== 'object' || value === null) continue;
    for (let ancestor = visit.parent; ancestor !== null; ancestor = ancestor.parent) {
      if (ancestor.value === value) return { path, problem: 'an alias refers to a value that contains it' };
    }
    if (path.length >= MAX_NESTING) return { path, problem: `nested more than ${MAX_NESTING} levels deep` };
    // Only what numbersOutsideWhere descends into; a `!!binary` value's bytes are no nesting.
    const entries = Array.isArray(value) ? [...value.entries()] : isPlain(value) ? Object.entries(value) : [];
    // Reversed onto the stack, so the first problem in document order is the one found.
    for (const [key, child] of entries.reverse()) {
      pending.push({ value: child, path: [...path, key], parent: visit });
    }
  }
  return null;
}

function isPlain(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function isWhere(path: KeyPath): boolean {
  if (path[0] === 'pipelines') return path.length === 5 && path[2] === 'triggers' && path[4] === 'where';
  return path.length === 3 && path[0] === 'triggers' && path[2] === 'where';
}

function numbersOutsideWhere(value: unknown, path: KeyPath, unsafe: (path: KeyPath) => never): unknown {
  if (isWhere(path)) return value;
  if (typeof value === 'bigint') {
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    return value > max || value < -max ? unsafe(path) : Number(value);
  }
  if (Array.isArray(value))
    return value.map((item, index) => numbersOutsideWhere(item, [...path, index], unsafe));
  if (typeof value === 'object' && value !== null) {
    // fromEntries, not assignment, so a `__proto__` key stays an ordinary (and rejected) key.
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, numbersOutsideWhere(item, [...path, key], unsafe)]),
    );
  }
  return value;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  bigint: 'an integer',
  boolean: 'a boolean',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  return EXPECTED[typeof value] ?? typeof value;
}

/**
 * Zod's messages rephrased in config terms. It never quotes the input, which may be a secret that came
 * from the environment. Schema-level messages (ours and the where schema's) take precedence over it.
 */
function issueProblem(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describe(issue.input)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `expected ${String(issue.values[0])}`
        : `expected one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'array')
        return issue.minimum === 1 ? 'must not be empty' : `needs at least ${issue.minimum} items`;
      if (issue.origin === 'string')
        return issue.minimum === 1 ? 'must not be empty' : `needs at least ${issue.minimum} characters`;
      return `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array') return `allows at most ${issue.maximum} items`;
      if (issue.origin === 'string') return `allows at most ${issue.maximum} characters`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`;
    case 'invalid_key':
      return issue.issues[0]?.message;
    default:
      return undefined;
  }
}

/** `triggers[1].operations[0]`; keys that are not plain words are quoted: `headers["X.Y"]`. */
function formatKeyPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment, index) => {
      if (typeof segment === 'number') return `[${segment}]`;
      const key = String(segment);
      if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return `[${JSON.stringify(key)}]`;
      return index === 0 ? key : `.${key}`;
    })
    .join('');
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]?.trim() ?? '';
}

/** Freezes the whole tree, so no stage can change the config another stage also reads. */
function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
