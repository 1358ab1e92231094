import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../src/demo/embedded-postgres.js';
import { jsonString, valueToJson } from '../../src/source/values.js';
import { comparatorFor } from '../../src/triggers/compare.js';
import { compileWhere, type RowAccessor } from '../../src/triggers/where.js';
import { type WhereLiteral, whereSchema } from '../../src/triggers/where-schema.js';

/** Postgres is the oracle: walhook must render and compare values exactly as it does. */

const DATABASE = 'values_oracle';
let server: EmbeddedPostgresHandle | undefined;
let client: pg.Client | undefined;

before(async () => {
  server = await startEmbeddedPostgres();
  await server.createDatabase(DATABASE);
  const admin = new pg.Client({ connectionString: server.url(DATABASE) });
  await admin.connect();
  // A half-hour offset catches a renderer that assumes whole hours; sessions opened later inherit it.
  await admin.query(`ALTER DATABASE ${DATABASE} SET timezone = 'Asia/Kolkata'`);
  await admin.end();
  client = new pg.Client({ connectionString: server.url(DATABASE) });
  await client.connect();
  const { rows } = await client.query(`SELECT current_setting('TimeZone') AS zone`);
  assert.equal(rows[0].zone, 'Asia/Kolkata');
  await client.query(TABLE);
  await client.query(
    `INSERT INTO edge VALUES ${ROWS.map((row, i) => `(${i + 1}, ${row.join(', ')})`).join(',\n')}`,
  );
});

after(async () => {
  await client?.end();
  await server?.stop();
});

function db(): pg.Client {
  assert.ok(client, 'Postgres did not start');
  return client;
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
