import { compareCodePoints } from '../compare.js';
/**
 * JSON values as Kriti sees them (Haskell aeson's `Value`): their kinds, equality and order, and the
 * compact text Kriti puts in a string for a value that is not a string. Values are what
 * `src/core/json.ts` reads: plain objects and arrays, strings, booleans, null and its numbers.
 */
import { KritiFunctionError } from './errors.js';
import { aesonNumberText, compareNumbers, isNumber, type KritiNumber } from './numbers.js';
import { wellFormed } from './text.js';

export type JsonKind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';

/** Deeper than any payload; the walks below recurse, and a stack overflow is no answer. */
const MAX_DEPTH = 1000;

/** aeson's constructor order, which orders values of different kinds. */
const KIND_RANK: Record<JsonKind, number> = {
  object: 0,
  array: 1,
  string: 2,
  number: 3,
  boolean: 4,
  null: 5,
};

const KIND_NAMES: Record<JsonKind, string> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  number: 'a number',
  boolean: 'a boolean',
  null: 'null',
};

export function kindOf(value: unknown): JsonKind {
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return 'array';
      return isNumber(value) ? 'number' : 'object';
    default:
      // A double that is not finite is written as null by JSON writers, so it is null here too.
      return isNumber(value) ? 'number' : 'null';
  }
}

export function describeKind(value: unknown): string {
  return KIND_NAMES[kindOf(value)];
}

/** An object's own member, or undefined: never an inherited property such as `constructor`. */
export function member(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Sets an own member, also for "__proto__" (which assignment would take as the prototype). */
export function setMember(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  } else object[key] = value;
}

function tooDeep(depth: number): void {
  if (depth > MAX_DEPTH) throw new KritiFunctionError(`value nested more than ${MAX_DEPTH} levels deep`);
}

/** An object's keys in aeson's order (sorted), which is the order Kriti shows them in. */
export function sortedKeys(object: Record<string, unknown>): string[] {
  return Object.keys(object).sort(compareCodePoints);
}

/** aeson's `==`: numbers by value, objects whatever their key order. */
export function jsonEqual(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  const kind = kindOf(a);
  if (kind !== kindOf(b)) return false;
  switch (kind) {
    case 'number':
      return compareNumbers(a as KritiNumber, b as KritiNumber) === 0;
    case 'array': {
      tooDeep(depth);
      const x = a as unknown[];
      const y = b as unknown[];
      return x.length === y.length && x.every((item, i) => jsonEqual(item, y[i], depth + 1));
    }
    case 'object': {
      tooDeep(depth);
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      const keys = Object.keys(x);
      if (keys.length !== Object.keys(y).length) return false;
      return keys.every((key) => Object.hasOwn(y, key) && jsonEqual(x[key], y[key], depth + 1));
    }
    default:
      // Strings and booleans are equal only when identical (checked above); every null-kind is null.
      return kind === 'null';
  }
}

/** aeson's `compare`: by kind first (object < array < string < number < boolean < null), then by value. */
export function jsonCompare(a: unknown, b: unknown, depth = 0): number {
  const kind = kindOf(a);
  const other = kindOf(b);
  if (kind !== other) return KIND_RANK[kind] - KIND_RANK[other];
  switch (kind) {
    case 'number':
      return compareNumbers(a as KritiNumber, b as KritiNumber);
    case 'string':
      return compareCodePoints(a as string, b as string);
    case 'boolean':
      return Number(a) - Number(b);
    case 'array':
      return compareLists(a as unknown[], b as unknown[], depth);
    case 'object': {
      // aeson's objects are maps ordered by key: compared as their sorted (key, value) lists.
      tooDeep(depth);
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      const xs = sortedKeys(x);
      const ys = sortedKeys(y);
      for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
        const key = xs[i] as string;
        const byKey = compareCodePoints(key, ys[i] as string);
        if (byKey !== 0) return byKey;
        const byValue = jsonCompare(x[key], y[key], depth + 1);
        if (byValue !== 0) return byValue;
      }
      return xs.length - ys.length;
    }
    default:
      return 0;
  }
}

function compareLists(a: unknown[], b: unknown[], depth: number): number {
  tooDeep(depth);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = jsonCompare(a[i], b[i], depth + 1);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what it escapes.
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

/**
 * A value as Kriti interpolates it into a string: a string as is, anything else as aeson encodes it
 * (compact, keys sorted, aeson's number format and escapes).
 */
export function interpolated(value: unknown): string {
  return typeof value === 'string' ? value : encode(value, 0);
}

/** A value as aeson encodes it: compact, keys sorted, numbers digit for digit (a transformed body). */
export function aesonEncode(value: unknown): string {
  return encode(value, 0);
}

function encode(value: unknown, depth: number): string {
  switch (kindOf(value)) {
    case 'string':
      return quote(value as string);
    case 'number':
      return aesonNumberText(value as KritiNumber);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'null':
      return 'null';
    case 'array':
      tooDeep(depth);
      return `[${(value as unknown[]).map((item) => encode(item, depth + 1)).join(',')}]`;
    case 'object': {
      tooDeep(depth);
      const object = value as Record<string, unknown>;
      const members = sortedKeys(object).map((key) => `${quote(key)}:${encode(object[key], depth + 1)}`);
      return `{${members.join(',')}}`;
    }
  }
}

/** aeson's string escapes: `\"`, `\\`, `\n`, `\r`, `\t`, other controls as `\u00xx`; the rest as is. */
function quote(raw: string): string {
  const text = wellFormed(raw);
  if (!NEEDS_ESCAPE.test(text)) return `"${text}"`;
  let result = '"';
  for (const char of text) {
    const code = char.charCodeAt(0);
    if (char === '"' || char === '\\') result += `\\${char}`;
    else if (char === '\n') result += '\\n';
    else if (char === '\r') result += '\\r';
    else if (char === '\t') result += '\\t';
    else if (code < 0x20) result += `\\u${code.toString(16).padStart(4, '0')}`;
    else result += char;
  }
  return `${result}"`;
}
