import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJson } from '../../src/core/json.js';
import {
  compileKriti,
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

test('JSON is a template that renders itself', () => {
  const text = '{"a": [1, 2.5, -3, true, false, null, "s", {}, []], "b": {"c": "d\\n\\u00e9\\"\\\\"}, "": 0}';
  assert.deepEqual(run(text), parseJson(text));
  assert.equal(run('"hello"'), 'hello');
  assert.equal(run('""'), '');
  assert.equal(run('  42  '), 42);
  assert.equal(run('null'), null);
});

test('a key written twice keeps its first value, as Kriti does', () => {
  assert.deepEqual(run('{"a": 1, "a": 2}'), { a: 1 });
});

test('values are interpolated anywhere a value can be', () => {
  assert.deepEqual(run('{"id": {{ $body.event.data.new.id }}, "all": [{{$body.event.op}}, {{ 2 }}]}', vars), {
    id: 7,
    all: ['INSERT', 2],
  });
  assert.equal(run('{{ {{ 1 }} }}'), 1);
  assert.deepEqual(run('{{ {"a": [1, {{ true }}]} }}'), { a: [1, true] });
});

test('paths: dots, quoted keys, indexes, expressions as keys, hyphens in names', () => {
  const v = { ...vars, $k: 'name', $i: 1, 'x-y': { a: 1 } };
  assert.equal(run("{{ $body.event.data.new['odd key'] }}", v), 1);
  assert.equal(run('{{ $body.event.data.new.tags[1] }}', v), 'y');
  assert.equal(run('{{ $body.event.data.new.nested.deep[$i] }}', v), 20);
  assert.equal(run('{{ $body.event.data.new[$k] }}', v), 'Ada');
  assert.equal(run('{{ $body.event.data.new["name"] }}', v), 'Ada');
  assert.equal(run('{{ x-y.a }}', v), 1);
  assert.equal(run('{{ [1, 2, 3][2] }}'), 3);
  assert.equal(run('{{ {"a": {"b": 5} }.a.b }}'), 5);
  assert.equal(run('{{ [1, 2][1.0] }}'), 2, 'an integral number is an index');
  assert.equal(run('{{ $ }}', { $: 'bare dollar' }), 'bare dollar');
});

test('a missing key, variable or index is an error at the path, naming it', () => {
  fails(
    KritiEvalError,
    '{{ $body.event.data.new.missing }}',
    1,
    4,
    /^\$body\.event\.data\.new\.missing: no such key/,
  );
  fails(KritiEvalError, '{\n  "a":\n    {{ $body.nope }}\n}', 3, 8, /^\$body\.nope: no such key/);
  fails(KritiEvalError, '{{ $nobody }}', 1, 4, /^\$nobody: no such variable/);
  fails(KritiEvalError, '{{ constructor }}', 1, 4, /^constructor: no such variable/);
  fails(KritiEvalError, "{{ $body['toString'] }}", 1, 4, /no such key/);
  fails(
    KritiEvalError,
    '{{ $body.event.data.new.tags[2] }}',
    1,
    4,
    /tags\[2\]: index out of range \(2 items\)/,
  );
  fails(KritiEvalError, '{{ $body.event.data.new.tags[-1] }}', 1, 4, /index out of range/);
  fails(
    KritiEvalError,
    '{{ $body.event.data.new.tags[0.5] }}',
    1,
    4,
    /an array index must be an integer, got a number/,
  );
  fails(
    KritiEvalError,
    '{{ $body.event.data.new.tags["0"] }}',
    1,
    4,
    /an array index must be an integer, got a string/,
  );
  fails(KritiEvalError, '{{ $body.event.data.new.tags.x }}', 1, 4, /tags: expected an object, got an array/);
  fails(
    KritiEvalError,
    '{{ $body.event.data.old.id }}',
    1,
    4,
    /^\$body\.event\.data\.old: expected an object, got null/,
  );
  fails(KritiEvalError, '{{ $body.event[1] }}', 1, 4, /an object's key must be a string, got a number/);
});

test('optional lookups give null for what is missing, and stop at the first miss', () => {
  assert.equal(run('{{ $body?.nope }}', vars), null);
  assert.equal(run("{{ $body?['nope'] }}", vars), null);
  assert.equal(run('{{ $body?.nope.deeper.still }}', vars), null);
  assert.equal(run('{{ $body.event.data.new.tags?[5] }}', vars), null);
  assert.equal(run('{{ $body.event.data.new.tags?[-1] }}', vars), null);
  assert.equal(run('{{ $body.event.data.new.tags?.x }}', vars), null, 'a name into an array misses');
  assert.equal(run('{{ $body.event?[0] }}', vars), null, 'an index into an object misses');
  assert.equal(run('{{ $body?.event.data.new.name }}', vars), 'Ada');
  assert.equal(run('{{ $body.event.data.old?.id }}', vars), null, 'a lookup on null is null');
  assert.equal(run('{{ $body.event.data.new.tags?[1] }}', vars), 'y');
  assert.equal(run('{{ $body?.event?.data?.new?.id }}', vars), 7);
});

test('`x?` makes a failing path or an unbound variable null, but a scalar target is an error', () => {
  assert.equal(run('{{ $unbound? }}'), null);
  assert.equal(run('{{ $body.a.b.c? }}', vars), null, 'the error of the required lookups before ? is caught');
  assert.equal(run('{{ $unbound?.x }}'), null);
  assert.deepEqual(run('{{ $body.event.data.new.tags? }}', vars), ['x', 'y']);
  fails(
    KritiEvalError,
    '{{ $body.event.op?.x }}',
    1,
    4,
    /^\$body\.event\.op: expected an object or an array, got a string/,
  );
  fails(KritiEvalError, '{{ $s? }}', 1, 4, /expected an object or an array, got a string/, { $s: 'text' });
  // A key expression is evaluated, and fails, even past a miss.
  fails(KritiEvalError, '{{ $body?.nope[$unbound] }}', 1, 16, /\$unbound: no such variable/);
});

test('?? replaces null only, and chains through parentheses', () => {
  assert.equal(run('{{ null ?? true }}'), true);
  assert.equal(run('{{ false ?? true }}'), false);
  assert.equal(run('{{ 0 ?? 1 }}'), 0);
  assert.equal(run('{{ "" ?? "x" }}'), '');
  assert.equal(run('{{ $body?.nope ?? "default" }}', vars), 'default');
  assert.equal(run('{{ ($body?.a ?? $body?.b) ?? "third" }}', vars), 'third');
  assert.equal(run('{{ ($body?.a ?? $body.event.op) ?? "third" }}', vars), 'INSERT');
  assert.equal(run('"foo={{$bar? ?? ""}}"'), 'foo=');
  fails(KritiEvalError, '{{ $body.nope ?? 1 }}', 1, 4, /no such key/, vars);
  fails(KritiSyntaxError, '{{ null ?? null ?? 1 }}', 1, 17, /operators do not chain: \(a \?\? b\) \?\? c/);
});

test('if, elif, else pick the first true branch; a condition must be a boolean', () => {
  const branches =
    '{{ if $n == 1 }} "one" {{ elif $n == 2 }} "two" {{ elif $n == 3 }} "three" {{ else }} "many" {{ end }}';
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => run(branches, { $n: n })),
    ['one', 'two', 'three', 'many'],
  );
  assert.deepEqual(run('{"a": {{ if true }} {"x": 1} {{ else }} [] {{ end }}}'), { a: { x: 1 } });
  assert.equal(run('{{ if true }} {{ if false }} 1 {{ else }} 2 {{ end }} {{ else }} 3 {{ end }}'), 2);
  assert.equal(run('{{ if true }}{{ $body.event.op }}{{ else }}{{ $unbound }}{{ end }}', vars), 'INSERT');
  fails(
    KritiEvalError,
    '{{ if $body.event.op }} 1 {{ else }} 2 {{ end }}',
    1,
    7,
    /\$body\.event\.op: a condition must be a boolean, got a string/,
  );
  fails(
    KritiEvalError,
    '{{ if false }} 1 {{ elif null }} 2 {{ else }} 3 {{ end }}',
    1,
    26,
    /a condition must be a boolean, got null/,
  );
});

