import { type NameRules, NameTemplate, nameTemplateProblem } from '../name-template.js';

export const DEFAULT_ROUTING_KEY = '{schema}.{table}.{op}';
/** AMQP 0-9-1 carries a routing key as a short string: 255 bytes at most. */
export const MAX_ROUTING_KEY_BYTES = 255;

const ROUTING_KEY: NameRules = {
  what: 'routing key template',
  placeholders: ['{schema}', '{table}', '{op}'],
  whole: (template) =>
    Buffer.byteLength(template) > MAX_ROUTING_KEY_BYTES
      ? `longer than ${MAX_ROUTING_KEY_BYTES} bytes, the most AMQP carries`
      : null,
  literal: (piece) => (/[{}]/.test(piece) ? '{ and } only around {schema}, {table} and {op}' : null),
};

/**
 * A schema or table name as one word of a topic routing key. A topic exchange splits keys at `.`, and a
 * consumer's binding treats `*` and `#` as wildcards, but Postgres names may hold anything: percent-encoding
 * every byte outside `A-Z a-z 0-9 _ -` (`%` included) keeps each name one word and the mapping reversible.
 * It is the NATS sink's escaping of subject tokens, so a consumer of both decodes names alike.
 */
export { nameToken as routingWord } from '../name-token.js';

/** Why `template` is not a usable routing key template, or null when it is. */
export const routingKeyProblem = (template: string): string | null =>
  nameTemplateProblem(template, ROUTING_KEY);

/** A trigger's routing key template (see NameTemplate). */
export class RoutingKeyTemplate extends NameTemplate {
  constructor(template: string) {
    super(template, ROUTING_KEY);
  }
}
