import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TypeCatalog } from '../../src/source/type-catalog.js';
import { arrayRenderer } from '../../src/source/values/arrays.js';
import { compositeRenderer } from '../../src/source/values/composites.js';
import { hstoreToJson } from '../../src/source/values/hstore.js';
import { jsonString, TypeOid } from '../../src/source/values.js';

// Built-in types need no catalog query: a catalog that loaded nothing renders them as the stream does.
const builtins = new TypeCatalog();
const rendererFor = (typeOid: number) => builtins.renderer(typeOid);
const valueToJson = (text: string, typeOid: number) => builtins.renderer(typeOid)(text);

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

const INT4 = 23;
const TEXT = 25;
const BOX = 603;

/** Built-in arrays, rendered as array_to_json renders them (each checked against Postgres by the oracle test). */
const arrayCases: [string, string, number, string][] = [
  ['empty', '{}', 1007, '[]'],
  ['NULL elements', '{1,NULL,3}', 1007, '[1,null,3]'],
  ['quoted "NULL" is text', '{NULL,"NULL","null",nULL}', 1009, '[null,"NULL","null",null]'],
  ['empty string element', '{"",a}', 1009, '["","a"]'],
  [
    'quotes, backslashes, delimiters and braces inside quotes',
    String.raw`{"a\"b","c\\d","e,f","{g}"," h "}`,
    1009,
    String.raw`["a\"b","c\\d","e,f","{g}"," h "]`,
  ],
  ['unicode and controls', '{"é 🎉","\t\n"}', 1009, '["é 🎉","\\t\\n"]'],
  ['two dimensions', '{{1,2},{3,4}}', 1007, '[[1,2],[3,4]]'],
  ['three dimensions with NULLs', '{{{1,NULL}},{{NULL,4}}}', 1007, '[[[1,null]],[[null,4]]]'],
  ['custom lower bound dropped', '[2:3]={7,8}', 1007, '[7,8]'],
  ['custom bounds on two dimensions', '[0:1][-1:0]={{1,2},{3,4}}', 1007, '[[1,2],[3,4]]'],
  ['bool elements', '{t,f,NULL}', 1000, '[true,false,null]'],
  ['numeric specials quoted', '{1.50,NaN,-Infinity}', 1231, '[1.50,"NaN","-Infinity"]'],
  ['float8 elements', '{-0,1e-300,Infinity}', 1022, '[-0,1e-300,"Infinity"]'],
  [
    'timestamptz elements in XSD form',
    '{"2026-01-01 00:00:00+05:30","0044-03-15 12:00:00+01 BC",infinity}',
    1185,
    '["2026-01-01T00:00:00+05:30","0044-03-15T12:00:00+01:00 BC","infinity"]',
  ],
  ['date elements', '{2026-01-01,"0044-03-15 BC"}', 1182, '["2026-01-01","0044-03-15 BC"]'],
  ['json elements embedded', String.raw`{"{\"a\": [1, 2]}",null,"\"s\""}`, 199, '[{"a": [1, 2]},null,"s"]'],
  ['jsonb elements embedded', String.raw`{"{\"n\": 1e400}",NULL}`, 3807, '[{"n": 1e400},null]'],
  ['box elements split on semicolons', '{(1,1),(0,0);(3,3),(2,2)}', 1020, '["(1,1),(0,0)","(3,3),(2,2)"]'],
  ['point elements', '{"(1,2)","(3.5,-4)"}', 1017, '["(1,2)","(3.5,-4)"]'],
  ['int2vector', '1 2 -3', 22, '[1,2,-3]'],
  ['empty int2vector', '', 22, '[]'],
  ['oidvector elements are strings', '4 5', 30, '["4","5"]'],
  ['array of int2vector', '{"1 2","3"}', 1006, '[[1,2],[3]]'],
];

for (const [name, text, typeOid, expected] of arrayCases) {
  test(`arrays: ${name}`, () => assert.equal(valueToJson(text, typeOid), expected));
}

