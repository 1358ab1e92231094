import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { jsonValueText } from '../../src/commands/demo/json-text.js';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess | undefined;

before(async () => {
  db = await startDatabase('rowshape');
  receiver = await startReceiver();
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await receiver?.close();
  await db?.close();
});

function config(slot: string, triggers: string, source = ''): string {
  return `
source:
  connection: \${DATABASE_URL}
  slot: ${slot}
  publication: ${slot}
${source}
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
${triggers}`;
}

const trigger = (name: string, table: string, ops = '[insert, update, delete]') => `  - name: ${name}
    table: ${table}
    operations: ${ops}
    webhook: \${RECEIVER}/${name}
`;

async function run(yaml: string): Promise<WalhookProcess> {
  walhook = await WalhookProcess.start(yaml, { DATABASE_URL: db.url, RECEIVER: receiver.url });
  return walhook;
}

async function stop(): Promise<void> {
  assert.equal(await walhook?.stop(), 0);
  walhook = undefined;
}

async function rowJson(table: string, where: string): Promise<string> {
  const result = await db.query<{ j: string }>(
    `SELECT row_to_json(r)::text AS j FROM ${table} r WHERE ${where}`,
  );
  return result.rows[0]?.j as string;
}

/** Text that TOAST stores out of line: longer than 2 kB after compression, so random. */
const bigText = () => randomBytes(12_000).toString('base64');

test('an update leaving a TOASTed column unchanged: fetched by key (default), omitted and listed, or taken from the FULL old row', async () => {
  await db.query('CREATE TABLE docs (id int PRIMARY KEY, title text, body text)');
  await db.query('CREATE TABLE docs_full (id int PRIMARY KEY, title text, body text)');
  await db.query('ALTER TABLE docs_full REPLICA IDENTITY FULL');
  await db.query('CREATE TABLE docs_omit (id int PRIMARY KEY, title text, body text)');
  await run(
    config(
      'toast_test',
      trigger('fetched', 'docs', '[update]') + trigger('from_old', 'docs_full', '[update]'),
    ),
  );
  for (const table of ['docs', 'docs_full', 'docs_omit']) {
    await db.query(`INSERT INTO ${table} VALUES (1, 'first', $1)`, [bigText()]);
    await db.query(`UPDATE ${table} SET title = 'second' WHERE id = 1`);
  }
  const [fetched] = await receiver.waitFor(1, '/fetched');
  const [full] = await receiver.waitFor(1, '/from_old');
  assert.ok(fetched && full);
  assert.equal(jsonValueText(fetched.raw, ['event', 'data', 'new']), await rowJson('docs', 'id = 1'));
  assert.deepEqual(fetched.body.event.toast_fetched_columns, ['body']);
  assert.equal(jsonValueText(full.raw, ['event', 'data', 'new']), await rowJson('docs_full', 'id = 1'));
  assert.equal(full.body.event.toast_fetched_columns, undefined, 'the old row had it');
  await stop();

  await run(config('toast_omit_test', trigger('omitted', 'docs_omit', '[update]'), '  toast: omit'));
  await db.query(`UPDATE docs_omit SET title = 'third' WHERE id = 1`);
  const [omitted] = await receiver.waitFor(1, '/omitted');
  assert.deepEqual(omitted?.body.event.data.new, { id: 1, title: 'third' }, 'left out, never null');
  assert.deepEqual(omitted?.body.event.unchanged_toast_columns, ['body']);
  await stop();
});

