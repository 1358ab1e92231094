import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { jsonValueText } from '../../src/commands/demo/json-text.js';
import { TypeCatalog } from '../../src/source/type-catalog.js';
import { jsonString } from '../../src/source/values.js';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

/**
 * Generated rows of a wide table, rendered by walhook from each column's output text, must equal
 * row_to_json of the same row: first through the TypeCatalog directly, then as delivered by a
 * running walhook. FC_SEED=<seed> replays a failing run.
 */

const RUNS = 150;

const char = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      ...['"', '\\', '{', '}', ',', '(', ')', ';', ' ', 'NULL', '=>', "'", '\t', '\n', '\r', '\u0001'],
      ...['\u001f', '\u007f', '\u00a0', '\u2028', 'é', '日', '😀', '\u{10ffff}'],
    ),
  },
  // Any code point but NUL (text cannot hold it) and lone surrogates (UTF-8 cannot carry them).
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1, max: 0x10ffff })
      .filter((code) => code < 0xd800 || code > 0xdfff)
      .map((code) => String.fromCodePoint(code)),
  },
);
const text = fc.string({ unit: char, maxLength: 20 });
const digits = (minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength, maxLength });
const sign = fc.constantFrom('', '-');

const numeric = fc.oneof(
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '-0', '0.000'),
  fc.tuple(sign, digits(1, 45), fc.option(digits(1, 45))).map(([s, i, f]) => `${s}${i}${f ? `.${f}` : ''}`),
  fc.tuple(sign, digits(1, 20), fc.integer({ min: -400, max: 400 })).map(([s, d, e]) => `${s}${d}e${e}`),
);

/** Float input that reads back as exactly `value`: JavaScript's shortest round-trip form. */
function floatText(value: number): string {
  if (Object.is(value, -0)) return '-0';
  return String(value);
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const date = fc
  .record({
    bc: fc.boolean(),
    year: fc.integer({ min: 1, max: 294275 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 28 }),
  })
  .map(({ bc, year, month, day }) => ({
    text: `${pad(bc ? Math.min(year, 4713) : year, 4)}-${pad(month)}-${pad(day)}`,
    bc,
  }));
const time = fc
  .tuple(
    fc.integer({ min: 0, max: 23 }),
    fc.integer({ min: 0, max: 59 }),
    fc.integer({ min: 0, max: 59 }),
    fc.option(fc.integer({ min: 0, max: 999999 })),
  )
  .map(([h, m, s, us]) => `${pad(h)}:${pad(m)}:${pad(s)}${us === null ? '' : `.${pad(us, 6)}`}`);
const offset = fc
  .tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 14 }), fc.integer({ min: 0, max: 59 }))
  .map(([s, h, m]) => `${s}${pad(h)}:${pad(m)}`);
const infinity = fc.constantFrom('infinity', '-infinity');
const bc = (on: boolean) => (on ? ' BC' : '');

const dateText = fc.oneof(
  infinity,
  date.map((d) => `${d.text}${bc(d.bc)}`),
);
const timestamp = fc.oneof(
  infinity,
  fc.tuple(date, time).map(([d, t]) => `${d.text} ${t}${bc(d.bc)}`),
);
const timestamptz = fc.oneof(
  infinity,
  fc.tuple(date, time, offset).map(([d, t, o]) => `${d.text} ${t}${o}${bc(d.bc)}`),
);

const jsonNumber = fc
  .tuple(
    sign,
    fc.oneof(
      fc.constant('0'),
      fc.tuple(fc.constantFrom(...'123456789'), digits(0, 30)).map(([a, b]) => a + b),
    ),
    fc.option(digits(1, 20)),
    fc.option(fc.tuple(fc.constantFrom('e', 'E', 'e+', 'e-', 'E-'), digits(1, 3))),
  )
  .map(([s, i, f, e]) => `${s}${i}${f === null ? '' : `.${f}`}${e === null ? '' : e.join('')}`);
const { json } = fc.letrec<{ json: string; array: string; object: string }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    jsonNumber,
    text.map((s) => JSON.stringify(s)),
    fc.constantFrom('true', 'false', 'null'),
    tie('array'),
    tie('object'),
  ),
  array: fc.array(tie('json'), { maxLength: 4 }).map((items) => `[${items.join(', ')}]`),
  object: fc
    .array(fc.tuple(text, tie('json')), { maxLength: 4 })
    .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)} : ${v}`).join(',')}}`),
}));