test('range maps an array to an array, with the index or _; nested ranges see the outer binders', () => {
  assert.deepEqual(run('{{ range i, x := [10, 20] }} [{{ i }}, {{ x }}] {{ end }}'), [
    [0, 10],
    [1, 20],
  ]);
  assert.deepEqual(run('{{ range _, x := [] }} {{ x }} {{ end }}'), []);
  assert.deepEqual(
    run(
      '{{ range i, row := [[1, 2], [3]] }} {{ range j, cell := row }} "{{i}}.{{j}}={{cell}}" {{ end }} {{ end }}',
    ),
    [['0.0=1', '0.1=2'], ['1.0=3']],
  );
  // A binder shadows a variable of the same name inside the body only.
  assert.deepEqual(run('[{{ range _, $x := [1] }} {{ $x }} {{ end }}, {{ $x }}]', { $x: 'outer' }), [
    [1],
    'outer',
  ]);
  // Index and item named alike: the name is the index, as in Kriti.
  assert.deepEqual(run('{{ range x, x := ["a", "b"] }} {{ x }} {{ end }}'), [0, 1]);
  // Inside an array literal a range is one item, an array (Kriti does not splice).
  assert.deepEqual(run('["a", {{ range _, x := [1, 2] }} {{ x }} {{ end }}, "b"]'), ['a', [1, 2], 'b']);
  fails(
    KritiEvalError,
    '{{ range i, x := {"a": 1} }} {{ x }} {{ end }}',
    1,
    18,
    /range wants an array, got an object/,
  );
  fails(KritiEvalError, '{{ range i, x := $body.event.op }} {{ x }} {{ end }}', 1, 18, /got a string/);
  fails(
    KritiEvalError,
    '[{{ range i, x := [1] }} {{ x }} {{ end }}, {{ x }}]',
    1,
    48,
    /^x: no such variable/,
  );
});

