import fc from 'fast-check';

/** Inputs for fuzzing the config loader: hostile YAML text and mutations of a valid config. */

/** A config using most features; `${file:admin-token}` needs that file next to it. */
export const VALID = `source:
  connection: postgres://walhook:pw@localhost:5432/app
  slot: walhook_fuzz
  sslmode: require
server:
  port: \${PORT:-9187}
  admin_token: \${file:admin-token}
triggers:
  - name: orders
    table: public.orders
    operations: [insert, update]
    columns: [id, total]
    webhook: https://example.com/hook
    headers:
      Authorization: Bearer \${TOKEN}
      X-Literal: "$\${not replaced}"
    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
    retry: { num_retries: 3, final_statuses: [410, "4xx"] }
    batch: { max_events: 10 }
    where: { _and: [{ new: { total: { _gt: 100 } } }, { old: { id: { _in: [1, 2, 3] } } }] }
  - name: audit
    table: '"Audit"."Log"'
    operations: [delete]
    sink: { type: nats, servers: [nats://localhost:4222] }
`;

export const VALID_LINES = VALID.split('\n');

/** Values that have broken YAML loaders: tags, anchors, huge numbers, references, prototype keys. */
export const nastyScalar = fc.constantFrom(
  '!!binary aGVsbG8=',
  '!!set { a, b }',
  '!!omap [ a: 1 ]',
  '!!timestamp 2001-12-14t21:59:43.10-05:00',
  '!!float .nan',
  '!!int 0x1F',
  '!!str 1',
  '!!null ""',
  '!custom x',
  '!<tag:yaml.org,2002:js/function> "function(){}"',
  '&a [*a]',
  '*undefined_alias',
  '1e400',
  '-1e400',
  '123456789012345678901234567890',
  '0x7FFFFFFFFFFFFFFFFFFF',
  '.inf',
  '~',
  `\${TOKEN}`,
  `\${UNSET}`,
  `\${UNSET:-fallback}`,
  `\${EMPTY:-}`,
  `\${NUMBER}`,
  `\${`,
  `\${}`,
  `\${A:-\${B}}`,
  `$\${TOKEN}`,
  `\${file:admin-token}`,
  `\${file:missing-file}`,
  `\${file:/dev/null}`,
  `\${file:/dev/zero}`,
  `\${file:.}`,
  `\${file:}`,
  '__proto__',
  '{ __proto__: { polluted: true } }',
  '{ constructor: { prototype: { polluted: true } } }',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
  '['.repeat(3000) + ']'.repeat(3000),
  `${'{a: '.repeat(200)}1${'}'.repeat(200)}`,
  `${'{_not: '.repeat(100)}{a: {_eq: 1}}${'}'.repeat(100)}`,
  '"\\u0000\\ud800"',
  "'multi\n  line'",
  '|\n  block\n  text',
  '? complex key\n: value',
  '- list',
  '---\nsecond: document',
  '%YAML 1.1\n---\na: 1',
  '<<: *merge',
  'x'.repeat(100_000),
);

const key = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'pipelines',
    'source',
    'name',
    `\${TOKEN}`,
  ),
  fc.string({ maxLength: 12 }),
);

const jsonValueText = fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? 'null');

/** One edit of the valid config's lines. */
const lineMutation: fc.Arbitrary<(lines: string[]) => string[]> = fc.oneof(
  fc.nat().map((i) => (ls: string[]) => ls.filter((_, j) => j !== i % ls.length)),
  fc.nat().map((i) => (ls: string[]) => {
    const at = i % ls.length;
    return [...ls.slice(0, at + 1), ls[at] as string, ...ls.slice(at + 1)];
  }),
  fc.tuple(fc.nat(), fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 4 })).map(
    ([i, pos, chars]) =>
      (ls: string[]) =>
        ls.map((line, j) => {
          if (j !== i % ls.length) return line;
          const at = pos % (line.length + 1);
          return line.slice(0, at) + chars + line.slice(at);
        }),
  ),
  fc.tuple(fc.nat(), key).map(
    ([i, name]) =>
      (ls: string[]) =>
        ls.map((line, j) => (j === i % ls.length ? line.replace(/[\w-]+(?=:)/, name) : line)),
  ),
  fc.tuple(fc.nat(), fc.oneof(jsonValueText, nastyScalar)).map(
    ([i, value]) =>
      (ls: string[]) =>
        ls.map((line, j) => (j === i % ls.length ? line.replace(/:\s.*$/, `: ${value}`) : line)),
  ),
  fc.tuple(fc.nat(), fc.nat({ max: 8 })).map(
    ([i, spaces]) =>
      (ls: string[]) =>
        ls.map((line, j) => (j === i % ls.length ? `${' '.repeat(spaces)}${line.trimStart()}` : line)),
  ),
);

/** The valid config with one to five line edits. */
export const mutatedText = fc
  .array(lineMutation, { minLength: 1, maxLength: 5 })
  .map((mutations) => mutations.reduce((ls, mutate) => mutate(ls), VALID_LINES).join('\n'));

/** A path into the valid config's object and a value to put there (or delete, for undefined). */
export const structureMutation = fc.tuple(
  fc.array(fc.oneof(fc.nat({ max: 3 }), key), { minLength: 1, maxLength: 4 }),
  fc.oneof(
    fc.anything({ maxDepth: 3, withBigInt: true, withNullPrototype: true, withMap: true, withSet: true }),
    fc.constant(undefined),
  ),
);

export function mutateAt(root: unknown, path: (string | number)[], value: unknown): void {
  let node = root as Record<string | number, unknown>;
  for (const [index, step] of path.entries()) {
    const keys = Object.keys(node);
    // A number picks an existing key, so mutations reach deep into the config, not only its top.
    const name = typeof step === 'number' && keys.length > 0 ? (keys[step % keys.length] as string) : step;
    if (index === path.length - 1) {
      if (value === undefined) delete node[name];
      else Object.defineProperty(node, name, { value, enumerable: true, writable: true, configurable: true });
      return;
    }
    // Own keys only: following `__proto__` would reach Object.prototype and pollute the test itself.
    const next = Object.hasOwn(node, name) ? node[name] : undefined;
    if (typeof next !== 'object' || next === null) return;
    node = next as Record<string | number, unknown>;
  }
}
