import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseJson } from '../../src/core/json.js';
import { compileKriti, KritiSyntaxError } from '../../src/triggers/kriti/index.js';

// kriti-lang's own golden tests (test/fixtures/kriti/README.md): the same inputs give the same outputs.
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'kriti');
const read = (...path: string[]) => readFileSync(join(FIXTURES, ...path), 'utf8');
const names = (dir: string) =>
  readdirSync(join(FIXTURES, dir))
    .filter((name) => name.endsWith('.kriti'))
    .map((name) => name.slice(0, -'.kriti'.length));

test("kriti-lang's evaluation examples render its golden outputs", () => {
  const source = parseJson(read('eval', 'source.json'));
  const examples = names('eval');
  assert.equal(examples.length, 34);
  for (const name of examples) {
    const result = compileKriti(read('eval', `${name}.kriti`)).evaluate({ $: source });
    assert.deepEqual(result, parseJson(read('eval', `${name}.json`)), name);
  }
});

test("kriti-lang's parser examples compile", () => {
  const examples = names('parse-success');
  assert.equal(examples.length, 15);
  for (const name of examples)
    assert.doesNotThrow(() => compileKriti(read('parse-success', `${name}.kriti`)), name);
});

test("kriti-lang's parser failures fail where kriti-lang says, at the unexpected token", () => {
  const expected: Record<string, [line: number, column: number, RegExp]> = {
    missingClosingBracket: [1, 11, /unexpected '}' \(expected '}}' to close the '\{\{' at line 1 column 1\)/],
    numAsKey: [1, 3, /unexpected '1' \(expected a key in double quotes\)/],
    trailingCommaInArray: [1, 8, /unexpected '\]' \(expected a value\)/],
  };
  assert.deepEqual(names('parse-failure').sort(), Object.keys(expected).sort());
  for (const [name, [line, column, message]] of Object.entries(expected)) {
    assert.throws(
      () => compileKriti(read('parse-failure', `${name}.kriti`)),
      (error: unknown) =>
        error instanceof KritiSyntaxError &&
        error.line === line &&
        error.column === column &&
        message.test(error.message),
      name,
    );
  }
});