test('arrays: text that array_out cannot produce is kept as a string', () => {
  for (const text of ['{1,2', '{1,,2}', '1,2', '{1,2}x', '{"a}', '{{1},2']) {
    assert.equal(valueToJson(text, 1007), jsonString(text), text);
  }
});

test('arrayRenderer splits on the delimiter it is given only', () => {
  const render = arrayRenderer(jsonString, ';');
  assert.equal(render('{a,b;c}'), '["a,b","c"]');
  assert.equal(render('{}'), '[]');
});

/** A composite (a int, "b c" text, d bool) and one nesting it with an int[]: fields rendered by type. */
const record = compositeRenderer([
  { name: 'a', render: rendererFor(INT4) },
  { name: 'b c', render: rendererFor(TEXT) },
  { name: 'd', render: rendererFor(TypeOid.bool) },
]);
const nested = compositeRenderer([
  { name: 'r', render: record },
  { name: 'xs', render: rendererFor(1007) },
  { name: 'q"k', render: rendererFor(TypeOid.timestamptz) },
]);

const compositeCases: [string, string, string][] = [
  ['plain fields', '(1,x,t)', '{"a":1,"b c":"x","d":true}'],
  ['empty field is NULL', '(,,)', '{"a":null,"b c":null,"d":null}'],
  ['quoted empty field is the empty string', '(1,"",f)', '{"a":1,"b c":"","d":false}'],
  [
    'doubled quotes and backslashes',
    String.raw`(1,"say ""hi"" \\ ok",t)`,
    String.raw`{"a":1,"b c":"say \"hi\" \\ ok","d":true}`,
  ],
  [
    'backslash escapes as record_in reads them',
    String.raw`(1,"a\"b\\c",t)`,
    String.raw`{"a":1,"b c":"a\"b\\c","d":true}`,
  ],
  ['commas and parentheses inside quotes', '(1,"(a,b)",t)', '{"a":1,"b c":"(a,b)","d":true}'],
  ['quoted text "NULL" is not NULL', '(1,NULL,)', '{"a":1,"b c":"NULL","d":null}'],
  ['unicode and control characters', '(1,"é\t🎉\u0001",t)', '{"a":1,"b c":"é\\t🎉\\u0001","d":true}'],
];

for (const [name, text, expected] of compositeCases) {
  test(`composites: ${name}`, () => assert.equal(record(text), expected));
}

test('composites: a nested composite, an array field and a field name needing escapes', () => {
  assert.equal(
    nested('("(1,""a """"b"""""",t)","{1,NULL}","2026-01-01 00:00:00+00")'),
    '{"r":{"a":1,"b c":"a \\"b\\"","d":true},"xs":[1,null],"q\\"k":"2026-01-01T00:00:00+00:00"}',
  );
  assert.equal(nested('(,,)'), '{"r":null,"xs":null,"q\\"k":null}');
});

test('composites: an array of composites', () => {
  const array = arrayRenderer(record, ',');
  assert.equal(
    array(String.raw`{"(1,\"a b\",t)",NULL,"(,,)"}`),
    '[{"a":1,"b c":"a b","d":true},null,{"a":null,"b c":null,"d":null}]',
  );
});

test('composites: text with other fields than the type has is kept as a string', () => {
  for (const text of ['(1,x)', '(1,x,t,4)', '1,x,t', '(1,"x,t)', '(1,x,t)y']) {
    assert.equal(record(text), jsonString(text), text);
  }
  assert.equal(compositeRenderer([])('()'), '{}');
});

test('hstore renders as hstore_to_json: strings, NULL as null, its own separators', () => {
  assert.equal(hstoreToJson(''), '{}');
  assert.equal(hstoreToJson('"a"=>"1", "b"=>NULL'), '{"a": "1", "b": null}');
  assert.equal(
    hstoreToJson(String.raw`"k \"q\""=>"v\\w", "NULL"=>"NULL", "é"=>"🎉	"`),
    String.raw`{"k \"q\"": "v\\w", "NULL": "NULL", "é": "🎉\t"}`,
  );
  assert.equal(hstoreToJson('"a"=>1'), jsonString('"a"=>1'));
});

