import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { TypeCatalog } from '../../src/source/type-catalog.js';
import { jsonString } from '../../src/source/values.js';
import { comparatorFor } from '../../src/triggers/compare.js';
import { compileWhere, type RowAccessor } from '../../src/triggers/where.js';
import { type WhereLiteral, whereSchema } from '../../src/triggers/where-schema.js';
import { type Database, startDatabase } from '../helpers/database.js';

/** Postgres is the oracle: walhook must render and compare values exactly as it does. */

// Built-in types need no catalog query: a catalog that loaded nothing renders them as the stream does.
const builtins = new TypeCatalog();
const valueToJson = (text: string, typeOid: number) => builtins.renderer(typeOid)(text);

let database: Database | undefined;

before(async () => {
  // A half-hour offset catches a renderer that assumes whole hours.
  database = await startDatabase('values_oracle', { settings: { TimeZone: 'Asia/Kolkata' } });
  const { rows } = await db().query(`SELECT current_setting('TimeZone') AS zone`);
  assert.equal(rows[0].zone, 'Asia/Kolkata');
  await db().query(TABLE);
  await db().query(
    `INSERT INTO edge VALUES ${ROWS.map((row, i) => `(${i + 1}, ${row.join(', ')})`).join(',\n')}`,
  );
  await db().query(WIDE_SETUP);
  await db().query(wideInsert());
});

after(async () => {
  await database?.close();
});

function db(): pg.Client {
  assert.ok(database, 'Postgres did not start');
  return database.client;
}

/**
 * Runs a query whose values come back as the server's text, unparsed: that is the type's output
 * function, which is what pgoutput sends. A `::text` cast is not the same: bool casts to `true`
 * where the output is `t`, and char(n) loses its padding.
 */
async function queryText(sql: string, values: unknown[] = []): Promise<Record<string, string | null>[]> {
  const result = await db().query({
    text: sql,
    values,
    types: { getTypeParser: () => (text: string) => text },
  });
  return result.rows;
}

const COLUMNS = [
  ['i2', 'int2'],
  ['i4', 'int4'],
  ['i8', 'int8'],
  ['num', 'numeric'],
  ['f4', 'float4'],
  ['f8', 'float8'],
  ['b', 'bool'],
  ['t', 'text'],
  ['vc', 'varchar(40)'],
  ['bp', 'char(6)'],
  ['u', 'uuid'],
  ['j', 'json'],
  ['jb', 'jsonb'],
  ['d', 'date'],
  ['ts', 'timestamp'],
  ['tstz', 'timestamptz'],
  ['tm', 'time'],
  ['iv', 'interval'],
] as const;

const TABLE = `CREATE TABLE edge (id int4 PRIMARY KEY, ${COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')})`;