test('a trigger on a partitioned table receives every partition under the parent name', async () => {
  await db.query(`CREATE TABLE measurements (id int, region text, value int, PRIMARY KEY (id, region))
    PARTITION BY LIST (region)`);
  await db.query(`CREATE TABLE measurements_eu PARTITION OF measurements FOR VALUES IN ('eu')`);
  await db.query(`CREATE TABLE measurements_us PARTITION OF measurements FOR VALUES IN ('us')`);
  await run(config('partition_test', trigger('measurements', 'measurements')));
  await db.query(`INSERT INTO measurements VALUES (1, 'eu', 10), (2, 'us', 20)`);
  await db.query(`UPDATE measurements SET value = 11 WHERE id = 1`);
  const deliveries = await receiver.waitFor(3, '/measurements');
  assert.deepEqual(
    deliveries.map((d) => [d.body.table.name, d.body.event.op, d.body.event.data.new.region]).sort(),
    [
      ['measurements', 'INSERT', 'eu'],
      ['measurements', 'INSERT', 'us'],
      ['measurements', 'UPDATE', 'eu'],
    ],
  );
  await stop();
});

test('nothing of an aborted transaction or of a subtransaction rolled back to a savepoint is delivered', async () => {
  await db.query('CREATE TABLE ledger (id int PRIMARY KEY, note text)');
  await run(config('abort_test', trigger('ledger', 'ledger')));
  await db.query('BEGIN');
  await db.query(`INSERT INTO ledger VALUES (1, 'aborted')`);
  await db.query('ROLLBACK');
  await db.query('BEGIN');
  await db.query(`INSERT INTO ledger VALUES (2, 'kept before savepoint')`);
  await db.query('SAVEPOINT s');
  await db.query(`INSERT INTO ledger VALUES (3, 'rolled back')`);
  await db.query(`UPDATE ledger SET note = 'rolled back too' WHERE id = 2`);
  await db.query('ROLLBACK TO SAVEPOINT s');
  await db.query(`INSERT INTO ledger VALUES (4, 'kept after savepoint')`);
  await db.query('COMMIT');
  await db.waitForConfirmed('abort_test');
  assert.deepEqual(
    receiver.at('/ledger').map((d) => d.body.event.data.new.note),
    ['kept before savepoint', 'kept after savepoint'],
  );
  assert.deepEqual(
    receiver.at('/ledger').map((d) => d.body.source.index),
    [0, 1],
    'indexes count the changes that committed',
  );
  await stop();
});

test('source.replica_identity: full sets REPLICA IDENTITY FULL on the tables whose triggers need old values', async () => {
  await db.query('CREATE TABLE accounts (id int PRIMARY KEY, status text, balance int)');
  const yaml = config(
    'identity_test',
    `${trigger('accounts', 'accounts', '[update]')}    columns: [status]\n`,
    '  replica_identity: full',
  );
  const started = await run(yaml);
  const identity = await db.query<{ relreplident: string }>(
    `SELECT relreplident FROM pg_class WHERE oid = 'accounts'::regclass`,
  );
  assert.equal(identity.rows[0]?.relreplident, 'f');
  assert.ok(
    started.logs.some((l) => l.msg === 'replica identity set to FULL' && l.table === '"public"."accounts"'),
  );
  await db.query(`INSERT INTO accounts VALUES (1, 'open', 5)`);
  await db.query('UPDATE accounts SET balance = 6 WHERE id = 1');
  await db.query(`UPDATE accounts SET status = 'closed' WHERE id = 1`);
  const [update] = await receiver.waitFor(1, '/accounts');
  await db.waitForConfirmed('identity_test');
  assert.equal(receiver.at('/accounts').length, 1, 'the balance update changed no listed column');
  assert.deepEqual(update?.body.event.data.old, { id: 1, status: 'open', balance: 6 });
  await stop();

  await db.query('CREATE TABLE notes (id int PRIMARY KEY, body text)');
  const keep = await run(
    config('identity_keep_test', `${trigger('notes', 'notes', '[update]')}    columns: [body]\n`),
  );
  const warning = keep.logs.find((l) => l.msg === 'table lacks REPLICA IDENTITY FULL');
  assert.equal(warning?.level, 'warn');
  assert.equal(warning?.statement, 'ALTER TABLE "public"."notes" REPLICA IDENTITY FULL');
  await stop();
});

