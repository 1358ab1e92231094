import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExactNumber, parseJson } from '../../src/core/json.js';
import {
  BUILTIN_FUNCTIONS,
  compileKriti,
  compileKritiString,
  environmentFunctions,
  KritiEvalError,
  KritiFunctionError,
  type KritiFunctions,
  type KritiVariables,
} from '../../src/triggers/kriti/index.js';

const run = (source: string, variables: KritiVariables = {}, functions?: KritiFunctions) =>
  compileKriti(source).evaluate(variables, functions);

function fails(source: string, column: number, problem: RegExp, variables: KritiVariables = {}) {
  assert.throws(
    () => run(source, variables),
    (error: unknown) => {
      assert.ok(error instanceof KritiEvalError, `${source}: ${String(error)}`);
      assert.equal(error.column, column, `${source}: ${error.message}`);
      assert.match(error.problem, problem, source);
      return true;
    },
  );
}

test('the functions are kriti-lang basicFuncMap and Hasura getSessionVariable', () => {
  assert.deepEqual(
    [...BUILTIN_FUNCTIONS.keys()].sort(),
    [
      'concat',
      'empty',
      'escapeUri',
      'fromPairs',
      'getSessionVariable',
      'head',
      'inverse',
      'not',
      'removeNulls',
      'size',
      'tail',
      'toCaseFold',
      'toLower',
      'toPairs',
      'toTitle',
      'toUpper',
    ].sort(),
  );
});

// The function reference of Hasura's Kriti page (api-reference/kriti-templating), input and output as there.
test("Hasura's documented function examples render what the documentation shows", () => {
  const examples: [string, string][] = [
    [
      '{"object": {{ empty({"a": 1}) }}, "string": {{ empty("") }}, "array": {{ empty([1]) }} }',
      '{"array": false, "object": false, "string": true}',
    ],
    [
      '{"object": {{ size({"a": 1}) }}, "string": {{ size("asdf") }}, "array": {{ size([1]) }} }',
      '{"array": 1, "object": 1, "string": 4}',
    ],
    [
      '{"string": {{ inverse("asdf") }}, "array": {{ inverse([1,2,3]) }}, "number": {{ inverse(4) }} }',
      '{"array": [3, 2, 1], "number": 0.25, "string": "fdsa"}',
    ],
    ['{"string": {{ head("asdf") }}, "array": {{ head([1,2,3]) }} }', '{"array": 1, "string": "a"}'],
    ['{"string": {{ tail("asdf") }}, "array": {{ tail([1,2,3]) }} }', '{"array": [2, 3], "string": "sdf"}'],
    ['{"string": {{toCaseFold("AbCd")}} }', '{"string": "abcd"}'],
    ['{"string": {{toLower("AbCd")}} }', '{"string": "abcd"}'],
    ['{"string": {{toUpper("AbCd")}} }', '{"string": "ABCD"}'],
    ['{"string": {{toTitle("AbCd")}} }', '{"string": "Abcd"}'],
    ['{"array": {{ fromPairs([["a",1],["b",2]]) }} }', '{"array": {"a": 1, "b": 2}}'],
    ['{"object": {{ toPairs({"a": 1, "b": 2}) }} }', '{"object": [["a", 1], ["b", 2]]}'],
    ['{"array": {{ removeNulls([1,null,3,null,5]) }} }', '{"array": [1, 3, 5]}'],
    [
      '{"arrays": {{ concat([[1,2],[3,4]]) }}, "strings": {{ concat(["abc", "def", "g"]) }}, "objects": {{ concat([{"a":1, "b":2},{"b":3, "c":4} ] ) }} }',
      '{"arrays": [1, 2, 3, 4], "objects": {"a": 1, "b": 3, "c": 4}, "strings": "abcdefg"}',
    ],
    ['{"a": {{ concat([[1,2],[3,4]]) }} }', '{"a": [1, 2, 3, 4]}'],
  ];
  for (const [template, output] of examples) assert.deepEqual(run(template), parseJson(output), template);
});