// One SQL expression per column of COLUMNS, per row.
const ROWS: string[][] = [
  [
    '32767',
    '2147483647',
    '9223372036854775807',
    "'123456789012345678901234567890123456789012.123456789'",
    "'3.4028235e+38'",
    "'1.7976931348623157e+308'",
    'true',
    `'héllo "wörld" \\ 🎉 ''quoted'' 日本'`,
    "'varchar ✓'",
    "'ab'",
    "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'",
    `'{ "big" : 123456789012345678901234567890, "f": 1.0e+2 ,"s":"\\u00e9", "t": "tab\\there" }'`,
    `'{"a": {"b": [1, 2.50, null, true, "x\\"y"], "n": 12345678901234567890123}, "e": {}}'`,
    "'2026-11-28'",
    "'2026-11-28 12:40:00.123456'",
    "'2026-11-28 12:40:00.123456+05:30'",
    "'12:40:00.5'",
    "'1 year 2 mons 3 days 04:05:06.7'",
  ],
  [
    '-32768',
    '-2147483648',
    '-9223372036854775808',
    "'NaN'",
    "'NaN'",
    "'NaN'",
    'false',
    "E'ctl \\x01\\x02\\x1f\\x7f \\b\\f\\n\\r\\t end'",
    "E'line1\\nline2'",
    "'abcdef'",
    "'00000000-0000-0000-0000-000000000000'",
    `'[]'`,
    `'[1, "two", [3.0], {"k": -0.0}]'`,
    "'infinity'",
    "'-infinity'",
    "'infinity'",
    "'00:00:00'",
    "'-1 days'",
  ],
  [
    '0',
    '0',
    '9007199254740993',
    "'Infinity'",
    "'Infinity'",
    "'-0'",
    'true',
    "''",
    "'\\'",
    "' '",
    "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
    `'"just a string"'`,
    `'"\\u2028 and \\\\"'`,
    "'0044-03-15 BC'",
    "'0044-03-15 12:00:01.5 BC'",
    "'0044-03-15 12:00:01.5 BC'",
    "'23:59:59.999999'",
    "'0'",
  ],
  [
    '1',
    '-1',
    '-9007199254740993',
    "'-Infinity'",
    "'-Infinity'",
    "'1e-300'",
    'false',
    "E'\\u2028\\u2029 \\U0001F600'",
    "'tab\there'",
    "'x'",
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
    `'12345678901234567890.000000000000000000001'`,
    `'12345678901234567890.000000000000000000001'`,
    "'2024-02-29'",
    "'1800-01-01 00:00:00'",
    "'1800-01-01 00:00:00+00'",
    "'24:00:00'",
    "'-00:00:01'",
  ],
  [
    '-1',
    '42',
    '0',
    "'-0.000000000000000000000000000000000000000001000'",
    "'1e-45'",
    "'1.5e+20'",
    'true',
    "'null'",
    "'\"'",
    "'a b'",
    "'12345678-1234-5678-1234-567812345678'",
    'null',
    `'null'`,
    "'12345-06-07'",
    "'294276-12-31 23:59:59.999999'",
    "'1942-09-01 12:00:00+00'",
    "'12:00'",
    "'178000000 years'",
  ],
  [
    '2',
    '3',
    '4',
    "'0'",
    "'0.1'",
    "'0.1'",
    'null',
    'null',
    'null',
    'null',
    'null',
    'null',
    'null',
    "'4713-01-01 BC'",
    "'4713-01-01 00:00:00 BC'",
    "'2000-01-01 00:00:00.000001-12:34:56'",
    'null',
    'null',
  ],
  COLUMNS.map(() => 'null'),
];

const ALL_COLUMNS = ['id', ...COLUMNS.map(([name]) => name)];

function selectList(columns: string[]): string {
  return columns.map((name) => `${name}, pg_typeof(${name})::oid AS ${name}_oid`).join(', ');
}

/** Every row as walhook assembles it from the output text and type OID, next to row_to_json's text. */
async function renderedRows(): Promise<{ expected: string; actual: string }[]> {
  const rows = await queryText(
    `SELECT row_to_json(e) AS json, ${selectList(ALL_COLUMNS)} FROM edge e ORDER BY id`,
  );
  return rows.map((row) => {
    const fields = ALL_COLUMNS.map((name) => {
      const text = row[name] ?? null;
      const fragment = text === null ? 'null' : valueToJson(text, Number(row[`${name}_oid`]));
      return `${jsonString(name)}:${fragment}`;
    });
    return { expected: row.json ?? '', actual: `{${fields.join(',')}}` };
  });
}

test('valueToJson reproduces row_to_json token for token (TimeZone Asia/Kolkata)', async () => {
  const rows = await renderedRows();
  assert.equal(rows.length, ROWS.length);
  for (const { expected, actual } of rows) assert.equal(actual, expected);
});

test('valueToJson reproduces row_to_json under whole-hour and historic offsets', async () => {
  for (const zone of ['UTC', 'America/New_York', 'America/St_Johns', 'Europe/Amsterdam']) {
    await db().query(`SET timezone = '${zone}'`);
    try {
      for (const { expected, actual } of await renderedRows()) assert.equal(actual, expected, zone);
    } finally {
      await db().query('RESET timezone');
    }
  }
});

test('valueToJson reproduces row_to_json when DateStyle orders day first', async () => {
  // Only the day/month order changes with 'ISO, DMY'; ISO output is the same, and so must ours be.
  await db().query(`SET datestyle = 'ISO, DMY'`);
  try {
    for (const { expected, actual } of await renderedRows()) assert.equal(actual, expected);
  } finally {
    await db().query('RESET datestyle');
  }
});

/**
 * Column values × literals, each pair ordered by Postgres (`value <op> literal::literalType`) and by
 * comparatorFor. The literal type is the column's except for integers, which Postgres compares with
 * a numeric literal as numeric.
 */
