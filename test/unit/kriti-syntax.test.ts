import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJson } from '../../src/core/json.js';
import {
  compileKriti,
  compileKritiString,
  KritiEvalError,
  KritiSyntaxError,
  type KritiVariables,
} from '../../src/triggers/kriti/index.js';

const run = (source: string, variables: KritiVariables = {}) => compileKriti(source).evaluate(variables);
const body = parseJson(
  '{"event": {"op": "INSERT", "data": {"old": null, "new": {"id": 7, "name": "Ada", "tags": ["x", "y"], "odd key": 1, "nested": {"deep": [10, 20]}}}}}',
);
const vars = { $body: body };

/** Asserts `source` fails with `Error` at line:column with a message matching `problem`. */
function fails(
  kind: typeof KritiSyntaxError | typeof KritiEvalError,
  source: string,
  line: number,
  column: number,
  problem: RegExp,
  variables: KritiVariables = vars,
) {
  assert.throws(
    () => compileKriti(source).evaluate(variables),
    (error: unknown) => {
      assert.ok(error instanceof kind, `${source}: ${String(error)}`);
      assert.equal(`${error.line}:${error.column}`, `${line}:${column}`, `${source}: ${error.message}`);
      assert.match(error.problem, problem, source);
      assert.equal(error.message, `line ${line} column ${column}: ${error.problem}`);
      return true;
    },
  );
}

test("string escapes are JSON's, plus \\{ for a literal brace; a lone { is text", () => {
  assert.equal(run('"a\\{{b"'), 'a{{b');
  assert.equal(run('"{ not a template }"'), '{ not a template }');
  assert.equal(run('"\\u03C3 \\u0041 \\ud83d\\ude00 \\ud83d"'), 'σ A 😀 \ufffd');
  assert.equal(run('"tab\\there\\nnl\\r\\b\\f\\"\\\\"'), 'tab\there\nnl\r\b\f"\\');
  assert.equal(run('"a\\/b"'), 'a\\/b', 'Kriti keeps the backslash of \\/');
  assert.equal(run('"raw\nnewline"'), 'raw\nnewline');
  fails(KritiSyntaxError, '"bad \\x escape"', 1, 6, /unknown escape \\x/);
  fails(KritiSyntaxError, '"\\u12"', 1, 2, /malformed \\u escape/);
});

test('comments run from # to the end of the line outside strings', () => {
  assert.deepEqual(
    run(
      '# a comment\n[1, # another\n 2 {{ # inside an expression\n }}, "# not a comment"]'.replace(
        '2 {{ # inside an expression\n }}',
        '2',
      ),
    ),
    [1, 2, '# not a comment'],
  );
  assert.equal(run('{{ 1 # a comment\n }}'), 1);
});

test("keywords are not names: look such keys up with ['…']", () => {
  assert.equal(run("{{ $v['end'] }}", { $v: { end: 1 } }), 1);
  fails(KritiSyntaxError, '{{ $v.end }}', 1, 7, /'end' is a Kriti keyword: look it up as \['end'\]/);
  fails(KritiSyntaxError, '{{ if }}', 1, 7, /unexpected '}}' \(expected a value\)/);
});

test('parse errors name the place and what was expected', () => {
  fails(
    KritiSyntaxError,
    '{{ $body',
    1,
    9,
    /unexpected end of input \(expected '}}' to close the '\{\{' at line 1 column 1\)/,
  );
  fails(KritiSyntaxError, '{\n  "a": {{ if true }} 1\n}', 3, 1, /unexpected '}'/);
  fails(
    KritiSyntaxError,
    '{{ if true }} 1 {{ end }}',
    1,
    17,
    /an if needs an \{\{ else \}\} branch in Kriti \(the if at line 1 column 1\)/,
  );
  fails(
    KritiSyntaxError,
    '{{ range i, x := [1] }} {{ x }}',
    1,
    32,
    /expected \{\{ end \}\} to close the range at line 1 column 1/,
  );
  fails(KritiSyntaxError, '{{ range i x := [] }} 1 {{ end }}', 1, 12, /unexpected 'x' \(expected ','\)/);
  fails(KritiSyntaxError, '[1, 2', 1, 6, /expected ',' or '\]' to close the array at line 1 column 1/);
  fails(KritiSyntaxError, '{"a" 1}', 1, 6, /expected ':' after the key/);
  fails(KritiSyntaxError, '{"a{{1}}": 1}', 1, 4, /an object key cannot be interpolated/);
  fails(KritiSyntaxError, '"never closed', 1, 14, /unterminated string \(opened at line 1 column 1\)/);
  fails(KritiSyntaxError, '{{ $a ! $b }}', 1, 7, /unexpected character "!" \(Kriti negates with not\(…\)\)/);
  fails(KritiSyntaxError, "{{ $a['x{'] }}", 1, 7, /unterminated key in single quotes/);
  fails(KritiSyntaxError, "{{ $a[''] }}", 1, 7, /expected a key between the quotes/);
  fails(KritiSyntaxError, '{{ else }}', 1, 1, /unexpected \{\{ else \}\} \(expected a value\)/);
  fails(KritiSyntaxError, '1 2', 1, 3, /unexpected '2' \(expected end of input\)/);
  fails(KritiSyntaxError, '', 1, 1, /unexpected end of input \(expected a value\)/);
  fails(KritiSyntaxError, '{{ - }}', 1, 4, /unexpected '-'/);
});

