import pino, { type Logger, type LoggerOptions } from 'pino';
import { jsonMembers } from './json.js';

/**
 * pino writes a line as its level and time, the logger's bindings (its own after its parents'), then
 * the call's fields, without looking for repeats: a pipeline binding `slot`, a stage binding it again
 * and a call passing it once more would give one line three `slot` keys, which JSON readers resolve
 * differently (most keep the last, some refuse the line). These two hooks keep every key once: the
 * nearest binding replaces a parent's in place, and a call's field replaces a binding.
 */

const { chindingsSym } = pino.symbols as unknown as { chindingsSym: symbol };

/** Keys pino writes itself: a call's field of that name would repeat one (`msg` only beside a message). */
const RESERVED = new Set(['level', 'time']);

type Bound = Logger & Record<symbol, string>;

/** Keys bound to each logger, with the serialized bindings they were read from (`setBindings` may change them). */
const boundKeys = new WeakMap<object, { text: string; keys: Map<string, string> }>();

function bindingsOf(logger: Logger): Map<string, string> {
  const text = (logger as Bound)[chindingsSym] ?? '';
  let cached = boundKeys.get(logger);
  if (cached?.text !== text) {
    cached = { text, keys: new Map(jsonMembers(`{${text.slice(1)}}`)) };
    boundKeys.set(logger, cached);
  }
  return cached.keys;
}

/** pino's `onChild`: a child's binding of a key its parents bound replaces theirs. */
export function uniqueChildBindings(child: Logger): void {
  const text = (child as Bound)[chindingsSym] ?? '';
  const members = jsonMembers(`{${text.slice(1)}}`);
  const merged = new Map(members);
  if (merged.size === members.length) return;
  (child as Bound)[chindingsSym] = [...merged]
    .map(([key, value]) => `,${JSON.stringify(key)}:${value}`)
    .join('');
}

type LogMethodHook = NonNullable<NonNullable<LoggerOptions['hooks']>['logMethod']>;

/**
 * Wraps a `logMethod` hook: a call's field that the logger binds already is dropped when it says the
 * same, and otherwise written through a child binding the call's value, so it replaces the binding.
 * A field named like pino's own keys (`level`, `time`, `msg` beside a message) is written as `field_`.
 */
export function uniqueCallFields(next: LogMethodHook): LogMethodHook {
  return function (this: Logger, args, method, level) {
    const [first, ...rest] = args as unknown[];
    if (typeof first !== 'object' || first === null || first instanceof Error) {
      return next.call(this, args, method, level);
    }
    const fields = first as Record<string, unknown>;
    const bound = bindingsOf(this);
    let own: Record<string, unknown> | null = null;
    let rebind: Record<string, unknown> | null = null;
    const messageGiven = rest[0] !== undefined;
    for (const key of Object.keys(fields)) {
      const reserved = RESERVED.has(key) || (key === 'msg' && messageGiven);
      if (!reserved && !bound.has(key)) continue;
      own ??= { ...fields };
      const value = own[key];
      delete own[key];
      if (reserved) own[`${key}_`] = value;
      else if (value !== undefined && JSON.stringify(value) !== bound.get(key)) {
        rebind ??= {};
        rebind[key] = value;
      }
    }
    if (own === null) return next.call(this, args, method, level);
    const logger = rebind === null ? this : this.child(rebind);
    return next.call(logger, [own, ...rest] as typeof args, method, level);
  };
}