/** An array element as array_in reads it: always quoted, `"` and `\` escaped; NULL unquoted. */
const element = (value: string | null) => (value === null ? 'NULL' : `"${value.replace(/["\\]/g, '\\$&')}"`);
const arrayOf = (item: fc.Arbitrary<string>) =>
  fc.array(fc.option(item), { maxLength: 4 }).map((items) => `{${items.map(element).join(',')}}`);

/** int4 arrays of one to three dimensions, NULLs included, with lower bounds other than 1 at times. */
const intArray = fc.oneof(
  fc.constant('{}'),
  fc
    .tuple(
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
      fc.option(fc.integer({ min: -3, max: 3 })),
    )
    .chain(([dims, lower]) => {
      const count = dims.reduce((a, b) => a * b, 1);
      return fc.array(fc.option(fc.integer()), { minLength: count, maxLength: count }).map((values) => {
        let next = 0;
        const nest = (dim: number): string => {
          const items = Array.from({ length: dims[dim] as number }, () =>
            dim + 1 === dims.length ? String(values[next++] ?? 'NULL') : nest(dim + 1),
          );
          return `{${items.join(',')}}`;
        };
        const bounds = lower === null ? '' : `${dims.map((n) => `[${lower}:${lower + n - 1}]`).join('')}=`;
        return bounds + nest(0);
      });
    }),
);

/** A record_in field: quoted, with `"` and `\` doubled; an empty field for NULL. */
const field = (value: string | null) => (value === null ? '' : `"${value.replace(/["\\]/g, '$&$&')}"`);
const composite = fc
  .tuple(
    fc.option(fc.integer().map(String)),
    fc.option(text),
    fc.option(timestamptz),
    fc.option(fc.double().map(floatText)),
    fc.option(numeric),
  )
  .map((fields) => `(${fields.map(field).join(',')})`);

const hstoreText = (value: string | null) =>
  value === null ? 'NULL' : `"${value.replace(/["\\]/g, '\\$&')}"`;
const hstore = fc
  .array(fc.tuple(text, fc.option(text)), { maxLength: 4 })
  .map((pairs) => pairs.map(([k, v]) => `${hstoreText(k)}=>${hstoreText(v)}`).join(', '));

/** Column name, SQL type, and the input text of its values (null for SQL NULL). */
const COLUMNS: [string, string, fc.Arbitrary<string>][] = [
  ['i2', 'int2', fc.integer({ min: -32768, max: 32767 }).map(String)],
  ['i4', 'int4', fc.integer().map(String)],
  ['i8', 'int8', fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String)],
  ['num', 'numeric', numeric],
  ['f4', 'float4', fc.float().map(floatText)],
  ['f8', 'float8', fc.double().map(floatText)],
  ['t', 'text', text],
  ['bo', 'bool', fc.constantFrom('t', 'f')],
  ['d', 'date', dateText],
  ['ts', 'timestamp', timestamp],
  ['tstz', 'timestamptz', timestamptz],
  ['j', 'json', json],
  ['jb', 'jsonb', json],
  ['ia', 'int4[]', intArray],
  ['ta', 'text[]', arrayOf(text)],
  ['tsa', 'timestamptz[]', arrayOf(timestamptz)],
  ['m', 'mood', fc.constantFrom('sad', 'happy 😀', 'with "quote"')],
  ['pi', 'posint', fc.integer({ min: 1 }).map(String)],
  ['h', 'hstore', hstore],
  ['c', 'inner_t', composite],
  ['ca', 'inner_t[]', arrayOf(composite)],
];

const row = fc.tuple(...COLUMNS.map(([, , values]) => fc.option(values)));

const SETUP = `
  CREATE EXTENSION hstore;
  CREATE TYPE mood AS ENUM ('sad', 'happy 😀', 'with "quote"');
  CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
  CREATE TYPE inner_t AS (a int4, "b c" text, t timestamptz, f float8, n numeric);
  CREATE TABLE prop (id int4 PRIMARY KEY, ${COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')})`;

const INSERT = `INSERT INTO prop VALUES ($1, ${COLUMNS.map(([, type], i) => `$${i + 2}::${type}`).join(', ')})`;

const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: values_property
  publication: values_property
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: prop
    table: public.prop
    operations: [insert]
    webhook: \${RECEIVER}/prop
