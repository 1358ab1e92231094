import { type TableName, tableText } from '../../core/table-name.js';
import { requestTransformSchema } from '../../sinks/webhook/transform-settings.js';
import { envReference, literal, webhookTemplate } from './values.js';

/**
 * One Hasura event trigger (`EventTriggerConf` in its metadata) as a walhook trigger: a plain object,
 * as the YAML of a config would give it, for walhook's own trigger schema to validate. Every key is
 * mapped, mapped with a note, or rejected with the reason.
 */
export interface TriggerMapping {
  readonly name: string;
  /** The walhook trigger, or null when a key cannot be mapped. */
  readonly trigger: Record<string, unknown> | null;
  /** `key: what differs`, for keys mapped with a note. */
  readonly notes: readonly string[];
  /** The key that cannot be mapped and why. */
  readonly problem: { readonly key: string; readonly why: string } | null;
  /** Whether it fires on update or delete: then it needs the whole old row (REPLICA IDENTITY FULL). */
  readonly needsOldRows: boolean;
}

/** Hasura's values for the retry_conf keys a trigger leaves out. */
export const HASURA_RETRY_DEFAULTS = { num_retries: 0, interval_sec: 10, timeout_sec: 60 } as const;

/** The Hasura version whose User-Agent imported triggers send, unless another is given. */
export const DEFAULT_HASURA_VERSION = 'v2.48.1';

/** A version as Hasura's User-Agent shows it, with its `v`: 2.48.1 and v2.48.1 are both v2.48.1. */
export function hasuraVersion(text: string): string {
  return text.startsWith('v') ? text : `v${text}`;
}

const TRIGGER_KEYS = [
  'name',
  'definition',
  'webhook',
  'webhook_from_env',
  'retry_conf',
  'headers',
  'request_transform',
  'response_transform',
  'cleanup_config',
  'trigger_on_replication',
];
const DEFINITION_KEYS = ['insert', 'update', 'delete', 'enable_manual'];
const OPERATIONS = ['insert', 'update', 'delete'] as const;

class Unsupported extends Error {
  constructor(
    readonly key: string,
    readonly why: string,
  ) {
    super(`${key}: ${why}`);
  }
}

type Mapping = Record<string, unknown>;

function mapping(value: unknown, key: string): Mapping {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Unsupported(key, 'expected a mapping');
  }
  return value as Mapping;
}

function onlyKeys(value: Mapping, known: readonly string[], prefix: string): void {
  const unknown = Object.keys(value).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    throw new Unsupported(`${prefix}${unknown}`, `unknown key (expected one of ${known.join(', ')})`);
  }
}

function count(value: unknown, key: string, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new Unsupported(key, `expected a whole number >= ${min}`);
  }
  return value;
}

/** `"*"` (null) or a non-empty list of column names. */
function columns(value: unknown, key: string): string[] | null {
  if (value === undefined || value === '*') return null;
  if (!Array.isArray(value) || value.length === 0 || value.some((c) => typeof c !== 'string' || c === '')) {
    throw new Unsupported(key, 'expected "*" or a non-empty list of column names');
  }
  return value.map(literal);
}

/** Operations, update columns and the one payload list walhook has for all operations. */
function definitionKeys(definition: Mapping): Mapping {
  onlyKeys(definition, DEFINITION_KEYS, 'definition.');
  const operations = OPERATIONS.filter((op) => definition[op] !== undefined && definition[op] !== null);
  if (operations.length === 0) {
    throw new Unsupported(
      'definition',
      'no insert, update or delete: a trigger only invoked by hand has no walhook equivalent (a walhook trigger needs an operation)',
    );
  }
  let payload: { op: string; list: string[] | null } | undefined;
  let updateColumns: string[] | null = null;
  for (const op of operations) {
    const spec = mapping(definition[op], `definition.${op}`);
    onlyKeys(spec, ['columns', 'payload'], `definition.${op}.`);
    // Hasura's trigger compares the columns only on UPDATE; on INSERT and DELETE it ignores them.
    const listened = columns(spec.columns, `definition.${op}.columns`);
    if (op === 'update') updateColumns = listened;
    const list = columns(spec.payload, `definition.${op}.payload`);
    if (payload === undefined) {
      payload = { op, list };
    } else if (JSON.stringify(payload.list) !== JSON.stringify(list)) {
      throw new Unsupported(
        `definition.${op}.payload`,
        `differs from definition.${payload.op}.payload, and a walhook trigger has one payload_columns list for every operation; split it into one Hasura trigger per payload list`,
      );
    }
  }
  const manual = definition.enable_manual ?? false;
  if (typeof manual !== 'boolean')
    throw new Unsupported('definition.enable_manual', 'expected true or false');
  return {
    operations,
    ...(updateColumns !== null && { columns: updateColumns }),
    ...(payload?.list != null && { payload_columns: payload.list }),
    enable_manual: manual,
  };
}

function webhookKey(trigger: Mapping): string {
  const { webhook, webhook_from_env: fromEnv } = trigger;
  if (webhook !== undefined && fromEnv !== undefined) {
    throw new Unsupported('webhook_from_env', 'set either webhook or webhook_from_env, not both');
  }
  if (typeof webhook === 'string' && webhook !== '') return webhookTemplate(webhook);
  if (typeof fromEnv === 'string' && fromEnv !== '') return envReference(fromEnv);
  throw new Unsupported('webhook', 'required (a URL, or webhook_from_env naming a variable)');
}

