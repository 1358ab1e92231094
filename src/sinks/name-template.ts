import type { DeliveryEvent } from '../core/delivery-event.js';
import type { TableName } from '../core/table-name.js';
import { nameToken } from './name-token.js';

export type Placeholder = '{schema}' | '{table}' | '{op}';
type Op = DeliveryEvent['op'];
/** Literal text, or a placeholder. */
type Part = string | { placeholder: Placeholder };

const OPS: readonly Op[] = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'MANUAL', 'READ'];

/** What a broker accepts in the names it is given (a NATS subject, a routing key, a stream key). */
export interface NameRules {
  /** What the name is called in errors: `subject template`. */
  what: string;
  placeholders: readonly Placeholder[];
  /** Why the whole template is refused before it is split (empty, too long), or null. */
  whole(template: string): string | null;
  /** Why a piece of literal text between placeholders is refused, or null. */
  literal(piece: string): string | null;
}

/** Splits a template into literal text and placeholders, or says what is wrong with it. */
function parse(template: string, rules: NameRules): Part[] | string {
  const whole = rules.whole(template);
  if (whole !== null) return whole;
  const parts: Part[] = [];
  for (const piece of template.split(/(\{[^{}]*\})/)) {
    if (piece === '') continue;
    if (piece.startsWith('{')) {
      const placeholder = rules.placeholders.find((known) => known === piece);
      if (placeholder === undefined)
        return `unknown placeholder ${piece} (expected ${listed(rules.placeholders)})`;
      parts.push({ placeholder });
    } else {
      const problem = rules.literal(piece);
      if (problem !== null) return problem;
      parts.push(piece);
    }
  }
  return parts;
}

/** `{schema}, {table} or {op}`. */
function listed(placeholders: readonly Placeholder[]): string {
  return placeholders.length === 1
    ? (placeholders[0] as string)
    : `${placeholders.slice(0, -1).join(', ')} or ${placeholders.at(-1)}`;
}

/** Why `template` is not usable under `rules`, or null when it is. */
export function nameTemplateProblem(template: string, rules: NameRules): string | null {
  const parts = parse(template, rules);
  return typeof parts === 'string' ? parts : null;
}

/**
 * A sink's name template with each schema and table name escaped to one token (name-token.ts), rendered
 * once per table and operation: a relation's names are kept as long as Postgres's description of the
 * table (which every event of it shares) is alive.
 */
export class NameTemplate {
  readonly #parts: Part[];
  readonly #byOp: boolean;
  readonly #rendered = new WeakMap<TableName, string[]>();

  constructor(template: string, rules: NameRules) {
    const parts = parse(template, rules);
    if (typeof parts === 'string') throw new RangeError(`${rules.what} "${template}": ${parts}`);
    this.#parts = parts;
    this.#byOp = parts.some((part) => typeof part !== 'string' && part.placeholder === '{op}');
  }

  /** `op` only matters to a template with `{op}`. */
  render(relation: TableName, op: Op = 'INSERT'): string {
    let names = this.#rendered.get(relation);
    if (names === undefined) {
      names = this.#byOp ? OPS.map((each) => this.#fill(relation, each)) : [this.#fill(relation, op)];
      this.#rendered.set(relation, names);
    }
    return (this.#byOp ? names[OPS.indexOf(op)] : names[0]) as string;
  }

  #fill(relation: TableName, op: Op): string {
    let name = '';
    for (const part of this.#parts) {
      if (typeof part === 'string') name += part;
      else if (part.placeholder === '{schema}') name += nameToken(relation.schema);
      else if (part.placeholder === '{table}') name += nameToken(relation.name);
      else name += op.toLowerCase();
    }
    return name;
  }
}
