import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ExactNumber, JsonSyntaxError, parseJson, stringifyJson } from '../../src/core/json.js';

test('numbers keep every digit: doubles that print back as typed, bigints, and exact text for the rest', () => {
  const value = parseJson(
    '{"safe": 42, "half": 0.5, "big": 9007199254740993, "neg": -123456789012345678901234567890, "dec": 1.10, "long": 0.10000000000000000001, "exp": 1e400, "zero": -0}',
  ) as Record<string, unknown>;
  assert.equal(value.safe, 42);
  assert.equal(value.half, 0.5);
  assert.equal(value.big, 9007199254740993n);
  assert.equal(value.neg, -123456789012345678901234567890n);
  assert.deepEqual(value.dec, new ExactNumber('1.10'));
  assert.deepEqual(value.long, new ExactNumber('0.10000000000000000001'));
  assert.deepEqual(value.exp, new ExactNumber('1e400'));
  assert.deepEqual(value.zero, new ExactNumber('-0'));
  assert.equal(
    stringifyJson(value),
    '{"safe":42,"half":0.5,"big":9007199254740993,"neg":-123456789012345678901234567890,"dec":1.10,"long":0.10000000000000000001,"exp":1e400,"zero":-0}',
  );
});

test('everything JSON.parse reads, parseJson reads alike (numbers aside), and stringifyJson writes alike', () => {
  fc.assert(
    fc.property(fc.json(), (text) => {
      const ours = parseJson(text);
      // Compare through our own writer: a number whose text differs from its double's is kept as text.
      assert.deepEqual(JSON.parse(stringifyJson(ours)), JSON.parse(text));
      const plain = JSON.parse(text);
      assert.equal(stringifyJson(plain), JSON.stringify(plain));
    }),
    { numRuns: 500 },
  );
});

test('malformed JSON is a JsonSyntaxError naming the position; duplicate keys are refused', () => {
  const cases: [string, RegExp][] = [
    ['{"id": 1,}', /expected a key in double quotes at position 9/],
    ['{id: 1}', /expected a key in double quotes at position 1/],
    ['{"id": 1, "id": 2}', /duplicate key "id" at position 10/],
    ['[1 2]', /expected ',' or '\]' at position 3/],
    ['"a\u0001"', /control character/],
    ['01', /unexpected text after the JSON value at position 1/],
    ['', /unexpected end of input at position 0/],
    ['"abc', /unterminated string at position 0/],
    ['tru', /unexpected word/],
    ['[1] x', /unexpected text after the JSON value/],
    ['[-]', /malformed number at position 1/],
    ['"\\x"', /unknown escape \\x/],
    [`${'['.repeat(200)}${']'.repeat(200)}`, /nested more than 128 levels deep/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(
      () => parseJson(text),
      (err: unknown) => err instanceof JsonSyntaxError && expected.test(err.message),
      text,
    );
  }
});

test('"__proto__" is an own key, as JSON.parse makes it, never the prototype', () => {
  const value = parseJson('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.deepEqual(Object.keys(value), ['__proto__']);
  assert.equal((value as { polluted?: boolean }).polluted, undefined);
});