function headersKey(value: unknown): Mapping | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value))
    throw new Unsupported('headers', 'expected a list of {name, value} or {name, value_from_env}');
  const headers: Mapping = {};
  value.forEach((item, i) => {
    const header = mapping(item, `headers[${i}]`);
    onlyKeys(header, ['name', 'value', 'value_from_env'], `headers[${i}].`);
    const { name, value: text, value_from_env: fromEnv } = header;
    if (typeof name !== 'string' || name === '') throw new Unsupported(`headers[${i}].name`, 'required');
    if (Object.keys(headers).some((seen) => seen.toLowerCase() === name.toLowerCase())) {
      throw new Unsupported(`headers[${i}].name`, `header ${name} is set twice; keep one`);
    }
    if (typeof text === 'string' && fromEnv === undefined) headers[literal(name)] = literal(text);
    else if (typeof fromEnv === 'string' && text === undefined)
      headers[literal(name)] = envReference(fromEnv);
    else throw new Unsupported(`headers[${i}]`, 'expected either value or value_from_env');
  });
  return Object.keys(headers).length > 0 ? headers : undefined;
}

function retryKey(value: unknown): Mapping {
  const retry = value === undefined || value === null ? {} : mapping(value, 'retry_conf');
  onlyKeys(retry, Object.keys(HASURA_RETRY_DEFAULTS), 'retry_conf.');
  const defaults = HASURA_RETRY_DEFAULTS;
  return {
    num_retries: count(retry.num_retries, 'retry_conf.num_retries', 0, defaults.num_retries),
    interval_sec: count(retry.interval_sec, 'retry_conf.interval_sec', 0, defaults.interval_sec),
    timeout_sec: count(retry.timeout_sec, 'retry_conf.timeout_sec', 1, defaults.timeout_sec),
    // Hasura waits interval_sec between attempts, and a Retry-After in seconds on any non-2xx answer.
    backoff: 'fixed',
    retry_after: 'any_status',
  };
}

/**
 * Hasura's `request_transform` is walhook's, key for key. It is checked (templates compiled) here, so
 * that a template Hasura would refuse names its trigger in the report; its strings are kept literal.
 */
function requestTransformKey(value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  const checked = requestTransformSchema.safeParse(value);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const path = issue?.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : (issue?.path ?? []);
    throw new Unsupported(['request_transform', ...path].join('.'), issue?.message ?? 'invalid');
  }
  return literalStrings(value);
}

/** A copy with every string (keys too: Hasura's query parameter keys are templates) kept literal. */
function literalStrings(value: unknown): unknown {
  if (typeof value === 'string') return literal(value);
  if (Array.isArray(value)) return value.map(literalStrings);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [literal(key), literalStrings(item)]));
}

function mapKeys(hasura: Mapping, table: TableName, hasuraVersion: string, notes: string[]): Mapping {
  onlyKeys(hasura, TRIGGER_KEYS, '');
  const transform = requestTransformKey(hasura.request_transform);
  if (hasura.response_transform != null) {
    throw new Unsupported(
      'response_transform',
      'an event trigger does nothing with the answer it gets besides its status, so walhook has nothing to transform; remove it',
    );
  }
  if (hasura.cleanup_config != null) notes.push(`cleanup_config: ${cleanupNote(hasura.cleanup_config)}`);
  const onReplication = hasura.trigger_on_replication ?? false;
  if (typeof onReplication !== 'boolean')
    throw new Unsupported('trigger_on_replication', 'expected true or false');
  const headers = headersKey(hasura.headers);
  return {
    name: hasura.name,
    table: literal(tableText(table)),
    ...definitionKeys(mapping(hasura.definition, 'definition')),
    webhook: webhookKey(hasura),
    ...(headers !== undefined && { headers }),
    ...(transform !== undefined && { request_transform: transform }),
    user_agent: `hasura-graphql-engine/${hasuraVersion}`,
    retry: retryKey(hasura.retry_conf),
    // Hasura does not fire an UPDATE that changed none of the update columns.
    skip_unchanged_updates: true,
    // Written out: Hasura's default for Postgres (false) is not walhook's.
    trigger_on_replication: onReplication,
    // Receivers written for Hasura may validate the body strictly.
    payload_format: 'hasura',
  };
}

/**
 * walhook has no event log to clean; what it keeps is the pipeline's `invocation_log`, pruned by its
 * `retention` (one per pipeline, not per trigger), which is where `clear_older_than` belongs.
 */
function cleanupNote(cleanup: unknown): string {
  const hours = (cleanup as { clear_older_than?: unknown }).clear_older_than;
  const retention = typeof hours === 'number' && hours > 0 ? `retention: ${hours}h` : 'retention';
  return `accepted; walhook keeps no event log, and its invocation_log (if on) is pruned by the pipeline's invocation_log.${retention}, not per trigger`;
}

/** Maps one entry of a table's `event_triggers`. */
export function mapEventTrigger(value: unknown, table: TableName, hasuraVersion: string): TriggerMapping {
  const raw = typeof value === 'object' && value !== null ? (value as Mapping) : {};
  const name = typeof raw.name === 'string' && raw.name !== '' ? raw.name : '(unnamed)';
  const notes: string[] = [];
  try {
    if (name === '(unnamed)') throw new Unsupported('name', 'required');
    const trigger = mapKeys(mapping(value, 'event trigger'), table, hasuraVersion, notes);
    const operations = trigger.operations as string[];
    const needsOldRows = operations.includes('update') || operations.includes('delete');
    return { name, trigger, notes, problem: null, needsOldRows };
  } catch (err) {
    if (!(err instanceof Unsupported)) throw err;
    return { name, trigger: null, notes, problem: { key: err.key, why: err.why }, needsOldRows: false };
  }
}