test("Hasura's documented control flow, optional chaining and defaulting examples", () => {
  const template =
    '{\n  "if" : {{ if something }} 1 {{ else }} 2 {{ end }},\n  "loop": {{ range i, x := [1,2,3] }} ["item", {{ i }}, {{ x }}] {{ end }}\n}';
  assert.deepEqual(run(template, { something: false }), {
    if: 2,
    loop: [
      ['item', 0, 1],
      ['item', 1, 2],
      ['item', 2, 3],
    ],
  });
  assert.deepEqual(run('{ "a": {{ foo }} }', { foo: 1 }), { a: 1 });
  assert.deepEqual(run('{ "a": {{ bar.x }} }', { bar: { x: 2 } }), { a: 2 });
  assert.deepEqual(run('{ "a": {{ bar[\'x\'] }} }', { bar: { x: 2 } }), { a: 2 });
  assert.deepEqual(run('{ "a": {{ bar?.x }} }', { bar: {} }), { a: null });
  assert.deepEqual(run('{ "a": {{ bar?[\'x\'] }} }', { bar: {} }), { a: null });
  assert.deepEqual(run('{ "a": {{ bar?.y ?? 3 }} }', { bar: { x: 2 } }), { a: 3 });
  assert.equal(run('"Hello world {{ 1 }}"'), 'Hello world 1');
});

test("Hasura's event trigger REST connector example body and URL", () => {
  const body = parseJson(
    '{"table": {"name": "users", "schema": "public"}, "event": {"op": "INSERT", "data": {"old": null, "new": {"id": 1, "name": "Ada", "email": "ada@example.com"}}}}',
  );
  const template =
    '{\n  "table": {\n    "name": {{$body.table.name}},\n    "schema": {{$body.table.schema}}\n  },\n  "To": {\n    "username": {{$body.event.data.new.name}},\n    "email": {{$body.event.data.new.email}}\n  }\n}';
  assert.deepEqual(run(template, { $body: body }), {
    table: { name: 'users', schema: 'public' },
    To: { username: 'Ada', email: 'ada@example.com' },
  });
  const url = compileKritiString('{{$base_url}}/api/v3/endpoint');
  assert.equal(
    url.render({ $body: body, $base_url: 'https://api.somedomain.com' }),
    'https://api.somedomain.com/api/v3/endpoint',
  );
});

test("kriti-lang README's transformation examples", () => {
  const source = parseJson(`{"event": {"name": "Freddie Jones", "age": 27, "author": {"articles": [
    {"id": 0, "title": "The Elements", "length": 150, "published": true},
    {"id": 1, "title": "ARRL Handbook", "length": 1000, "published": true},
    {"id": 2, "title": "The Mars Trilogy", "length": 500, "published": false}]}}}`);
  const template = `{"author": {"name": {{$.event.name}}, "age": {{$.event.age}}, "articles":
    {{ range _, x := $.event.author.articles }}
      {{ if x.published }} {"id": {{x.id}}, "title": {{x.title}}} {{ else }} null {{ end }}
    {{ end }} }}`.replace('{{ end }} }}', '{{ end }} } }');
  assert.deepEqual(run(template, { $: source }), {
    author: {
      name: 'Freddie Jones',
      age: 27,
      articles: [{ id: 0, title: 'The Elements' }, { id: 1, title: 'ARRL Handbook' }, null],
    },
  });
});

test('empty: blank strings, zero, null and empty collections; a boolean is an error', () => {
  assert.deepEqual(
    run(
      '[{{ empty("") }}, {{ empty(" \\t\\n") }}, {{ empty("a") }}, {{ empty(0) }}, {{ empty(0.0) }}, {{ empty(-0) }}]',
    ),
    [true, true, false, true, true, true],
  );
  assert.deepEqual(
    run('[{{ empty(1) }}, {{ empty(null) }}, {{ empty({}) }}, {{ empty([]) }}, {{ empty([null]) }}]'),
    [false, true, true, true, false],
  );
  assert.equal(run('{{ empty($v) }}', { $v: new ExactNumber('0.000') }), true);
  fails('{{ empty(true) }}', 10, /^empty: cannot define emptiness for a boolean/);
});

test('size: code points of a string, items, keys, a number itself, 1/0 for booleans, 0 for null', () => {
  assert.deepEqual(
    run(
      '[{{ size("héllo") }}, {{ size("😀a") }}, {{ size("") }}, {{ size([1, [2, 3]]) }}, {{ size({"a": 1, "b": 2}) }}]',
    ),
    [5, 2, 0, 2, 2],
  );
  assert.deepEqual(
    run('[{{ size(12.5) }}, {{ size(true) }}, {{ size(false) }}, {{ size(null) }}]'),
    [12.5, 1, 0, 0],
  );
  assert.equal(run('{{ size($n) }}', { $n: 9007199254740993n }), 9007199254740993n);
});

