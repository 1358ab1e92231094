/**
 * Kriti, the template language of Hasura's request transforms, as Hasura's engine (kriti-lang 0.3 and
 * its `Data.Aeson.Kriti.Functions`) evaluates it. A template is compiled once (syntax errors then, with
 * line and column) and evaluated per event against variables such as `$body`; values are JSON as
 * `src/core/json.ts` reads it, so numbers keep every digit through a template.
 */
import { KritiSyntaxError } from './errors.js';
import { Evaluation } from './evaluator.js';
import type { KritiFunction } from './functions.js';

export { wellFormed } from './text.js';
export { aesonEncode, interpolated } from './values.js';

import { tokenize } from './lexer.js';
import { type Parsed, parse } from './parser.js';

export { KritiEvalError, KritiFunctionError, type KritiPosition, KritiSyntaxError } from './errors.js';
export {
  BUILTIN_FUNCTIONS,
  environmentFunctions,
  type KritiContext,
  type KritiFunction,
} from './functions.js';

/** Longer than any template needs: a bound on what compiling may cost. */
const MAX_SOURCE_LENGTH = 1_000_000;

export type KritiVariables = Readonly<Record<string, unknown>>;
/** Functions besides the built-ins (a name here hides a built-in of that name). */
export type KritiFunctions = Readonly<Record<string, KritiFunction>>;

export interface KritiTemplate {
  readonly source: string;
  /** The JSON value the template gives; throws KritiEvalError. */
  evaluate(variables: KritiVariables, functions?: KritiFunctions): unknown;
}

export interface KritiStringTemplate {
  readonly source: string;
  /** The string the template gives; throws KritiEvalError. */
  render(variables: KritiVariables, functions?: KritiFunctions): string;
}

/** Compiles a template (a request body's); throws KritiSyntaxError. */
export function compileKriti(source: string): KritiTemplate {
  const { root, slots } = parse(tokenize(checkLength(source)));
  return {
    source,
    evaluate: (variables, functions) => new Evaluation(variables, functions, slots).run(root),
  };
}

/**
 * Compiles a string template (a URL, header value or query parameter): the text of a Kriti string
 * without its quotes, which is how Hasura reads these fields (it wraps them in quotes), so a `"` in it
 * is written `\"`. Positions in errors are in the text as given.
 */
export function compileKritiString(text: string): KritiStringTemplate {
  const wrapped = `"${checkLength(text)}"`;
  let parsed: Parsed;
  try {
    parsed = parse(tokenize(wrapped, 0));
  } catch (error) {
    if (!(error instanceof KritiSyntaxError) || !/expected end of input/.test(error.problem)) throw error;
    throw new KritiSyntaxError(`${error.problem}: a '"' in a string template is written \\"`, error);
  }
  const { root, slots } = parsed;
  return {
    source: text,
    // A string literal evaluates to a string, whatever its parts.
    render: (variables, functions) => new Evaluation(variables, functions, slots).run(root) as string,
  };
}

function checkLength(source: string): string {
  if (source.length > MAX_SOURCE_LENGTH) {
    throw new KritiSyntaxError(`template longer than ${MAX_SOURCE_LENGTH} characters`, {
      line: 1,
      column: 1,
    });
  }
  return source;
}
