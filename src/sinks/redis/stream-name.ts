import { type NameRules, NameTemplate, nameTemplateProblem } from '../name-template.js';

export const DEFAULT_STREAM = 'walhook:{schema}.{table}';

/** `{op}` is not offered: a row's insert and its update in two streams could no longer be read in commit order. */
const STREAM: NameRules = {
  what: 'stream template',
  placeholders: ['{schema}', '{table}'],
  whole: (template) => (template === '' ? 'must not be empty' : null),
  literal: (piece) => (/[{}]/.test(piece) ? '{ and } only around {schema} and {table}' : null),
};

/**
 * A schema or table name inside a stream key. Redis keys may hold any byte, but `walhook:a.b.c` would be
 * both schema `a.b` table `c` and schema `a` table `b.c`; percent-encoding every byte outside
 * `A-Z a-z 0-9 _ -` (`.` and `%` included) keeps the key readable for usual names and reversible for all.
 */
export { nameToken as keyName } from '../name-token.js';

/** Why `template` is not a usable stream template, or null when it is. */
export const streamTemplateProblem = (template: string): string | null =>
  nameTemplateProblem(template, STREAM);

/** A trigger's stream template (see NameTemplate): one stream per table. */
export class StreamTemplate extends NameTemplate {
  constructor(template: string) {
    super(template, STREAM);
  }
}