test('inverse: reverses arrays and strings by code point, negates booleans, leaves objects and null, inverts numbers exactly', () => {
  assert.deepEqual(
    run(
      '[{{ inverse("a😀b") }}, {{ inverse([1, [2]]) }}, {{ inverse(true) }}, {{ inverse({"a": 1}) }}, {{ inverse(null) }}, {{ inverse("") }}]',
    ),
    ['b😀a', [[2], 1], false, { a: 1 }, null, ''],
  );
  assert.deepEqual(
    run(
      '[{{ inverse(4) }}, {{ inverse(0.5) }}, {{ inverse(-8) }}, {{ inverse(1) }}, {{ inverse(1.6) }}, {{ inverse(0.001) }}]',
    ),
    [0.25, 2, -0.125, 1, 0.625, 1000],
  );
  assert.deepEqual(
    run('{{ inverse($n) }}', { $n: 2n ** 80n }),
    new ExactNumber(`0.${'0'.repeat(24)}${(5n ** 80n).toString()}`),
  );
  fails('{{ inverse(3) }}', 12, /^inverse: 1\/3 has no exact decimal value/);
  fails('{{ inverse(0) }}', 12, /^inverse: division by zero/);
  const list = [1, 2, 3];
  run('{{ inverse($l) }}', { $l: list });
  assert.deepEqual(list, [1, 2, 3], 'the argument is not changed');
});

test('head and tail: arrays and strings by code point; empty ones and other kinds are errors', () => {
  assert.deepEqual(
    run('[{{ head("😀x") }}, {{ tail("😀x") }}, {{ head([[1], 2]) }}, {{ tail([1]) }}, {{ tail("a") }}]'),
    ['😀', 'x', [1], [], ''],
  );
  fails('{{ head([]) }}', 9, /^head: empty array/);
  fails('{{ head("") }}', 9, /^head: empty string/);
  fails('{{ head({}) }}', 9, /^head: expected an array or a string, got an object/);
  fails('{{ tail([]) }}', 9, /^tail: empty array/);
  fails('{{ tail("") }}', 9, /^tail: empty string/);
  fails('{{ tail(1) }}', 9, /^tail: expected an array or a string, got a number/);
});

test('case functions follow Data.Text: full mappings, no final sigma, title case per run of letters', () => {
  assert.equal(run('{{ toUpper("straße ﬁx") }}'), 'STRASSE FIX');
  assert.equal(run('{{ toLower("ΟΔΟΣ İ") }}'), 'οδοσ i̇');
  assert.equal(run('{{ toCaseFold("Straße ΟΔΟΣ ς ﬁ ı") }}'), 'strasse οδοσ σ fi ı');
  assert.equal(run('{{ toTitle("hELLO wORLD") }}'), 'Hello World');
  assert.equal(run('{{ toTitle("don\'t stop-me 3rd ǆemal ßa") }}'), "Don'T Stop-Me 3Rd ǅemal Ssa");
  assert.equal(run('{{ toTitle("") }}'), '');
  for (const name of ['toUpper', 'toLower', 'toCaseFold', 'toTitle', 'escapeUri']) {
    fails(`{{ ${name}(1) }}`, 5 + name.length, new RegExp(`^${name}: expected a string, got a number`));
  }
});

test('escapeUri percent-encodes all but ASCII letters, digits and -_.~ as UTF-8', () => {
  assert.equal(run('{{ escapeUri("?foo=bar/baz") }}'), '%3Ffoo%3Dbar%2Fbaz');
  assert.equal(run('{{ escapeUri("a b!*\'()~-_.é😀") }}'), 'a%20b%21%2A%27%28%29~-_.%C3%A9%F0%9F%98%80');
  assert.equal(run('{{ escapeUri("") }}'), '');
  assert.equal(compileKritiString('/u/{{ escapeUri($id) }}').render({ $id: 'a/b c' }), '/u/a%2Fb%20c');
});

