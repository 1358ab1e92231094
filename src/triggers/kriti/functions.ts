/**
 * The functions a Kriti template can call: kriti-lang's `basicFuncMap` and the session-variable lookup
 * Hasura adds for request transforms, each with its Haskell original's semantics. A function takes one
 * JSON value and returns one; it throws {@link KritiFunctionError} for an argument it cannot take.
 */
import { KritiFunctionError } from './errors.js';
import { isZero, type KritiNumber, reciprocal } from './numbers.js';
import {
  codePointLength,
  escapeUri,
  firstCodePointWidth,
  isBlank,
  reverseCodePoints,
  toCaseFold,
  toLower,
  toTitle,
  toUpper,
} from './text.js';
import { describeKind, kindOf, member, setMember, sortedKeys } from './values.js';

/** What a function sees of the evaluation besides its argument. */
export interface KritiContext {
  /** The variables the template is evaluated with (`$body`, `$session_variables`, …). */
  readonly variables: Readonly<Record<string, unknown>>;
}

export type KritiFunction = (argument: unknown, context: KritiContext) => unknown;

function expected(what: string, argument: unknown): never {
  throw new KritiFunctionError(`expected ${what}, got ${describeKind(argument)}`);
}

function stringFunction(convert: (text: string) => string): KritiFunction {
  return (argument) => (typeof argument === 'string' ? convert(argument) : expected('a string', argument));
}

function empty(argument: unknown): boolean {
  switch (kindOf(argument)) {
    case 'object':
      return Object.keys(argument as object).length === 0;
    case 'array':
      return (argument as unknown[]).length === 0;
    case 'string':
      return isBlank(argument as string);
    case 'number':
      return isZero(argument as KritiNumber);
    case 'boolean':
      throw new KritiFunctionError('cannot define emptiness for a boolean');
    case 'null':
      return true;
  }
}

function size(argument: unknown): unknown {
  switch (kindOf(argument)) {
    case 'object':
      return Object.keys(argument as object).length;
    case 'array':
      return (argument as unknown[]).length;
    case 'string':
      return codePointLength(argument as string);
    case 'number':
      return argument;
    case 'boolean':
      return argument ? 1 : 0;
    case 'null':
      return 0;
  }
}

function inverse(argument: unknown): unknown {
  switch (kindOf(argument)) {
    case 'array':
      return (argument as unknown[]).toReversed();
    case 'string':
      return reverseCodePoints(argument as string);
    case 'number':
      return reciprocal(argument as KritiNumber);
    case 'boolean':
      return !argument;
    default:
      return argument;
  }
}

function head(argument: unknown): unknown {
  if (Array.isArray(argument)) {
    if (argument.length === 0) throw new KritiFunctionError('empty array');
    return argument[0];
  }
  if (typeof argument !== 'string') return expected('an array or a string', argument);
  if (argument === '') throw new KritiFunctionError('empty string');
  return argument.slice(0, firstCodePointWidth(argument));
}

/** Haskell's tail fails on an empty array or string (the engine crashes); here it is an error. */
function tail(argument: unknown): unknown {
  if (Array.isArray(argument)) {
    if (argument.length === 0) throw new KritiFunctionError('empty array');
    return argument.slice(1);
  }
  if (typeof argument !== 'string') return expected('an array or a string', argument);
  if (argument === '') throw new KritiFunctionError('empty string');
  return argument.slice(firstCodePointWidth(argument));
}

function toPairs(argument: unknown): unknown {
  if (kindOf(argument) !== 'object') return expected('an object', argument);
  const object = argument as Record<string, unknown>;
  return sortedKeys(object).map((key) => [key, object[key]]);
}

/** A key given twice keeps its last value, as aeson's `object` does. */
function fromPairs(argument: unknown): unknown {
  if (!Array.isArray(argument)) return expected('an array of [key, value] pairs', argument);
  const object: Record<string, unknown> = {};
  for (const pair of argument) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') {
      throw new KritiFunctionError('expected an array of [key, value] pairs with string keys');
    }
    setMember(object, pair[0], pair[1]);
  }
  return object;
}

function removeNulls(argument: unknown): unknown {
  if (!Array.isArray(argument)) return expected('an array', argument);
  return argument.filter((item) => kindOf(item) !== 'null');
}

/** Arrays of arrays, of strings or of objects (the rightmost object's key wins); `[]` gives `[]`. */
function concat(argument: unknown): unknown {
  if (!Array.isArray(argument)) return expected('an array', argument);
  if (argument.every(Array.isArray)) return argument.flat();
  if (argument.every((item) => typeof item === 'string')) return argument.join('');
  if (!argument.every((item) => kindOf(item) === 'object')) {
    throw new KritiFunctionError('expected an array of arrays, of strings or of objects');
  }
  const merged: Record<string, unknown> = {};
  for (const object of argument) for (const key of Object.keys(object)) setMember(merged, key, object[key]);
  return merged;
}

function not(argument: unknown): unknown {
  return typeof argument === 'boolean' ? !argument : expected('a boolean', argument);
}

/**
 * Hasura's `getSessionVariable`: a session variable by name, matched ignoring case, from the
 * `$session_variables` the template is evaluated with; null for null, an error when it is not there.
 */
function getSessionVariable(argument: unknown, context: KritiContext): unknown {
  if (argument === null) return null;
  if (typeof argument !== 'string') throw new KritiFunctionError('session variable name should be a string');
  const sessionVariables = member(context.variables, '$session_variables');
  if (kindOf(sessionVariables) === 'object') {
    const wanted = argument.toLowerCase();
    const variables = sessionVariables as Record<string, unknown>;
    const name = Object.keys(variables).find((key) => key.toLowerCase() === wanted);
    if (name !== undefined) return variables[name];
  }
  throw new KritiFunctionError(`session variable ${JSON.stringify(argument)} not found`);
}

/** Every function a template can call, by name. */
export const BUILTIN_FUNCTIONS: ReadonlyMap<string, KritiFunction> = new Map<string, KritiFunction>([
  ['empty', empty],
  ['size', size],
  ['inverse', inverse],
  ['head', head],
  ['tail', tail],
  ['toCaseFold', stringFunction(toCaseFold)],
  ['toLower', stringFunction(toLower)],
  ['toUpper', stringFunction(toUpper)],
  ['toTitle', stringFunction(toTitle)],
  ['escapeUri', stringFunction(escapeUri)],
  ['fromPairs', fromPairs],
  ['toPairs', toPairs],
  ['removeNulls', removeNulls],
  ['concat', concat],
  ['not', not],
  ['getSessionVariable', getSessionVariable],
]);

/**
 * Hasura's `getEnvironmentVariable`, which it offers only in data connector settings: not a built-in
 * here, since a request transform (which metadata API callers write) could send secrets to a webhook.
 * A caller that means to offer it passes it to `evaluate`.
 */
export function environmentFunctions(
  environment: Readonly<Record<string, string | undefined>>,
): Record<string, KritiFunction> {
  return {
    getEnvironmentVariable: (argument) => {
      if (argument === null) return null;
      if (typeof argument !== 'string')
        throw new KritiFunctionError('environment variable name should be a string');
      return Object.hasOwn(environment, argument) ? (environment[argument] ?? null) : null;
    },
  };
}
