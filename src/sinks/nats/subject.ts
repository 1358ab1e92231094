import type { DeliveryEvent } from '../../core/delivery-event.js';
import type { TableName } from '../../core/table-name.js';
import { nameToken } from '../name-token.js';

export const DEFAULT_SUBJECT = 'walhook.{schema}.{table}.{op}';

const PLACEHOLDERS = ['{schema}', '{table}', '{op}'];
/** Literal text, or the index of a placeholder in PLACEHOLDERS. */
type Part = string | number;
type Op = DeliveryEvent['op'];

/** Literal text of a template: NATS subjects hold no whitespace, and `*` and `>` are wildcards. */
const LITERAL = /^[^\s*>{}]+$/;
const OPS: readonly Op[] = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'MANUAL', 'READ'];
const OP_TOKENS: readonly string[] = OPS.map((op) => op.toLowerCase());

/**
 * A schema or table name as one subject token. `.` separates tokens, and `*`, `>` and whitespace are not
 * allowed in a published subject, but Postgres names may hold anything; percent-encoding every byte
 * outside `A-Z a-z 0-9 _ -` (`%` included) keeps each name one token and the mapping reversible.
 */
export function subjectToken(name: string): string {
  return nameToken(name);
}

/** Splits a template into literal text and placeholders, or says what is wrong with it. */
function parse(template: string): Part[] | string {
  if (template === '') return 'must not be empty';
  if (template.split('.').includes(''))
    return 'empty token: a subject cannot start or end with "." or hold ".."';
  const parts: Part[] = [];
  for (const piece of template.split(/(\{[^{}]*\})/)) {
    if (piece === '') continue;
    if (piece.startsWith('{')) {
      const placeholder = PLACEHOLDERS.indexOf(piece);
      if (placeholder < 0) return `unknown placeholder ${piece} (expected {schema}, {table} or {op})`;
      parts.push(placeholder);
    } else if (LITERAL.test(piece)) {
      parts.push(piece);
    } else {
      return 'expected a NATS subject: no spaces, no * or > wildcards, { and } only around {schema}, {table}, {op}';
    }
  }
  return parts;
}

/** Why `template` is not a usable subject template, or null when it is. */
export function subjectTemplateProblem(template: string): string | null {
  const parts = parse(template);
  return typeof parts === 'string' ? parts : null;
}

/**
 * A trigger's subject template, rendered once per table and operation: a relation's subjects are kept
 * as long as Postgres's description of the table (which every event of it shares) is alive.
 */
export class SubjectTemplate {
  readonly #parts: Part[];
  readonly #rendered = new WeakMap<TableName, string[]>();

  constructor(template: string) {
    const parts = parse(template);
    if (typeof parts === 'string') throw new RangeError(`subject template "${template}": ${parts}`);
    this.#parts = parts;
  }

  render(relation: TableName, op: Op): string {
    let subjects = this.#rendered.get(relation);
    if (subjects === undefined) {
      subjects = OP_TOKENS.map((token) => this.#fill(relation, token));
      this.#rendered.set(relation, subjects);
    }
    return subjects[OPS.indexOf(op)] as string;
  }

  #fill(relation: TableName, op: string): string {
    let subject = '';
    for (const part of this.#parts) {
      if (typeof part === 'string') subject += part;
      else subject += [subjectToken(relation.schema), subjectToken(relation.name), op][part];
    }
    return subject;
  }
}
