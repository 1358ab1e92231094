/** How a new list of triggers differs from the running one, by name. */
export interface TriggerChanges {
  added: string[];
  removed: string[];
  /** Same name, another definition: its in-flight events finish as they were, new ones use the new one. */
  changed: string[];
  unchanged: string[];
}

/**
 * Compares two lists of trigger settings (as the config holds them) by name and by value. A changed
 * trigger is one removed and one added under the same name.
 */
export function triggerChanges<T extends { readonly name: string }>(
  before: readonly T[],
  after: readonly T[],
): TriggerChanges {
  const old = new Map(before.map((trigger) => [trigger.name, canonical(trigger)]));
  const changes: TriggerChanges = { added: [], removed: [], changed: [], unchanged: [] };
  const seen = new Set<string>();
  for (const trigger of after) {
    seen.add(trigger.name);
    const previous = old.get(trigger.name);
    if (previous === undefined) changes.added.push(trigger.name);
    else if (previous === canonical(trigger)) changes.unchanged.push(trigger.name);
    else changes.changed.push(trigger.name);
  }
  for (const trigger of before) if (!seen.has(trigger.name)) changes.removed.push(trigger.name);
  return changes;
}

/** Whether anything is added, removed or changed. */
export function anyChange(changes: TriggerChanges): boolean {
  return changes.added.length + changes.removed.length + changes.changed.length > 0;
}

/**
 * A value as text, the same for equal values whatever the order of their keys: bigints (a `where`
 * literal), sets, maps, dates and nested objects included. Functions and undefined count as absent.
 */
export function canonical(value: unknown): string {
  if (value === undefined || typeof value === 'function') return 'u';
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value !== 'object') return JSON.stringify(value);
  if (value instanceof Date) return `D${value.toISOString()}`;
  if (value instanceof RegExp) return `R${String(value)}`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value instanceof Set) return `S[${[...value].map(canonical).sort().join(',')}]`;
  if (value instanceof Map) {
    return `M{${[...value]
      .map(([k, v]) => `${canonical(k)}:${canonical(v)}`)
      .sort()
      .join(',')}}`;
  }
  if (ArrayBuffer.isView(value))
    return `B${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined && typeof v !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}
