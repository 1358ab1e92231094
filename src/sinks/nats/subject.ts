import { type NameRules, NameTemplate, nameTemplateProblem } from '../name-template.js';

export const DEFAULT_SUBJECT = 'walhook.{schema}.{table}.{op}';

/** Literal text of a template: NATS subjects hold no whitespace, and `*` and `>` are wildcards. */
const LITERAL = /^[^\s*>{}]+$/;

const SUBJECT: NameRules = {
  what: 'subject template',
  placeholders: ['{schema}', '{table}', '{op}'],
  whole: (template) => {
    if (template === '') return 'must not be empty';
    return template.split('.').includes('')
      ? 'empty token: a subject cannot start or end with "." or hold ".."'
      : null;
  },
  literal: (piece) =>
    LITERAL.test(piece)
      ? null
      : 'expected a NATS subject: no spaces, no * or > wildcards, { and } only around {schema}, {table}, {op}',
};

/**
 * A schema or table name as one subject token. `.` separates tokens, and `*`, `>` and whitespace are not
 * allowed in a published subject, but Postgres names may hold anything; percent-encoding every byte
 * outside `A-Z a-z 0-9 _ -` (`%` included) keeps each name one token and the mapping reversible.
 */
export { nameToken as subjectToken } from '../name-token.js';

/** Why `template` is not a usable subject template, or null when it is. */
export const subjectTemplateProblem = (template: string): string | null =>
  nameTemplateProblem(template, SUBJECT);

/** A trigger's subject template (see NameTemplate). */
export class SubjectTemplate extends NameTemplate {
  constructor(template: string) {
    super(template, SUBJECT);
  }
}