test('== and != compare JSON values: numbers by value, objects whatever their order', () => {
  assert.equal(run('{{ 1 == 1.0 }}'), true);
  assert.equal(run('{{ 1 == "1" }}'), false);
  assert.equal(run('{{ null == null }}'), true);
  assert.equal(run('{{ {"a": 1, "b": [1, 2]} == {"b": [1, 2.0], "a": 1} }}'), true);
  assert.equal(run('{{ [1, 2] == [2, 1] }}'), false);
  assert.equal(run('{{ $body.event.data.new.tags != ["x", "y"] }}', vars), false);
  assert.equal(run('{{ $body.event.data.old == null }}', vars), true);
});

test('orderings compare numbers, strings and any two values as aeson orders them', () => {
  assert.deepEqual(run('[{{ 1 < 2 }}, {{ 2 > 1 }}, {{ 2 <= 2 }}, {{ 1 >= 2 }}, {{ -1.5 < -1 }}]'), [
    true,
    true,
    true,
    false,
    true,
  ]);
  assert.deepEqual(run('[{{ "a" < "b" }}, {{ "B" < "a" }}, {{ "ab" > "a" }}, {{ "\uffff" < "😀" }}]'), [
    true,
    true,
    true,
    true,
  ]);
  assert.deepEqual(run('[{{ [1, 2] < [1, 3] }}, {{ [1] < [1, 0] }}, {{ false < true }}]'), [
    true,
    true,
    true,
  ]);
  // Across kinds: object < array < string < number < boolean < null.
  assert.deepEqual(run('[{{ {} < [] }}, {{ [] < "" }}, {{ "z" < 0 }}, {{ 9 < false }}, {{ true < null }}]'), [
    true,
    true,
    true,
    true,
    true,
  ]);
  assert.equal(run('{{ 1 > true }}'), false);
});