`;

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess | undefined;
const catalog = new TypeCatalog();
let inserted = 0;

before(async () => {
  // Newfoundland's half-hour offset, and its local mean time before 1935 (-03:30:52).
  db = await startDatabase('values_property', { settings: { TimeZone: 'America/St_Johns' } });
  await db.query(SETUP);
  const { rows } = await db.query<{ type: string }>(
    `SELECT atttypid::text AS type FROM pg_attribute
     WHERE attrelid = 'prop'::regclass AND attnum > 0 AND NOT attisdropped`,
  );
  await catalog.load(
    (sql, params) => db.query(sql, params),
    rows.map((r) => Number(r.type)),
  );
  receiver = await startReceiver();
  walhook = await WalhookProcess.start(CONFIG, { DATABASE_URL: db.url, RECEIVER: receiver.url });
});

after(async () => {
  await walhook?.stop();
  await receiver?.close();
  await db?.close();
});

/** row_to_json's text and each column's output text, unparsed, as pgoutput sends it. */
async function readRow(id: number): Promise<{ json: string; columns: Record<string, string | null> }> {
  const result = await db.client.query({
    text: 'SELECT row_to_json(p) AS json, p.* FROM prop p WHERE id = $1',
    values: [id],
    types: { getTypeParser: () => (value: string) => value },
  });
  const { json, ...columns } = result.rows[0];
  return { json, columns };
}

function render(columns: Record<string, string | null>, types: Map<string, number>): string {
  const fields = Object.entries(columns).map(([name, value]) => {
    const fragment = value === null ? 'null' : catalog.renderer(types.get(name) ?? 0)(value);
    return `${jsonString(name)}:${fragment}`;
  });
  return `{${fields.join(',')}}`;
}

test('generated rows render from their output text exactly as row_to_json renders them', async () => {
  const { rows } = await db.query<{ name: string; type: string }>(
    `SELECT attname AS name, atttypid::text AS type FROM pg_attribute
     WHERE attrelid = 'prop'::regclass AND attnum > 0 AND NOT attisdropped`,
  );
  const types = new Map(rows.map((r) => [r.name, Number(r.type)]));
  const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() ^ (Math.random() * 2 ** 31);
  await fc.assert(
    fc.asyncProperty(row, async (values) => {
      const id = ++inserted;
      await db.query(INSERT, [id, ...values]);
      const { json, columns } = await readRow(id);
      assert.equal(render(columns, types), json);
    }),
    { numRuns: RUNS, seed, endOnFailure: true },
  );
});

test('walhook delivers every generated row as row_to_json renders it', async () => {
  assert.ok(walhook?.assertAlive());
  const deliveries = await receiver.waitFor(inserted, '/prop', 60_000);
  assert.equal(deliveries.length, inserted);
  for (const delivery of deliveries) {
    const id = Number(jsonValueText(delivery.raw, ['event', 'data', 'new', 'id']));
    const { json } = await readRow(id);
    assert.equal(jsonValueText(delivery.raw, ['event', 'data', 'new']), json, `row ${id}`);
  }
});

test('a column of a type created while walhook runs is delivered as row_to_json renders it', async () => {
  await db.query(`CREATE TYPE late_t AS (m mood, tags text[], at timestamptz);
    CREATE DOMAIN late_d AS late_t[];
    ALTER TABLE prop ADD COLUMN late late_d`);
  const id = ++inserted;
  await db.query(
    `INSERT INTO prop (id, late) VALUES ($1, ARRAY[ROW('happy 😀', '{"a b",NULL}', '1900-01-01 00:00+00')]::late_d)`,
    [id],
  );
  const deliveries = await receiver.waitFor(inserted, '/prop', 30_000);
  const delivery = deliveries.find(
    (d) => jsonValueText(d.raw, ['event', 'data', 'new', 'id']) === String(id),
  );
  assert.ok(delivery, walhook?.tail());
  const { json } = await readRow(id);
  // Newfoundland's local mean time, before standard offsets.
  assert.ok(
    json.endsWith('"late":[{"m":"happy 😀","tags":["a b",null],"at":"1899-12-31T20:29:08-03:30:52"}]}'),
    json,
  );
  assert.equal(jsonValueText(delivery.raw, ['event', 'data', 'new']), json);
});