const MATRICES: { type: string; literalType: string; values: string[]; literals: WhereLiteral[] }[] = [
  {
    type: 'numeric',
    literalType: 'numeric',
    values: [
      '0',
      '-0.0',
      '1.5',
      '150000000000000000000',
      '12345678901234567890123456789012345678901.5',
      '-1e-30',
      'NaN',
      'Infinity',
      '-Infinity',
    ],
    literals: [
      0n,
      '1.50',
      1.5e20,
      '1.5e+20',
      'NaN',
      '-Infinity',
      'inf',
      9007199254740993n,
      '-1e-30',
      '12345678901234567890123456789012345678901.49',
      0.1,
    ],
  },
  {
    type: 'int8',
    literalType: 'numeric',
    values: [
      '9007199254740993',
      '9007199254740992',
      '-9223372036854775808',
      '9223372036854775807',
      '0',
      '-1',
    ],
    literals: [
      9007199254740992n,
      9007199254740993n,
      -9223372036854775808n,
      '9223372036854775807.5',
      0.5,
      -1n,
      '-0',
    ],
  },
  {
    type: 'int2',
    literalType: 'numeric',
    values: ['-32768', '0', '32767', '7'],
    literals: [7n, 6.99, '7.000', -32769n, '1e4'],
  },
  {
    type: 'float8',
    literalType: 'float8',
    values: [
      'NaN',
      'Infinity',
      '-Infinity',
      '-0',
      '0',
      '1e-300',
      '1.5e+20',
      '0.1',
      '9007199254740992',
      '-2.5',
    ],
    literals: [
      0n,
      'NaN',
      'Infinity',
      '-inf',
      0.1,
      '0.10000000000000001',
      '1.5e20',
      9007199254740993n,
      -2.5,
      '1e-300',
    ],
  },
  {
    type: 'float4',
    literalType: 'float4',
    values: ['0.1', 'NaN', '-0', '3.4028235e+38', '1e-45', '16777217', '-Infinity'],
    literals: [0.1, 'NaN', 0n, '3.4028235e38', 16777216n, '16777217', '-Infinity', '1e-45'],
  },
  {
    type: 'bool',
    literalType: 'bool',
    values: ['t', 'f'],
    literals: [true, false, 'yes', 'off', '0', 'T', 'tr'],
  },
  {
    type: 'timestamptz',
    literalType: 'timestamptz',
    values: [
      '2026-11-28 12:40:00.123456+05:30',
      'infinity',
      '-infinity',
      '0044-03-15 12:00:01.5 BC',
      '1800-01-01 00:00:00+00',
      '2026-11-28 07:10:00.123457Z',
    ],
    literals: [
      '2026-11-28T07:10:00.123456Z',
      '2026-11-28 12:40:00.123456+05:30',
      '2026-11-28 02:10:00.123456-0500',
      '-infinity',
      'infinity',
      '1799-12-31T18:06:32-05:53:28',
      '0044-03-15 06:06:33.5+00 BC',
    ],
  },
  {
    type: 'timestamp',
    literalType: 'timestamp',
    values: ['2026-11-28 12:40:00.123456', '0044-03-15 12:00:01.5 BC', 'infinity', '2026-11-29 00:00:00'],
    literals: [
      '2026-11-28T12:40:00.123456+05:30',
      '2026-11-28 12:40:00.1234565',
      '0044-03-15 12:00:01.5 BC',
      '2026-11-28 24:00:00',
      '-infinity',
      '2026-11-28',
    ],
  },
  {
    type: 'date',
    literalType: 'date',
    values: ['2026-11-28', '0044-03-15 BC', '2024-02-29', 'infinity', '-infinity', '0001-01-01'],
    literals: [
      '2026-11-28',
      '2026-11-28 23:59:59+14',
      '0044-03-15 BC',
      '2024-03-01',
      'infinity',
      '0001-12-31 BC',
    ],
  },
  {
    type: 'uuid',
    literalType: 'uuid',
    values: [
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
    ],
    literals: [
      'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
      '{a0eebc999c0b4ef8bb6d6bb9bd380a11}',
      '80000000-0000-0000-0000-000000000000',
    ],
  },
  {
    type: 'char(6)',
    literalType: 'bpchar',
    values: ['ab', 'ab c', '', 'abc'],
    literals: ['ab', 'ab   ', 'ab c', 'abb', ''],
  },
  {
    type: 'text COLLATE "C"',
    literalType: 'text',
    values: ['abc', '', 'ABC', '😀', '\uff01', 'é', 'ab'],
    literals: ['abc', '😀', '\uff01', 'e', 'abcd', '', 42n, true],
  },
];