test('&& and || want booleans on both sides and evaluate both', () => {
  assert.deepEqual(run('[{{ true && false }}, {{ true || false }}, {{ (1 < 2) && (2 < 3) }}]'), [
    false,
    true,
    true,
  ]);
  assert.equal(run('{{ ((true && true) && true) || false }}'), true);
  fails(KritiEvalError, '{{ true && 1 }}', 1, 4, /&& wants booleans on both sides, got a number/);
  fails(KritiEvalError, '{{ null || true }}', 1, 4, /\|\| wants booleans on both sides, got null/);
  fails(KritiEvalError, '{{ true || $missing }}', 1, 12, /\$missing: no such variable/);
  fails(KritiSyntaxError, '{{ a && b && c }}', 1, 11, /in Kriti operators do not chain: \(a && b\) && c/);
});

test('in looks for a key in an object or an equal item in an array', () => {
  assert.deepEqual(
    run(
      '[{{ "a" in {"a": 1} }}, {{ "b" in {"a": 1} }}, {{ 2 in [1, 2.0] }}, {{ [1] in [[1]] }}, {{ 3 in [] }}]',
    ),
    [true, false, true, true, false],
  );
  assert.equal(run('{{ "name" in $body.event.data.new }}', vars), true);
  fails(
    KritiEvalError,
    '{{ 1 in {"a": 1} }}',
    1,
    4,
    /in: an object is searched by key, a string, got a number/,
  );
  fails(
    KritiEvalError,
    '{{ "a" in "abc" }}',
    1,
    4,
    /in: expected an array or an object on the right, got a string/,
  );
});

test('not negates a boolean, as prefix or call; calls take one argument', () => {
  assert.deepEqual(run('[{{ not true }}, {{ not(false) }}, {{ not (1 == 2) }}, {{ not 1 == 1 }}]'), [
    false,
    true,
    true,
    false,
  ]);
  fails(KritiEvalError, '{{ not 1 }}', 1, 8, /^not: expected a boolean, got a number/);
  fails(
    KritiSyntaxError,
    '{{ size(1, 2) }}',
    1,
    10,
    /unexpected ',' \(expected '\)' to close the call of size\)/,
  );
  fails(KritiSyntaxError, '{{ size() }}', 1, 9, /unexpected '\)' \(expected a value\)/);
  fails(
    KritiSyntaxError,
    '{{ size(x) > 1 }}',
    1,
    12,
    /a call is an operand only in parentheses: \(f\(x\)\) > y/,
  );
  assert.equal(run('{{ (size([1, 2])) > 1 }}'), true);
  fails(KritiEvalError, '{{ nosuch(1) }}', 1, 4, /^nosuch: no such function/);
});

test('string interpolation: strings as they are, other values as compact JSON with sorted keys', () => {
  assert.equal(run('"hello {{ $body.event.data.new.name }}!"', vars), 'hello Ada!');
  assert.equal(run('"{{1}}{{true}}{{null}}{{1.5}}{{"s"}}"'), '1truenull1.5s');
  assert.equal(
    run('"obj: {{ {"b": 1, "a": [true, null, "q\\"\\n"]} }}"'),
    'obj: {"a":[true,null,"q\\"\\n"],"b":1}',
  );
  assert.equal(run('"{{ $body.event.data.new.tags }}"', vars), '["x","y"]');
  assert.equal(run('"a{{ "b{{ "c" }}d" }}e"'), 'abcde');
  assert.equal(run('"{{ $v }}"', { $v: { z: 1, Z: 2, é: 3 } }), '{"Z":2,"z":1,"é":3}');
  assert.equal(
    run('"{{ $v }}"', { $v: '\u0001\b\f\t<>&\u2028' }),
    '\u0001\b\f\t<>&\u2028',
    'a string goes in raw',
  );
  assert.equal(
    run('"{{ [$v] }}"', { $v: '\u0001\b\f\t\u007f' }),
    '["\\u0001\\u0008\\u000c\\t\u007f"]',
    "aeson's escapes",
  );
  assert.equal(run('"{{ $v }}"', { $v: 'half \ud800 surrogate' }), 'half \ud800 surrogate');
  assert.equal(run('"{{ [$v] }}"', { $v: 'half \ud800' }), '["half \ufffd"]');
});
