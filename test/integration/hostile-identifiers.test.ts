import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { type CliResult, runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

/** The name of the schema, the table and its key column: an injection attempt if ever unquoted. */
const EVIL = 'x"; drop table y; --';
/** Non-key columns of the hostile table: reserved words, upper case, unicode, dots, quotes, spaces. */
const COLUMNS = [
  'select',
  'user',
  'Order',
  'Straße',
  '表',
  '🎉 party',
  'dotted.col',
  'quote"col',
  'big "toast" col',
];
const FULL_SCHEMA = 'weird schema';
const FULL_TABLE = 'Order.表 🎉';

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const yamlQuoted = (text: string) => `'${text.replaceAll("'", "''")}'`;
const HOSTILE = `${ident(EVIL)}.${ident(EVIL)}`;
const FULL = `${ident(FULL_SCHEMA)}.${ident(FULL_TABLE)}`;

// `keep`: updates fetch unchanged TOASTed values by primary key. The dead-letter table's name is two
// reserved words (the config allows only lower-case identifiers there).
const CONFIG_KEEP = `
source:
  connection: \${DATABASE_URL}
  slot: hostile_keep
  publication: hostile_keep
  publication_check_sec: 0.5
server:
  host: 127.0.0.1
  port: \${PORT}
dead_letter: { table: select.order }
triggers:
  - name: hostile_all
    table: ${yamlQuoted(HOSTILE)}
    operations: [insert, update, delete]
    webhook: \${RECEIVER}/all
  - name: hostile_where
    table: ${yamlQuoted(HOSTILE)}
    operations: [insert]
    where:
      new: { ${yamlQuoted('quote"col')}: { _eq: match }, ${yamlQuoted('🎉 party')}: { _is_null: false } }
    webhook: \${RECEIVER}/where
  - name: hostile_dead
    table: ${yamlQuoted(HOSTILE)}
    operations: [insert]
    where:
      new: { Order: { _eq: 666 } }
    webhook: \${RECEIVER}/dead
    retry: { num_retries: 0 }
  - name: dotted_table
    table: '"a"."b.c"'
    operations: [insert]
    webhook: \${RECEIVER}/dotted-table
  - name: dotted_schema
    table: '"a.b"."c"'
    operations: [insert]
    webhook: \${RECEIVER}/dotted-schema
`;

const CONFIG_FULL = `
source:
  connection: \${DATABASE_URL}
  slot: hostile_full
  publication: hostile_full
  replica_identity: full
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: full_columns
    table: ${yamlQuoted(FULL)}
    operations: [update, delete]
    columns: [Straße]
    webhook: \${RECEIVER}/full
`;

let db: Database;
let receiver: Receiver;
let keep: WalhookProcess;
let full: WalhookProcess;
let keepConfig: string;
let validateKeep: CliResult;
let validateFull: CliResult;
let deadAnswer = 500;

before(async () => {
  db = await startDatabase('hostile_identifiers');
  await db.query('CREATE TABLE y (id int PRIMARY KEY)');
  await db.query('INSERT INTO y VALUES (1)');
  await db.query(`CREATE SCHEMA ${ident(EVIL)}`);
  await db.query(
    `CREATE TABLE ${HOSTILE} (${ident(EVIL)} int PRIMARY KEY, ${COLUMNS.map(
      (c) => `${ident(c)} ${c === 'user' || c === 'Order' ? 'int' : 'text'}`,
    ).join(', ')})`,
  );
  await db.query(`CREATE SCHEMA ${ident(FULL_SCHEMA)}`);
  await db.query(`CREATE TABLE ${FULL} ("ID" int PRIMARY KEY, "Straße" text, "select" text)`);
  await db.query('CREATE SCHEMA a');
  await db.query('CREATE SCHEMA "a.b"');
  await db.query('CREATE TABLE a."b.c" (id int PRIMARY KEY)');
  await db.query('CREATE TABLE "a.b".c (id int PRIMARY KEY)');
  // An existing publication that has "a.b"."c" but not "a"."b.c": both read "a.b.c" when joined with a dot.
  await db.query('CREATE PUBLICATION hostile_keep FOR TABLE "a.b".c');

  receiver = await startReceiver((delivery) => (delivery.path === '/dead' ? deadAnswer : 200));
  const env = { DATABASE_URL: db.url, RECEIVER: receiver.url, PORT: '0' };
  keepConfig = await writeConfig(CONFIG_KEEP);
  const fullConfig = await writeConfig(CONFIG_FULL);
  [validateKeep, validateFull] = await Promise.all([
    runCli(['validate', '--config', keepConfig], env),
    runCli(['validate', '--config', fullConfig], env),
  ]);
  keep = await WalhookProcess.start(CONFIG_KEEP, env);
  full = await WalhookProcess.start(CONFIG_FULL, env);
});

after(async () => {
  await keep?.stop();
  await full?.stop();
  await receiver?.close();
  await db?.close();
});

/** One row of the hostile table, every column set. */
function row(id: number, overrides: Record<string, string | number | null> = {}) {
  const values: Record<string, string | number | null> = {
    [EVIL]: id,
    select: 'sel',
    user: 7,
    Order: id,
    Straße: 'weiß',
    表: '值',
    '🎉 party': '🎊',
    'dotted.col': 'a.b',
    'quote"col': 'nope',
    'big "toast" col': 'small',
    ...overrides,
  };
  return values;
}

async function insert(values: Record<string, unknown>): Promise<void> {
  const names = Object.keys(values);
  await db.query(
    `INSERT INTO ${HOSTILE} (${names.map(ident).join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})`,
    Object.values(values),
  );
}

const bodiesAt = (path: string) => receiver.at(path).map((d) => d.body);

test('walhook validate reads the hostile tables and quotes them in what it prints', () => {
  assert.equal(validateKeep.code, 0, validateKeep.stdout + validateKeep.stderr);
  assert.match(
    validateKeep.stdout,
    /ok {4}triggers\[0\] \(hostile_all\): table "x""; drop table y; --"\."x""; drop table y; --" exists/,
  );
  assert.match(validateKeep.stdout, /triggers\[3\] \(dotted_table\): table "a"\."b\.c" exists/);
  assert.equal(validateFull.code, 0, validateFull.stdout + validateFull.stderr);
  assert.ok(
    validateFull.stdout.includes(`run ALTER TABLE ${FULL} REPLICA IDENTITY FULL`),
    validateFull.stdout,
  );
});

test('insert, update and delete arrive with the exact schema, table and column names', async () => {
  await insert(row(1));
  await db.query(`UPDATE ${HOSTILE} SET "Straße" = 'straße 2' WHERE ${ident(EVIL)} = 1`);
  await db.query(`DELETE FROM ${HOSTILE} WHERE ${ident(EVIL)} = 1`);
  await receiver.waitFor(3, '/all');
  const [inserted, updated, deleted] = bodiesAt('/all');
  for (const body of [inserted, updated, deleted]) {
    assert.deepEqual(body.table, { schema: EVIL, name: EVIL });
  }
  assert.deepEqual(inserted.event.data.new, row(1));
  assert.equal(updated.event.op, 'UPDATE');
  assert.deepEqual(updated.event.data.new, row(1, { Straße: 'straße 2' }));
  assert.equal(deleted.event.op, 'DELETE');
  assert.deepEqual(deleted.event.data.old, { [EVIL]: 1 }, 'the key column, by its exact name');
  const metrics = await (await fetch(`http://127.0.0.1:${keep.port}/metrics`)).text();
  assert.ok(
    metrics.includes('table="x\\"; drop table y; --.x\\"; drop table y; --"'),
    'the table label is escaped in the exposition',
  );
});

test('a where filter on quoted, emoji columns fires only for matching rows', async () => {
  await insert(row(2, { 'quote"col': 'nope' }));
  await insert(row(3, { 'quote"col': 'match' }));
  await insert(row(4, { 'quote"col': 'match', '🎉 party': null }));
  await db.waitForConfirmed('hostile_keep');
  assert.deepEqual(
    bodiesAt('/where').map((b) => b.event.data.new[EVIL]),
    [3],
  );
});

test('an unchanged TOASTed value in a quoted column is fetched by a quoted primary key', async () => {
  const big = (
    await db.query<{ big: string }>(
      "SELECT string_agg(md5(i::text), '') AS big FROM generate_series(1, 4000) AS i",
    )
  ).rows[0]?.big as string;
  await insert(row(10, { 'big "toast" col': big }));
  await db.query(`UPDATE ${HOSTILE} SET "select" = 'changed' WHERE ${ident(EVIL)} = 10`);
  await db.waitForConfirmed('hostile_keep');
  const update = bodiesAt('/all').find((b) => b.event.op === 'UPDATE' && b.event.data.new[EVIL] === 10);
  assert.ok(update, keep.tail());
  assert.deepEqual(update.event.toast_fetched_columns, ['big "toast" col']);
  assert.equal(update.event.data.new['big "toast" col'], big);
  assert.equal(update.event.data.new.select, 'changed');
});

test('a failed event on the hostile table becomes a dead letter and is redelivered intact', async () => {
  await insert(row(20, { Order: 666 }));
  await keep.waitForLog((l) => l.code === 'WALHOOK_ERR_DELIVERY_FAILED', 'the final failure');
  await db.waitForConfirmed('hostile_keep');
  const stored = await db.query<{ id: string; table_name: string; body: string }>(
    'SELECT id, table_name, body FROM "select"."order"',
  );
  assert.equal(stored.rows.length, 1);
  const letter = stored.rows[0] as { id: string; table_name: string; body: string };
  assert.equal(letter.table_name, `${EVIL}.${EVIL}`);
  assert.deepEqual(JSON.parse(letter.body).table, { schema: EVIL, name: EVIL });

  const env = { DATABASE_URL: db.url, RECEIVER: receiver.url, PORT: '0' };
  const listed = await runCli(['dlq', 'list', '--config', keepConfig, '--json'], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(JSON.parse(listed.stdout.trim()).table, `${EVIL}.${EVIL}`);
  deadAnswer = 200;
  const redelivered = await runCli(['dlq', 'redeliver', '--config', keepConfig, '--id', letter.id], env);
  assert.equal(redelivered.code, 0, redelivered.stdout + redelivered.stderr);
  const last = receiver.accepted('/dead').at(-1);
  assert.deepEqual(last?.body.table, { schema: EVIL, name: EVIL });
  assert.equal(last?.raw, letter.body, 'the stored body, byte for byte');
  const left = await db.query('SELECT 1 FROM "select"."order"');
  assert.equal(left.rows.length, 0);
});

test('tables whose dotted names collide when joined are told apart', async () => {
  // Walhook added "a"."b.c" to the publication that already had "a.b"."c".
  const published = await db.query<{ schemaname: string; tablename: string }>(
    "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = 'hostile_keep' AND schemaname LIKE 'a%' ORDER BY 1",
  );
  assert.deepEqual(
    published.rows.map((r) => [r.schemaname, r.tablename]),
    [
      ['a', 'b.c'],
      ['a.b', 'c'],
    ],
  );
  await db.query('INSERT INTO a."b.c" VALUES (1)');
  await db.query('INSERT INTO "a.b".c VALUES (2)');
  await receiver.waitFor(1, '/dotted-table');
  await receiver.waitFor(1, '/dotted-schema');
  assert.deepEqual(bodiesAt('/dotted-table')[0].table, { schema: 'a', name: 'b.c' });
  assert.deepEqual(bodiesAt('/dotted-schema')[0].table, { schema: 'a.b', name: 'c' });
});

test('a hostile table removed from the publication is added back and streams again', async () => {
  await db.query(`ALTER PUBLICATION hostile_keep DROP TABLE ${HOSTILE}`);
  const added = await keep.waitForLog(
    (l) => l.msg === 'table added back to the publication; changes before this were not captured',
    'the table to be added back',
  );
  assert.equal(added.table, HOSTILE);
  const before = receiver.at('/all').length;
  await insert(row(30));
  await receiver.waitFor(before + 1, '/all');
  assert.deepEqual(bodiesAt('/all').at(-1).event.data.new, row(30));
});

test('replica_identity: full on a hostile table, with columns: on a unicode column', async () => {
  const identity = await db.query<{ relreplident: string }>(
    'SELECT relreplident FROM pg_class WHERE oid = to_regclass($1)',
    [FULL],
  );
  assert.equal(identity.rows[0]?.relreplident, 'f');
  await db.query(`INSERT INTO ${FULL} VALUES (1, 'a', 'b')`);
  await db.query(`UPDATE ${FULL} SET "select" = 'not watched' WHERE "ID" = 1`);
  await db.query(`UPDATE ${FULL} SET "Straße" = 'watched' WHERE "ID" = 1`);
  await db.query(`DELETE FROM ${FULL} WHERE "ID" = 1`);
  await receiver.waitFor(2, '/full');
  await db.waitForConfirmed('hostile_full');
  const [updated, deleted] = bodiesAt('/full');
  assert.equal(bodiesAt('/full').length, 2, 'the update of an unwatched column did not fire');
  assert.deepEqual(updated.table, { schema: FULL_SCHEMA, name: FULL_TABLE });
  assert.deepEqual(updated.event.data.old, { ID: 1, Straße: 'a', select: 'not watched' });
  assert.deepEqual(updated.event.data.new, { ID: 1, Straße: 'watched', select: 'not watched' });
  assert.deepEqual(deleted.event.data.old, { ID: 1, Straße: 'watched', select: 'not watched' });
});

test('table y survives, and walhook is still running', async () => {
  const y = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM public.y');
  assert.equal(y.rows[0]?.n, 1);
  keep.assertAlive();
  full.assertAlive();
});
