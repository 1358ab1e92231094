import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonString, rendererFor, TypeOid, valueToJson } from '../../src/source/values.js';

const cases: [string, string, number, string][] = [
  ['int2', '-32768', TypeOid.int2, '-32768'],
  ['int4', '2147483647', TypeOid.int4, '2147483647'],
  ['int8 beyond 2^53 stays exact', '9007199254740993', TypeOid.int8, '9007199254740993'],
  ['int8 minimum', '-9223372036854775808', TypeOid.int8, '-9223372036854775808'],
  [
    'numeric with 40+ digits',
    '12345678901234567890123456789012345678901.5',
    TypeOid.numeric,
    '12345678901234567890123456789012345678901.5',
  ],
  ['numeric with trailing zeros', '-0.000100', TypeOid.numeric, '-0.000100'],
  ['numeric NaN', 'NaN', TypeOid.numeric, '"NaN"'],
  ['numeric Infinity', 'Infinity', TypeOid.numeric, '"Infinity"'],
  ['numeric -Infinity', '-Infinity', TypeOid.numeric, '"-Infinity"'],
  ['float8 exponent', '1.5e+20', TypeOid.float8, '1.5e+20'],
  ['float8 tiny', '1e-300', TypeOid.float8, '1e-300'],
  ['float8 negative zero', '-0', TypeOid.float8, '-0'],
  ['float8 NaN', 'NaN', TypeOid.float8, '"NaN"'],
  ['float8 Infinity', 'Infinity', TypeOid.float8, '"Infinity"'],
  ['float4 -Infinity', '-Infinity', TypeOid.float4, '"-Infinity"'],
  ['float4 fraction', '0.1', TypeOid.float4, '0.1'],
  ['bool true', 't', TypeOid.bool, 'true'],
  ['bool false', 'f', TypeOid.bool, 'false'],
  [
    'json kept byte for byte',
    '{ "a" : 12345678901234567890 }',
    TypeOid.json,
    '{ "a" : 12345678901234567890 }',
  ],
  ['jsonb embedded', '{"a": [1, {"b": null}]}', TypeOid.jsonb, '{"a": [1, {"b": null}]}'],
  ['date', '2026-11-28', TypeOid.date, '"2026-11-28"'],
  ['date BC', '0044-03-15 BC', TypeOid.date, '"0044-03-15 BC"'],
  ['date infinity', 'infinity', TypeOid.date, '"infinity"'],
  ['timestamp', '2026-11-28 12:40:00.123456', TypeOid.timestamp, '"2026-11-28T12:40:00.123456"'],
  ['timestamp BC', '0044-03-15 12:00:01.5 BC', TypeOid.timestamp, '"0044-03-15T12:00:01.5 BC"'],
  ['timestamp -infinity', '-infinity', TypeOid.timestamp, '"-infinity"'],
  [
    'timestamptz half-hour offset',
    '2026-11-28 12:40:00.123456+05:30',
    TypeOid.timestamptz,
    '"2026-11-28T12:40:00.123456+05:30"',
  ],
  [
    'timestamptz whole-hour offset gains minutes',
    '2026-11-28 12:40:00+00',
    TypeOid.timestamptz,
    '"2026-11-28T12:40:00+00:00"',
  ],
  [
    'timestamptz negative offset',
    '2026-01-01 00:00:00-05',
    TypeOid.timestamptz,
    '"2026-01-01T00:00:00-05:00"',
  ],
  [
    'timestamptz offset with seconds',
    '1800-01-01 00:00:00+05:53:28',
    TypeOid.timestamptz,
    '"1800-01-01T00:00:00+05:53:28"',
  ],
  ['timestamptz BC', '0044-03-15 12:00:00+01 BC', TypeOid.timestamptz, '"0044-03-15T12:00:00+01:00 BC"'],
  [
    'timestamptz BC with seconds offset',
    '0044-03-15 12:00:01.5+05:53:28 BC',
    TypeOid.timestamptz,
    '"0044-03-15T12:00:01.5+05:53:28 BC"',
  ],
  ['timestamptz infinity', 'infinity', TypeOid.timestamptz, '"infinity"'],
  ['timestamptz year 10000', '10000-01-01 00:00:00+00', TypeOid.timestamptz, '"10000-01-01T00:00:00+00:00"'],
  ['text', 'héllo 🎉', 25, '"héllo 🎉"'],
  ['uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', TypeOid.uuid, '"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"'],
  ['time stays text', '12:40:00', 1083, '"12:40:00"'],
  ['unknown type is text', '(1,2)', 600, '"(1,2)"'],
];

for (const [name, text, typeOid, expected] of cases) {
  test(`valueToJson: ${name}`, () => {
    assert.equal(valueToJson(text, typeOid), expected);
    assert.equal(rendererFor(typeOid)(text), expected);
  });
}

test('jsonString escapes as escape_json: named escapes, other C0 controls as lowercase \\u00xx', () => {
  assert.equal(jsonString('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(jsonString('\b\f\n\r\t'), '"\\b\\f\\n\\r\\t"');
  assert.equal(jsonString('\u0001\u001f\u000b'), '"\\u0001\\u001f\\u000b"');
});

test('jsonString leaves DEL, U+2028, non-ASCII and astral characters as they are', () => {
  assert.equal(jsonString('\u007f\u2028é😀'), '"\u007f\u2028é😀"');
});

test('float text that is not a JSON number is quoted', () => {
  // Not produced by Postgres's float output, but the rule is IsValidJsonNumber's, not a list of specials.
  for (const text of ['+1', '.5', '1.', '01', '1e', '1e+', '--1', '-', '']) {
    assert.equal(valueToJson(text, TypeOid.float8), jsonString(text), text);
  }
});
