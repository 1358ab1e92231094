import type { TableName } from '../../core/table-name.js';
import { nameToken } from '../name-token.js';

export const DEFAULT_STREAM = 'walhook:{schema}.{table}';

const PLACEHOLDERS = ['{schema}', '{table}'];
/** Literal text, or the index of a placeholder in PLACEHOLDERS. */
type Part = string | number;

/**
 * A schema or table name inside a stream key. Redis keys may hold any byte, but `walhook:a.b.c` would be
 * both schema `a.b` table `c` and schema `a` table `b.c`; percent-encoding every byte outside
 * `A-Z a-z 0-9 _ -` (`.` and `%` included) keeps the key readable for usual names and reversible for all.
 */
export function keyName(name: string): string {
  return nameToken(name);
}

/**
 * Splits a template into literal text and placeholders, or says what is wrong with it. `{op}` is not
 * offered: a row's insert and its update in two streams could no longer be read in commit order.
 */
function parse(template: string): Part[] | string {
  if (template === '') return 'must not be empty';
  const parts: Part[] = [];
  for (const piece of template.split(/(\{[^{}]*\})/)) {
    if (piece === '') continue;
    if (piece.startsWith('{')) {
      const placeholder = PLACEHOLDERS.indexOf(piece);
      if (placeholder < 0) return `unknown placeholder ${piece} (expected {schema} or {table})`;
      parts.push(placeholder);
    } else if (/[{}]/.test(piece)) {
      return '{ and } only around {schema} and {table}';
    } else {
      parts.push(piece);
    }
  }
  return parts;
}

/** Why `template` is not a usable stream template, or null when it is. */
export function streamTemplateProblem(template: string): string | null {
  const parts = parse(template);
  return typeof parts === 'string' ? parts : null;
}

/** A trigger's stream template, rendered once per table: kept as long as Postgres's description of it. */
export class StreamTemplate {
  readonly #parts: Part[];
  readonly #rendered = new WeakMap<TableName, string>();

  constructor(template: string) {
    const parts = parse(template);
    if (typeof parts === 'string') throw new RangeError(`stream template "${template}": ${parts}`);
    this.#parts = parts;
  }

  render(relation: TableName): string {
    let stream = this.#rendered.get(relation);
    if (stream === undefined) {
      stream = '';
      for (const part of this.#parts) {
        stream += typeof part === 'string' ? part : keyName(part === 0 ? relation.schema : relation.name);
      }
      this.#rendered.set(relation, stream);
    }
    return stream;
  }
}