test('toPairs and fromPairs: pairs in key order; a repeated key keeps its last value', () => {
  assert.deepEqual(run('{{ toPairs({"b": 1, "a": [2]}) }}'), [
    ['a', [2]],
    ['b', 1],
  ]);
  assert.deepEqual(run('{{ toPairs({}) }}'), []);
  assert.deepEqual(
    run('{{ fromPairs([["a", 1], ["a", 2], ["__proto__", 3]]) }}'),
    JSON.parse('{"a": 2, "__proto__": 3}'),
  );
  assert.deepEqual(run('{{ fromPairs([]) }}'), {});
  assert.deepEqual(run('{{ fromPairs(toPairs($o)) }}', { $o: { x: 1, y: null } }), { x: 1, y: null });
  fails('{{ toPairs([]) }}', 12, /^toPairs: expected an object, got an array/);
  fails('{{ fromPairs([["a"]]) }}', 14, /with string keys/);
  fails('{{ fromPairs([[1, 2]]) }}', 14, /with string keys/);
  fails('{{ fromPairs({}) }}', 14, /expected an array of \[key, value\] pairs, got an object/);
});

test('removeNulls drops null items only; concat joins arrays, strings or objects', () => {
  assert.deepEqual(run('{{ removeNulls([null, 0, false, "", [], null]) }}'), [0, false, '', []]);
  assert.deepEqual(run('{{ removeNulls([]) }}'), []);
  fails('{{ removeNulls(null) }}', 16, /^removeNulls: expected an array, got null/);
  assert.deepEqual(run('{{ concat([]) }}'), []);
  assert.deepEqual(run('{{ concat([[[1]], [], [2]]) }}'), [[1], 2]);
  assert.equal(run('{{ concat(["", "a"]) }}'), 'a');
  assert.deepEqual(run('{{ concat([{"a": 1}, {}, {"a": 2, "b": null}]) }}'), { a: 2, b: null });
  fails('{{ concat([[1], "a"]) }}', 11, /^concat: expected an array of arrays, of strings or of objects/);
  fails('{{ concat("ab") }}', 11, /^concat: expected an array, got a string/);
});

test('getSessionVariable reads $session_variables ignoring case; a missing one is an error', () => {
  const variables = {
    $body: { hello: 'world' },
    $session_variables: { myVariable: 'some value', 'x-hasura-user-id': '42' },
  };
  assert.equal(run('{{ getSessionVariable("myVariable") }}', variables), 'some value');
  assert.equal(run('{{ getSessionVariable("X-Hasura-User-Id") }}', variables), '42');
  assert.equal(run('{{ getSessionVariable(null) }}', variables), null);
  assert.equal(
    compileKritiString('{{$base_url}}/{{ escapeUri(getSessionVariable("x-hasura-user-id")) }}').render({
      ...variables,
      $base_url: 'http://h',
    }),
    'http://h/42',
  );
  fails(
    '{{ getSessionVariable("nope") }}',
    23,
    /^getSessionVariable: session variable "nope" not found/,
    variables,
  );
  fails('{{ getSessionVariable("x") }}', 23, /not found/, { $session_variables: null });
  fails('{{ getSessionVariable(1) }}', 23, /session variable name should be a string/, variables);
  assert.equal(run("{{ $session_variables['x-hasura-user-id'] }}", variables), '42');
});

test('functions given to evaluate are called with the argument and the variables, and may fail', () => {
  const functions: KritiFunctions = {
    twice: (argument) => [argument, argument],
    whoami: (_argument, context) => context.variables.$user,
    picky: () => {
      throw new KritiFunctionError('not today');
    },
    size: () => 'mine',
  };
  assert.deepEqual(run('{{ twice(1) }}', {}, functions), [1, 1]);
  assert.equal(run('{{ whoami(null) }}', { $user: 'ada' }, functions), 'ada');
  assert.equal(run('{{ size([]) }}', {}, functions), 'mine');
  assert.throws(
    () => run('{{ picky(1) }}', {}, functions),
    /^KritiEvalError: line 1 column 10: picky: not today$/,
  );
  assert.throws(() => run('{{ twice(1) }}'), /line 1 column 4: twice: no such function/);
});

test('getEnvironmentVariable is offered only when passed in, and reads the given environment', () => {
  const functions = environmentFunctions({ API_HOST: 'api.example.com' });
  assert.equal(run('{{ getEnvironmentVariable("API_HOST") }}', {}, functions), 'api.example.com');
  assert.equal(run('{{ getEnvironmentVariable("UNSET") }}', {}, functions), null);
  assert.equal(run('{{ getEnvironmentVariable(null) }}', {}, functions), null);
  assert.throws(
    () => run('{{ getEnvironmentVariable(1) }}', {}, functions),
    /environment variable name should be a string/,
  );
  assert.throws(() => run('{{ getEnvironmentVariable("API_HOST") }}'), /no such function/);
});