test('comparatorFor orders values as Postgres does, type by type', async () => {
  let pairs = 0;
  for (const { type, literalType, values, literals } of MATRICES) {
    const rows = await queryText(
      `SELECT v.n AS vi, l.n AS li, v.x AS text, pg_typeof(v.x)::oid AS oid,
         CASE WHEN v.x < l.y THEN -1 WHEN v.x = l.y THEN 0 WHEN v.x > l.y THEN 1 END AS sign
       FROM (SELECT x::${type} AS x, n FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n)) v
       CROSS JOIN (SELECT y::${literalType} AS y, n FROM unnest($2::text[]) WITH ORDINALITY AS u(y, n)) l`,
      [values, literals.map(String)],
    );
    assert.equal(rows.length, values.length * literals.length);
    for (const row of rows) {
      const literal = literals[Number(row.li) - 1] as WhereLiteral;
      const order = comparatorFor(literal)(row.text ?? '', Number(row.oid));
      const label = `${type}: ${row.text} vs ${String(literal)}`;
      assert.notEqual(order, undefined, label);
      assert.equal(Math.sign(order ?? Number.NaN), Number(row.sign), label);
      pairs++;
    }
  }
  assert.ok(pairs > 400, `only ${pairs} pairs`);
});

test('comparatorFor is undefined exactly where Postgres cannot read the literal as the column type', async () => {
  const cases: [string, string, WhereLiteral][] = [
    ['numeric', '1', 'one'],
    ['float8', '1', '1e400'],
    ['float4', '1', '1e39'],
    ['bool', 't', 'o'],
    ['date', '2026-11-28', '2023-02-29'],
    ['timestamp', '2026-11-28 00:00:00', '2026-11-28 24:00:01'],
    ['uuid', '00000000-0000-0000-0000-000000000000', 'not-a-uuid'],
  ];
  for (const [type, value, literal] of cases) {
    await assert.rejects(db().query(`SELECT $1::${type}`, [String(literal)]), `${type} ${String(literal)}`);
    const [row] = await queryText(`SELECT $1::${type} AS text, pg_typeof($1::${type})::oid AS oid`, [value]);
    assert.equal(
      comparatorFor(literal)(row?.text ?? '', Number(row?.oid)),
      undefined,
      `${type} ${String(literal)}`,
    );
  }
});

