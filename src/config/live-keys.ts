import { canonical } from '../triggers/trigger-changes.js';
import { DEFAULT_PIPELINE } from './load.js';
import type { Config } from './schema.js';

/**
 * What a running walhook takes from a new config without a restart: its triggers (the file's and those
 * from `hasura:`) and the in-flight limits. Everything else is read once at start.
 */
export const LIVE_KEYS: readonly string[] = ['triggers', 'max_in_flight_events', 'max_in_flight_bytes'];

/** Keys of a pipeline's config that are not settings (its name, set by the loader). */
const NOT_SETTINGS = new Set(['pipeline']);

/**
 * The first key whose value differs between the running configs and new ones and cannot change while
 * walhook runs, as `source.slot`, `server.port` or `pipelines` (pipelines added, removed, renamed or
 * reordered); null when only live keys differ.
 */
export function restartKey(
  running: readonly Readonly<Config>[],
  next: readonly Readonly<Config>[],
): string | null {
  const names = (configs: readonly Readonly<Config>[]) => configs.map((c) => c.pipeline).join(',');
  if (names(running) !== names(next)) return 'pipelines';
  for (const [i, before] of running.entries()) {
    const several = running.length > 1 || before.pipeline !== DEFAULT_PIPELINE;
    const after = next[i] as Readonly<Config>;
    const key = differingKey(before, after, LIVE_KEYS);
    if (key === null) continue;
    // The shared settings sit at the top level in both forms; the others in their pipeline.
    const shared =
      !several ||
      ['server', 'shutdown_grace_sec', 'user_agent', 'metadata_store'].includes(key.split('.')[0] ?? '');
    return shared ? key : `pipelines[${i}].${key}`;
  }
  return null;
}

/** The first differing key, as a dotted path one level into mappings (`source.slot`). */
function differingKey(before: object, after: object, live: readonly string[]): string | null {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const key of keys) {
    if (live.includes(key) || NOT_SETTINGS.has(key)) continue;
    const a = (before as Record<string, unknown>)[key];
    const b = (after as Record<string, unknown>)[key];
    if (canonical(a) === canonical(b)) continue;
    if (isMapping(a) && isMapping(b)) return `${key}.${differingKey(a, b, []) ?? ''}`.replace(/\.$/, '');
    return key;
  }
  return null;
}

function isMapping(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