test('schema changes while streaming: each event has the shape of its moment; a re-created table is reported and re-added', async () => {
  await db.query('CREATE TABLE evolving (id int PRIMARY KEY, a text, b int)');
  const live = await run(
    config(
      'schema_test',
      trigger('evolving', 'evolving', '[insert, update]'),
      '  publication_check_sec: 0.5',
    ),
  );
  const expected: string[] = [];
  const step = async (sql: string, insert: string) => {
    if (sql) await db.query(sql);
    await db.query(insert);
    expected.push(await rowJson('evolving', `id = (SELECT max(id) FROM evolving)`));
  };
  await step('', `INSERT INTO evolving VALUES (1, 'one', 1)`);
  await step(
    'ALTER TABLE evolving ADD COLUMN c jsonb',
    `INSERT INTO evolving VALUES (2, 'two', 2, '{"x": 1}')`,
  );
  await step('ALTER TABLE evolving DROP COLUMN a', `INSERT INTO evolving (id, b, c) VALUES (3, 3, '[]')`);
  await step('ALTER TABLE evolving RENAME COLUMN b TO bee', `INSERT INTO evolving (id, bee) VALUES (4, 4)`);
  await step(
    'ALTER TABLE evolving ALTER COLUMN bee TYPE numeric',
    `INSERT INTO evolving (id, bee) VALUES (5, 5.5)`,
  );
  // Each insert is its own row, so with per-row ordering their deliveries may overtake each other.
  const deliveries = await receiver.waitFor(5, '/evolving');
  assert.deepEqual(
    deliveries
      .sort((a, b) => a.body.event.data.new.id - b.body.event.data.new.id)
      .map((d) => jsonValueText(d.raw, ['event', 'data', 'new'])),
    expected,
  );

  await db.query('DROP TABLE evolving');
  await db.query('CREATE TABLE evolving (id int PRIMARY KEY, fresh boolean)');
  const reported = await live.waitForLog((l) => l.code === 'WALHOOK_ERR_TABLE_UNPUBLISHED', 'the report');
  assert.equal(reported.level, 'error');
  await live.waitForLog((l) => l.msg?.startsWith('table added back to the publication'), 'the re-add');
  await db.query('INSERT INTO evolving VALUES (6, true)');
  const [fresh] = (await receiver.waitFor(6, '/evolving')).slice(5);
  assert.deepEqual(fresh?.body.event.data.new, { id: 6, fresh: true });
  await waitUntil(async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${live.port}/metrics`)).text();
    return /^walhook_unpublished_tables\{pipeline="default"\} 0$/m.test(metrics);
  }, 'the gauge back at 0');
  await stop();
});

test('a table added to the config is added to the publication at the next start', async () => {
  await db.query('CREATE TABLE first_table (id int PRIMARY KEY)');
  await db.query('CREATE TABLE second_table (id int PRIMARY KEY)');
  await run(config('grow_test', trigger('first', 'first_table', '[insert]')));
  await stop();
  const grown = await run(
    config(
      'grow_test',
      trigger('first', 'first_table', '[insert]') + trigger('second', 'second_table', '[insert]'),
    ),
  );
  assert.ok(grown.logs.some((l) => l.msg === 'tables added to publication'));
  await db.query('INSERT INTO second_table VALUES (1)');
  const [delivery] = await receiver.waitFor(1, '/second');
  assert.equal(delivery?.body.table.name, 'second_table');
  await stop();
});

test('stored generated columns arrive from Postgres 18 on; earlier versions do not decode them', async () => {
  await db.query(
    'CREATE TABLE priced (id int PRIMARY KEY, net int, gross int GENERATED ALWAYS AS (net * 2) STORED)',
  );
  await run(config('generated_test', trigger('priced', 'priced', '[insert]')));
  await db.query('INSERT INTO priced (id, net) VALUES (1, 21)');
  const [delivery] = await receiver.waitFor(1, '/priced');
  if (db.server.major >= 18) {
    assert.equal(
      jsonValueText(delivery?.raw ?? '', ['event', 'data', 'new']),
      await rowJson('priced', 'id = 1'),
    );
  } else {
    assert.deepEqual(delivery?.body.event.data.new, { id: 1, net: 21 });
  }
  await stop();
});