test('compileWhere selects the rows a SQL WHERE selects, NULLs included', async () => {
  const cases: [unknown, string][] = [
    [{ new: { i8: { _gt: 9007199254740992n } } }, 'i8 > 9007199254740992'],
    [{ new: { num: { _gte: '1e300' } } }, `num >= '1e300'`],
    [{ new: { num: { _lt: 0n }, f8: { _neq: 0n } } }, 'num < 0 AND f8 <> 0'],
    [{ new: { f8: { _eq: 'NaN' } } }, `f8 = 'NaN'`],
    [{ new: { f4: { _eq: 0.1 } } }, `f4 = '0.1'::float4`],
    [{ new: { b: { _eq: true } } }, 'b = true'],
    [{ new: { _not: { b: { _eq: true } } } }, 'NOT (b = true)'],
    [{ new: { b: { _is_null: true } } }, 'b IS NULL'],
    [{ new: { t: { _like: '%\\\\%' } } }, `t LIKE '%\\\\%'`],
    [{ new: { t: { _ilike: 'HÉLLO%' } } }, `t ILIKE 'HÉLLO%'`],
    [{ new: { bp: { _like: 'a_' } } }, `bp LIKE 'a_'`],
    [{ new: { bp: { _eq: 'ab' } } }, `bp = 'ab'`],
    [{ new: { vc: { _nin: ['\\', '"'] } } }, `vc NOT IN ('\\', '"')`],
    [
      { new: { u: { _in: ['A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '00000000000000000000000000000000'] } } },
      `u IN ('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '00000000000000000000000000000000')`,
    ],
    [{ new: { d: { _lt: '0001-01-01' } } }, `d < '0001-01-01'`],
    [{ new: { ts: { _gte: '2026-01-01T00:00:00' } } }, `ts >= '2026-01-01T00:00:00'`],
    [{ new: { tstz: { _gt: '1900-01-01T00:00:00Z' } } }, `tstz > '1900-01-01T00:00:00Z'`],
    [{ new: { tstz: { _eq: '2026-11-28T07:10:00.123456Z' } } }, `tstz = '2026-11-28T07:10:00.123456Z'`],
    [
      { new: { _or: [{ i2: { _lt: 0n } }, { _not: { f4: { _gt: 0n } } }], _not: { t: { _eq: '' } } } },
      `(i2 < 0 OR NOT (f4 > 0)) AND NOT (t = '')`,
    ],
    [{ _not: { new: { i4: { _in: [1n, 2n] }, b: { _eq: false } } } }, 'NOT (i4 IN (1, 2) AND b = false)'],
  ];
  const rows = await queryText(`SELECT ${selectList(ALL_COLUMNS)} FROM edge ORDER BY id`);
  const accessors = rows.map((row): [string | null | undefined, RowAccessor] => [
    row.id,
    (column) =>
      ALL_COLUMNS.includes(column)
        ? { text: row[column] ?? null, typeOid: Number(row[`${column}_oid`]) }
        : undefined,
  ]);
  for (const [expr, sql] of cases) {
    const matches = compileWhere(whereSchema.parse(expr));
    const expected = await queryText(`SELECT id FROM edge WHERE ${sql} ORDER BY id`);
    const actual = accessors
      .filter(([, accessor]) => matches({ new: accessor, old: null }))
      .map(([id]) => id);
    assert.deepEqual(
      actual,
      expected.map((row) => row.id),
      sql,
    );
  }
});

/**
 * Every kind of type json.c tells apart, user types included: each column's values are SQL
 * expressions, one per row; a column with fewer values than rows is NULL in the rest.
 */
const WIDE_SETUP = `
  CREATE EXTENSION hstore;
  CREATE EXTENSION citext;
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy 😀', 'with "quote"');
  CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
  CREATE DOMAIN smallpos AS posint CHECK (VALUE < 100);
  CREATE DOMAIN dtext AS text;
  CREATE DOMAIN djsonb AS jsonb;
  CREATE DOMAIN dints AS int4[];
  CREATE TYPE inner_t AS (a int4, "b c" text, t timestamptz, f float8, n numeric, ok bool);
  CREATE DOMAIN dinner AS inner_t;
  CREATE TYPE outer_t AS (i inner_t, arr int4[], m mood, h hstore, d posint, j jsonb, e text[], "Ü" date);
  CREATE TYPE dropped_t AS (a int4, gone text, b text);
  ALTER TYPE dropped_t DROP ATTRIBUTE gone;
  CREATE TABLE parent (id int4, label text);
  CREATE TYPE floatrange AS RANGE (subtype = float8);
  CREATE DOMAIN dhstore AS hstore;
  CREATE TYPE level AS ENUM ('low', 'high');
  CREATE FUNCTION level_json(level) RETURNS json LANGUAGE sql AS $$ SELECT json_build_object('level', $1::text) $$;
  CREATE CAST (level AS json) WITH FUNCTION level_json(level);
`;

const WIDE: [string, string, string[]][] = [
  ['i2', 'int2', ['32767', '-32768', '0']],
  ['i4', 'int4', ['2147483647', '-2147483648']],
  ['i8', 'int8', ['9223372036854775807', '-9223372036854775808', '9007199254740993']],
  [
    'num',
    'numeric',
    [
      "'123456789012345678901234567890.123456789012345678901234567890'",
      "'NaN'",
      "'Infinity'",
      "'-Infinity'",
      "'-0.000000000000000000000000000001000'",
      "'1e-130'",
      "'1e+300'",
    ],
  ],
  ['f4', 'float4', ["'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "'3.4028235e38'", "'1e-45'", "'0.1'"]],
  [
    'f8',
    'float8',
    ["'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "'1.7976931348623157e308'", "'5e-324'", "'1e21'", "'0.1'"],
  ],
  ['mon', 'money', ["'-92233720368547758.08'", "'92233720368547758.07'", "'0.5'"]],
  [
    't',
    'text',
    [
      `E'héllo "wörld" \\\\ 🎉 ''q'' 日本 \\u2028'`,
      "E'ctl \\x01\\x02\\x1f\\x7f \\b\\f\\n\\r\\t end'",
      "''",
      "'NULL'",
      "'{a,b}'",
      "'(x,y)'",
    ],
  ],
  ['vc', 'varchar(12)', ["'🎉 emoji ✓'", "''", "' '"]],
  ['ch', 'char(5)', ["'ab'", "''", "'é'"]],
  ['bpc', 'bpchar', ["'unbounded  '"]],
  ['nm', 'name', ["'a name'"]],
  ['qc', '"char"', ["'x'"]],
  ['by', 'bytea', ["'\\xdeadbeef00'", "''", "'a\\\\b'"]],
  ['bo', 'bool', ['true', 'false']],
  ['d', 'date', ["'infinity'", "'-infinity'", "'4713-01-01 BC'", "'5874897-12-31'", "'2024-02-29'"]],
  ['tm', 'time', ["'00:00'", "'23:59:59.999999'", "'24:00:00'"]],
  ['ttz', 'timetz', ["'12:34:56.789+05:30'", "'00:00:00-15:59'", "'23:59:59.999999-12'"]],
  [
    'ts',
    'timestamp',
    [
      "'infinity'",
      "'-infinity'",
      "'4713-01-01 00:00:00 BC'",
      "'294276-12-31 23:59:59.999999'",
      "'2000-01-01 00:00:00.000001'",
    ],
  ],
  [
    'tstz',
    'timestamptz',
    [
      "'infinity'",
      "'-infinity'",
      "'0044-03-15 12:00:00.5 BC'",
      "'1900-01-01 00:00:00+00'",
      "'2026-11-28 12:40:00.123456+05:30'",
      "'294276-12-31 23:59:59.999999+05:30'",
    ],
  ],
  ['iv', 'interval', ["'178000000 years'", "'-1 days +02:03:04.5'", "'1 mon -1 sec'", "'0'"]],
  ['u', 'uuid', ["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'"]],
  [
    'j',
    'json',
    [
      `'{ "big" : 123456789012345678901234567890, "e": 1.0E+400, "s": "\\u00e9\\"" , "a": [ ] }'`,
      `'"\\u0000 nul escape"'`,
      "'-0'",
    ],
  ],
  [
    'jb',
    'jsonb',
    [`'{"n": 123456789012345678901234567890.000, "deep": {"x": [1, 2.50, null, true, "y\\"z"]}}'`, "'[]'"],
  ],
  ['x', 'xml', [`'<a b="c">d &amp; é</a>'`, "'plain text'"]],
  ['ip', 'inet', ["'192.168.0.1/24'", "'2001:db8::ff00:42:8329/64'"]],
  ['cd', 'cidr', ["'10.0.0.0/8'", "'2001:db8::/32'"]],
  ['mac', 'macaddr', ["'08:00:2b:01:02:03'"]],
  ['mac8', 'macaddr8', ["'08:00:2b:01:02:03:04:05'"]],
  ['bt', 'bit(4)', ["B'1010'"]],
  ['vb', 'varbit', ["B''", "B'1010101'"]],
  ['tsv', 'tsvector', [`$$'a' 'b c':1A 'it''s':2,3B$$`]],
  ['tsq', 'tsquery', [`$$'a' & !('b' | 'c d')$$`]],
  ['pt', 'point', ["'(1.5,-2)'", "'(1e300,-0)'"]],
  ['ln', 'line', ["'{1,2,3}'"]],
  ['ls', 'lseg', ["'[(0,0),(1,1)]'"]],
  ['bx', 'box', ["'(1,1),(0,0)'"]],
  ['pth', 'path', ["'[(0,0),(1,1),(2,0)]'", "'((0,0),(1,1))'"]],
  ['pg', 'polygon', ["'((0,0),(1,1),(1,0))'"]],
  ['cir', 'circle', ["'<(0,0),1.5>'"]],
  ['o', 'oid', ['4294967295', '0']],
  ['i2v', 'int2vector', ["'1 -2 3'", "''"]],
  ['oidv', 'oidvector', ["'4 5'"]],
  ['i4r', 'int4range', ["'[1,10)'", "'empty'", "'(,5]'"]],
  ['nr', 'numrange', ["'[1.5,2.25]'", "'(,)'"]],
  ['tsr', 'tstzrange', [`'["2020-01-01 00:00+00","2021-01-01 00:00+05:30")'`, "'(-infinity,infinity)'"]],
  ['dr', 'daterange', ["'[2020-01-01,2020-02-01)'"]],
  ['fr', 'floatrange', ["'[-0,NaN]'"]],
  ['mr', 'int4multirange', ["'{[1,3), [5,7)}'", "'{}'"]],
  ['m', 'mood', ["'happy 😀'", `'with "quote"'`]],
  ['pi', 'posint', ['5']],
  ['sp', 'smallpos', ['99']],
  ['dt', 'dtext', [`'domain "text" \\'`]],
  ['dj', 'djsonb', [`'{"a": 12345678901234567890}'`]],
  ['di', 'dints', ["'{1,NULL}'", "'[0:1]={2,3}'"]],
  ['h', 'hstore', [`'a=>1, b=>NULL, "c d"=>"e\\"f", "é"=>"🎉", ""=>""'`, "''"]],
  ['cit', 'citext', ["'CiTeXt ünïcode'"]],
  ['card', 'information_schema.cardinal_number', ['7']],
  [
    'ia',
    'int4[]',
    ["'{{1,NULL,3},{4,5,6}}'", "'[2:3]={7,8}'", "'{}'", "'[0:1][-1:0]={{1,2},{3,4}}'", "'{{{1},{2}}}'"],
  ],
  [
    'ta',
    'text[]',
    [
      `ARRAY['a"b', 'c\\d', 'e,f', '{g}', ' h ', 'NULL', '', NULL, 'é🎉', E'tab\\there', 'semi;colon']`,
      "'{}'",
    ],
  ],
  ['na', 'numeric[]', ["'{1.50,NaN,-Infinity,NULL}'"]],
  ['fa', 'float8[]', ["'{-0,5e-324,Infinity,NaN}'"]],
  ['ba', 'bool[]', ["'{t,f,NULL}'"]],
  ['tza', 'timestamptz[]', [`'{"2026-01-01 00:00:00+05:30","0044-03-15 12:00:00 BC",infinity}'`]],
  ['da', 'date[]', [`'{2026-01-01,"0044-03-15 BC",-infinity}'`]],
  ['tsa', 'timestamp[][]', [`'{{"2026-01-01 00:00:00.5"},{NULL}}'`]],
  ['ja', 'json[]', [`ARRAY['{"a": [1, 2]}', 'null', '"s"', NULL]::json[]`]],
  ['jba', 'jsonb[]', [`ARRAY['{"n": 1e400}', '[]']::jsonb[]`]],
  ['ua', 'uuid[]', ["'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'"]],
  ['bya', 'bytea[]', [`ARRAY['\\x00'::bytea, '']`]],
  ['iva', 'interval[]', ['\'{"1 day","-00:00:01"}\'']],
  ['pta', 'point[]', ['\'{"(1,2)","(3.5,-4)"}\'']],
  ['bxa', 'box[]', [`ARRAY['(1,1),(0,0)'::box, '((3,3),(2,2))', NULL]`]],
  ['ha', 'hstore[]', [`ARRAY['a=>b'::hstore, NULL, '']`]],
  ['ma', 'mood[]', [`'{sad,"happy 😀","with \\"quote\\""}'`]],
  ['ra', 'int4range[]', [`'{"[1,2)",empty}'`]],
  ['cha', 'char(3)[]', [`'{a,"b c",""}'`]],
  ['pia', 'posint[]', ["'{1,NULL,2}'"]],
  ['dia', 'dints[]', [`ARRAY['{1,2}'::dints, '{}', NULL, '[5:5]={3}']`]],
  ['dh', 'dhstore', [`'"x"=>"y"'`]],
  ['i2va', 'int2vector[]', [`ARRAY['1 2'::int2vector, '3']`]],
  [
    'inr',
    'inner_t',
    [
      `ROW(1, 'x "y" \\ z, (w)', '2026-01-01 00:00:00.5+00', 'NaN', 1e-20, true)`,
      'ROW(NULL, NULL, NULL, NULL, NULL, NULL)',
      `ROW(-2, '', 'infinity', '-0', 'NaN', false)`,
    ],
  ],
  ['dinr', 'dinner', [`ROW(3, 'domain over composite', NULL, 1.5, 2, NULL)`]],
  [
    'outr',
    'outer_t',
    [
      `ROW(ROW(1, 'in"ner', NULL, 0.1, 1.10, true), '{{1,NULL}}', 'happy 😀', 'k=>"v\\\\w", n=>NULL', 5,
        '{"big": 123456789012345678901234567890}', ARRAY['a b', NULL, '"q"', ''], '0044-03-15 BC')`,
      'ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)',
    ],
  ],
  [
    'inra',
    'inner_t[]',
    [
      `ARRAY[ROW(1, 'a b', '2026-01-01 00:00+00', -0, 1, true), NULL, ROW(NULL, '', NULL, NULL, NULL, NULL)]::inner_t[]`,
    ],
  ],
  ['outra', 'outer_t[]', [`ARRAY[ROW(NULL, '{}', 'sad', '', NULL, 'null', '{}', 'infinity')]::outer_t[]`]],
  ['drop', 'dropped_t', ["ROW(1, 'b')"]],
  ['par', 'parent', ["ROW(1, 'a table''s row type')"]],
];

const WIDE_ROWS = Math.max(...WIDE.map(([, , values]) => values.length)) + 1;

function wideInsert(): string {
  const columns = WIDE.map(([name, type]) => `${name} ${type}`).join(', ');
  const rows = Array.from(
    { length: WIDE_ROWS },
    (_, row) =>
      `(${row + 1}, ${WIDE.map(([, type, values]) => `(${values[row] ?? 'NULL'})::${type}`).join(', ')})`,
  );
  return `CREATE TABLE wide (id int4 PRIMARY KEY, ${columns});
    INSERT INTO wide VALUES ${rows.join(',\n')}`;
}

/** `wide`'s columns and their type OIDs, as pgoutput's Relation message carries them. */
async function wideColumns(): Promise<{ name: string; type: number }[]> {
  const { rows } = await db().query<{ name: string; type: string }>(
    `SELECT attname AS name, atttypid::text AS type FROM pg_attribute
     WHERE attrelid = 'wide'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
  );
  return rows.map((row) => ({ name: row.name, type: Number(row.type) }));
}

async function wideTypes(): Promise<number[]> {
  return (await wideColumns()).map((column) => column.type);
}

/** Each row of `wide` as the catalog renders it from the output text, next to row_to_json's text. */
async function renderedWide(catalog: TypeCatalog): Promise<{ expected: string; actual: string }[]> {
  const columns = await wideColumns();
  const renderers = columns.map(({ type }) => catalog.renderer(type));
  const rows = await queryText('SELECT row_to_json(w) AS json, w.* FROM wide w ORDER BY id');
  return rows.map((row) => {
    const fields = columns.map(({ name }, i) => {
      const text = row[name] ?? null;
      return `${jsonString(name)}:${text === null ? 'null' : renderers[i]?.(text)}`;
    });
    return { expected: row.json ?? '', actual: `{${fields.join(',')}}` };
  });
}

test('TypeCatalog renders every kind of type as row_to_json does', async () => {
  const catalog = new TypeCatalog();
  const types = await wideTypes();
  assert.ok(catalog.missing(types).length > 10, 'user types are unknown before loading');
  const queries: string[] = [];
  await catalog.load((sql, params) => {
    queries.push(sql);
    return db().query(sql, params);
  }, types);
  assert.equal(queries.length, 1);
  assert.deepEqual(catalog.missing(types), []);
  const rows = await renderedWide(catalog);
  assert.equal(rows.length, WIDE_ROWS);
  for (const [i, { expected, actual }] of rows.entries()) assert.equal(actual, expected, `row ${i + 1}`);
});

test('TypeCatalog loaded without OIDs knows every user type, whatever the session TimeZone', async () => {
  const catalog = new TypeCatalog();
  await catalog.load((sql, params) => db().query(sql, params));
  assert.deepEqual(catalog.missing((await wideTypes()).filter((oid) => oid >= 16384)), []);
  for (const zone of ['UTC', 'America/St_Johns', 'Pacific/Kiritimati']) {
    await db().query(`SET timezone = '${zone}'`);
    try {
      for (const { expected, actual } of await renderedWide(catalog)) assert.equal(actual, expected, zone);
    } finally {
      await db().query('RESET timezone');
    }
  }
});

test('TypeCatalog compares a domain as its base type', async () => {
  const catalog = new TypeCatalog();
  const { rows } = await db().query<{ oid: string; name: string }>(
    `SELECT oid::text, typname AS name FROM pg_type WHERE typname IN ('smallpos', 'dints', 'cardinal_number')`,
  );
  const oids = rows.map((row) => Number(row.oid));
  await catalog.load((sql, params) => db().query(sql, params), oids);
  const byName = new Map(rows.map((row) => [row.name, catalog.comparable(Number(row.oid))]));
  assert.deepEqual(Object.fromEntries(byName), { smallpos: 23, dints: 1007, cardinal_number: 23 });
});

test("a cast to json other than hstore's is not run: the value is sent as a JSON string of its text", async () => {
  const catalog = new TypeCatalog();
  const [row] = await queryText(
    `SELECT 'high'::level AS value, to_json('high'::level) AS json, 'level'::regtype::oid AS oid`,
  );
  await catalog.load((sql, params) => db().query(sql, params), [Number(row?.oid)]);
  assert.equal(row?.json, '{"level" : "high"}');
  assert.equal(catalog.renderer(Number(row?.oid))(row?.value ?? ''), '"high"');
});
