import type { DeliveryEvent } from '../../core/delivery-event.js';
import type { TableName } from '../../core/table-name.js';
import { nameToken } from '../name-token.js';

export const DEFAULT_ROUTING_KEY = '{schema}.{table}.{op}';
/** AMQP 0-9-1 carries a routing key as a short string: 255 bytes at most. */
export const MAX_ROUTING_KEY_BYTES = 255;

const PLACEHOLDERS = ['{schema}', '{table}', '{op}'];
/** Literal text, or the index of a placeholder in PLACEHOLDERS. */
type Part = string | number;
type Op = DeliveryEvent['op'];

const OPS: readonly Op[] = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'MANUAL', 'READ'];
const OP_WORDS: readonly string[] = OPS.map((op) => op.toLowerCase());

/**
 * A schema or table name as one word of a topic routing key. A topic exchange splits keys at `.`, and a
 * consumer's binding treats `*` and `#` as wildcards, but Postgres names may hold anything: percent-encoding
 * every byte outside `A-Z a-z 0-9 _ -` (`%` included) keeps each name one word and the mapping reversible.
 * It is the NATS sink's escaping of subject tokens, so a consumer of both decodes names alike.
 */
export function routingWord(name: string): string {
  return nameToken(name);
}

/** Splits a template into literal text and placeholders, or says what is wrong with it. */
function parse(template: string): Part[] | string {
  if (Buffer.byteLength(template) > MAX_ROUTING_KEY_BYTES)
    return `longer than ${MAX_ROUTING_KEY_BYTES} bytes, the most AMQP carries`;
  const parts: Part[] = [];
  for (const piece of template.split(/(\{[^{}]*\})/)) {
    if (piece === '') continue;
    if (piece.startsWith('{')) {
      const placeholder = PLACEHOLDERS.indexOf(piece);
      if (placeholder < 0) return `unknown placeholder ${piece} (expected {schema}, {table} or {op})`;
      parts.push(placeholder);
    } else if (/[{}]/.test(piece)) {
      return '{ and } only around {schema}, {table} and {op}';
    } else {
      parts.push(piece);
    }
  }
  return parts;
}

/** Why `template` is not a usable routing key template, or null when it is. */
export function routingKeyProblem(template: string): string | null {
  const parts = parse(template);
  return typeof parts === 'string' ? parts : null;
}

/**
 * A trigger's routing key template, rendered once per table and operation: a relation's keys are kept as
 * long as Postgres's description of the table (which every event of it shares) is alive.
 */
export class RoutingKeyTemplate {
  readonly #parts: Part[];
  readonly #rendered = new WeakMap<TableName, string[]>();

  constructor(template: string) {
    const parts = parse(template);
    if (typeof parts === 'string') throw new RangeError(`routing key template "${template}": ${parts}`);
    this.#parts = parts;
  }

  render(relation: TableName, op: Op): string {
    let keys = this.#rendered.get(relation);
    if (keys === undefined) {
      keys = OP_WORDS.map((word) => this.#fill(relation, word));
      this.#rendered.set(relation, keys);
    }
    return keys[OPS.indexOf(op)] as string;
  }

  #fill(relation: TableName, op: string): string {
    let key = '';
    for (const part of this.#parts) {
      if (typeof part === 'string') key += part;
      else key += [routingWord(relation.schema), routingWord(relation.name), op][part];
    }
    return key;
  }
}
