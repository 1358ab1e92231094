import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExactNumber, parseJson, stringifyJson } from '../../src/core/json.js';
import { compileKriti, type KritiVariables } from '../../src/triggers/kriti/index.js';

const run = (source: string, variables: KritiVariables = {}) => compileKriti(source).evaluate(variables);

test('numbers in $body keep every digit through a template', () => {
  const body = parseJson(
    '{"id": 9007199254740993, "price": 1.10, "tiny": 1e-400, "neg": -123456789012345678901234567890, "f": 0.5}',
  );
  const out = run(
    '{"id": {{ $body.id }}, "price": {{ $body.price }}, "all": [{{ $body.tiny }}, {{ $body.neg }}, {{ $body.f }}]}',
    { $body: body },
  );
  assert.equal(
    stringifyJson(out),
    '{"all":[1e-400,-123456789012345678901234567890,0.5],"id":9007199254740993,"price":1.10}',
  );
  const looped = run('{{ range _, x := $xs }} {{ x }} {{ end }}', {
    $xs: [9007199254740993n, new ExactNumber('1.10')],
  });
  assert.equal(stringifyJson(looped), '[9007199254740993,1.10]');
});

test('number literals in a template keep every digit too', () => {
  assert.equal(
    stringifyJson(run('[9007199254740993, 1.10, 12345678901234567890.5, 1e400, 0.1, -7, 007, -0]')),
    '[9007199254740993,1.10,12345678901234567890.5,1e400,0.1,-7,7,0]',
  );
});

test('comparisons are exact: neighbours a double cannot tell apart are different', () => {
  const v = { $a: 9007199254740993n, $b: 9007199254740992, $c: new ExactNumber('1.10'), $d: 1.1 };
  assert.deepEqual(
    run(
      '[{{ $a == $b }}, {{ $a > $b }}, {{ $b < $a }}, {{ $c == $d }}, {{ $c >= $d }}, {{ $a == 9007199254740993 }}]',
      v,
    ),
    [false, true, true, true, true, true],
  );
  assert.deepEqual(
    run(
      '[{{ 0.1 < 0.10000000000000000001 }}, {{ 1e400 > 1e399 }}, {{ -1e400 < -1e399 }}, {{ 0 == -0.0 }}, {{ 100 == 1e2 }}]',
    ),
    [true, true, true, true, true],
  );
  assert.deepEqual(run('[{{ 2 in [1, 2.00] }}, {{ [9007199254740993] == [9007199254740992] }}]'), [
    true,
    false,
  ]);
  assert.equal(run('{{ $xs[$i] }}', { $xs: ['a', 'b'], $i: new ExactNumber('1.0') }), 'b');
  assert.equal(run('{{ $xs[$i] }}', { $xs: ['a', 'b'], $i: 1n }), 'b');
});

test('inside a string a number is written as aeson writes it, as Kriti does', () => {
  const cases: [unknown, string][] = [
    [9007199254740993n, '9007199254740993'],
    [-42, '-42'],
    [0, '0'],
    [1.5, '1.5'],
    [new ExactNumber('1.10'), '1.1'],
    [new ExactNumber('1.0'), '1.0'],
    [new ExactNumber('10.0'), '10.0'],
    [new ExactNumber('1e2'), '100'],
    [new ExactNumber('1.5e3'), '1500'],
    [0.25, '0.25'],
    [0.01, '1.0e-2'],
    [-0.0012, '-1.2e-3'],
    [12345678.9, '1.23456789e7'],
    [1234567.5, '1234567.5'],
    [new ExactNumber('-0'), '0'],
    [new ExactNumber('0.000'), '0.0'],
    [1e21, '1000000000000000000000'],
    [new ExactNumber('1e-400'), '1.0e-400'],
  ];
  for (const [value, text] of cases) assert.equal(run('"{{ $n }}"', { $n: value }), text, String(value));
  assert.equal(run('"{{ [1.10, 1e2, 2] }}"'), '[1.1,100,2]');
});
