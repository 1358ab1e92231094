/**
 * Kriti's errors: where a template is wrong (at load) or where it failed on a value (per event). Each
 * carries a 1-based line and column into the template's text and a one-line message, so that a caller
 * can prefix its own context ("trigger X: request_transform.body: line 3 column 7: …").
 */

/** A place in a template's text, 1-based. */
export interface KritiPosition {
  readonly line: number;
  readonly column: number;
}

abstract class KritiError extends Error {
  readonly line: number;
  readonly column: number;

  constructor(
    readonly problem: string,
    at: KritiPosition,
  ) {
    super(`line ${at.line} column ${at.column}: ${problem}`);
    this.line = at.line;
    this.column = at.column;
  }
}

/** The template's text is not Kriti; thrown by the compile functions. */
export class KritiSyntaxError extends KritiError {
  override readonly name = 'KritiSyntaxError';
}

/** The template failed on the values it was given (a missing key, a wrong type); thrown by evaluation. */
export class KritiEvalError extends KritiError {
  override readonly name = 'KritiEvalError';
}

/**
 * What a function (built in or given to `evaluate`) throws for an argument it cannot take; the
 * evaluator turns it into a {@link KritiEvalError} at the argument's position, prefixed with the name.
 */
export class KritiFunctionError extends Error {
  override readonly name = 'KritiFunctionError';
}