test('inside {{ }}, }} closes the expression: an object literal there ends with } }', () => {
  assert.deepEqual(run('{{ {"a": {"b": 1} } }}'), { a: { b: 1 } });
  fails(
    KritiSyntaxError,
    '{{ {"a": {"b": 1}} }}',
    1,
    17,
    /unexpected '}}' \(expected ',' or '}' to close the object/,
  );
  assert.deepEqual(run('{"a": {"b": 1}}'), { a: { b: 1 } }, 'outside an expression }} is two braces');
});

test('templates nested without end are refused, not a stack overflow', () => {
  const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
  fails(KritiSyntaxError, deep, 1, 101, /nested more than 200 levels deep/);
  const nest = (levels: number) => {
    const value: unknown[] = [];
    let inner = value;
    for (let i = 0; i < levels; i++) {
      const next: unknown[] = [];
      inner.push(next);
      inner = next;
    }
    return value;
  };
  const deepVars = { $deep: nest(5000), $deep2: nest(5000) };
  fails(KritiEvalError, '"{{ $deep }}"', 1, 5, /value nested more than 1000 levels deep/, deepVars);
  fails(KritiEvalError, '{{ $deep == $deep2 }}', 1, 4, /nested more than/, deepVars);
  fails(KritiEvalError, '{{ $deep < $deep2 }}', 1, 4, /nested more than/, deepVars);
  fails(KritiEvalError, '{{ $deep in [$deep2] }}', 1, 4, /nested more than/, deepVars);
});

test('a compiled template is reusable and evaluations do not share state', () => {
  const template = compileKriti('{{ range _, x := $xs }} {"x": {{ x }} } {{ end }}');
  const first = template.evaluate({ $xs: [1, 2] }) as unknown[];
  assert.deepEqual(template.evaluate({ $xs: [3] }), [{ x: 3 }]);
  assert.deepEqual(first, [{ x: 1 }, { x: 2 }]);
  assert.equal(template.source, '{{ range _, x := $xs }} {"x": {{ x }} } {{ end }}');
  assert.deepEqual(
    run('{"__proto__": {{ 1 }}}'),
    JSON.parse('{"__proto__": 1}'),
    '__proto__ is a key like any',
  );
});

test('string templates (url, headers, query) are a string without its quotes', () => {
  const url = compileKritiString(
    '{{$base_url}}/users/{{ $body.event.data.new.id }}?name={{ escapeUri($body.event.data.new.name) }}',
  );
  assert.equal(
    url.render({ ...vars, $base_url: 'https://api.example.com' }),
    'https://api.example.com/users/7?name=Ada',
  );
  assert.equal(compileKritiString('plain').render({}), 'plain');
  assert.equal(compileKritiString('').render({}), '');
  assert.equal(compileKritiString('{{ $body.event.data.new }}').render(vars).startsWith('{"id":7,'), true);
  assert.equal(compileKritiString('say \\"hi\\"').render({}), 'say "hi"');
  assert.throws(
    () => compileKritiString('say "hi"'),
    (error: unknown) =>
      error instanceof KritiSyntaxError &&
      error.line === 1 &&
      error.column === 6 &&
      /a '"' in a string template is written \\"/.test(error.message),
  );
  assert.throws(
    () => compileKritiString('{{ $a '),
    (error: unknown) => error instanceof KritiSyntaxError && error.column === 7,
  );
  assert.throws(
    () => compileKritiString('/x/{{ $body.nope }}').render(vars),
    (error: unknown) => error instanceof KritiEvalError && error.line === 1 && error.column === 7,
  );
});