test('TypeCatalog knows built-in types offline and reports user types as missing', () => {
  const catalog = new TypeCatalog();
  assert.deepEqual(catalog.missing([INT4, TEXT, 1007, BOX, 1020, 22, 1006, 3904, 4451, 6150]), []);
  assert.deepEqual(catalog.missing([16400, 1007, 16400, 16401]), [16400, 16401]);
  // The system catalogs' row types (pg_type's is 71, its array 210) are read like user types.
  assert.deepEqual(catalog.missing([71, 210]), [71, 210]);
  assert.equal(catalog.renderer(1020)('{(1,1),(0,0);(2,2),(1,1)}'), '["(1,1),(0,0)","(2,2),(1,1)"]');
  assert.equal(catalog.renderer(16400)('{1,2}'), '"{1,2}"');
  assert.equal(catalog.comparable(16400), 16400);
  assert.equal(catalog.comparable(TypeOid.numeric), TypeOid.numeric);
});

/** pg_type rows as the catalog query returns them, every column text. */
function typeRow(oid: number, kind: string, extra: Record<string, string | null> = {}) {
  return { oid: String(oid), kind, base: '0', element: '0', delimiter: null, fields: null, ...extra };
}

test('TypeCatalog.load reads what is missing in one query and builds renderers from it', async () => {
  const catalog = new TypeCatalog();
  const queries: unknown[][] = [];
  const rows = [
    typeRow(16400, 'domain', { base: '16401' }),
    typeRow(16401, 'domain', { base: String(TypeOid.numeric) }),
    typeRow(16402, 'composite', {
      fields: JSON.stringify([
        ['n', '16400'],
        ['tags', '16403'],
        ['h', '16404'],
      ]),
    }),
    typeRow(16403, 'array', { element: '16405', delimiter: ',' }),
    typeRow(16404, 'hstore'),
    typeRow(16405, 'text'),
    typeRow(16406, 'array', { element: '16402', delimiter: ',' }),
    typeRow(16407, 'cast'),
    typeRow(TypeOid.numeric, 'text'),
  ];
  await catalog.load(
    async (sql, params) => {
      queries.push([sql, params]);
      return { rows };
    },
    [INT4, 16406, 16407, 16499],
  );
  assert.equal(queries.length, 1);
  assert.deepEqual(queries[0]?.[1], [[16406, 16407, 16499]]);
  assert.deepEqual(catalog.missing([16406, 16407, 16499]), []);
  assert.equal(catalog.comparable(16400), TypeOid.numeric);
  assert.equal(catalog.comparable(16402), 16402);
  assert.equal(catalog.renderer(16400)('NaN'), '"NaN"');
  assert.equal(
    catalog.renderer(16406)(String.raw`{"(1.5,\"{happy,sad}\",\"\"\"a\"\"=>NULL\")",NULL}`),
    '[{"n":1.5,"tags":["happy","sad"],"h":{"a": null}},null]',
  );
  // Neither a cast walhook cannot run nor a type the server no longer has stops a value.
  assert.equal(catalog.renderer(16407)('POINT(1 2)'), '"POINT(1 2)"');
  assert.equal(catalog.renderer(16499)('x'), '"x"');
  // A built-in type keeps its built-in rendering whatever the query says about it.
  assert.equal(catalog.renderer(TypeOid.numeric)('1.0'), '1.0');
  await catalog.load(async () => assert.fail('nothing is missing'), [16406, INT4]);
});

test('TypeCatalog.load rebuilds renderers made while a type was unknown', async () => {
  const catalog = new TypeCatalog();
  assert.equal(catalog.renderer(16500)('{1,2}'), '"{1,2}"');
  await catalog.load(async () => ({
    rows: [typeRow(16500, 'array', { element: String(INT4), delimiter: ',' })],
  }));
  assert.equal(catalog.renderer(16500)('{1,2}'), '[1,2]');
});
