import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { jsonValueText } from '../../src/commands/demo/json-text.js';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess;

const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: payload_test
  publication: payload_test
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: items_all
    table: public.items
    operations: [insert, update, delete, truncate]
    webhook: \${RECEIVER}/items
    headers: { Authorization: "Bearer \${HOOK_TOKEN}", X-Team: search }
    retry: { num_retries: 3, interval_sec: 1 }
  - name: full_rows
    table: public.full_rows
    operations: [update, delete]
    webhook: \${RECEIVER}/full
`;

before(async () => {
  db = await startDatabase('payload');
  await db.query(`CREATE TABLE items (
    id bigint PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, num numeric, f4 real, f8 double precision,
    t text, vc varchar(40), b boolean, u uuid, j json, jb jsonb, d date, ts timestamp, tstz timestamptz)`);
  await db.query('CREATE TABLE full_rows (id int PRIMARY KEY, name text, qty int)');
  await db.query('ALTER TABLE full_rows REPLICA IDENTITY FULL');
  receiver = await startReceiver();
  walhook = await WalhookProcess.start(CONFIG, {
    DATABASE_URL: db.url,
    RECEIVER: receiver.url,
    HOOK_TOKEN: 's3cret-token',
  });
});

after(async () => {
  await walhook?.stop();
  await receiver?.close();
  await db?.close();
});

const INSERT_ROW = `INSERT INTO items VALUES (1, -32768, 2147483647, 9007199254740993,
  123456789012345678901234567890.123456789012345678901234567890, 3.14159, -0,
  E'unicode ☃ 😀 "quotes" \\\\ back\\nnew\\tline \\u0001', 'varchar''s', true,
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"big": 12345678901234567890123, "s": [1, 2]}',
  '{"nested": {"deep": [1, 2.50, null, true]}, "n": 99999999999999999999}',
  '2026-11-28', '2026-11-28 12:40:00.123456', '2026-11-28 12:40:00.654321+00')`;

async function rowJson(table: string, id: number): Promise<string> {
  const result = await db.query<{ j: string }>(
    `SELECT row_to_json(whole_row)::text AS j FROM ${table} whole_row WHERE id = $1`,
    [id],
  );
  return result.rows[0]?.j as string;
}

test('INSERT delivers the Hasura payload with the row exactly as row_to_json renders it', async () => {
  await db.query('BEGIN');
  await db.query(INSERT_ROW);
  const xid = (await db.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid')).rows[0]?.xid;
  await db.query('COMMIT');
  const [delivery] = await receiver.waitFor(1, '/items');
  assert.ok(delivery);
  const { body, raw, headers } = delivery;

  assert.equal(jsonValueText(raw, ['event', 'data', 'new']), await rowJson('items', 1));
  assert.equal(jsonValueText(raw, ['event', 'data', 'new', 'i8']), '9007199254740993');
  assert.equal(body.event.op, 'INSERT');
  assert.equal(body.event.data.old, null);
  assert.equal(body.event.session_variables, null);
  assert.equal(body.event.trace_context, null);
  assert.match(body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.match(body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.ok(Math.abs(Date.parse(body.created_at) - Date.now()) < 60_000);
  assert.deepEqual(body.trigger, { name: 'items_all' });
  assert.deepEqual(body.table, { schema: 'public', name: 'items' });
  assert.deepEqual(body.delivery_info, { max_retries: 3, current_retry: 0 });
  assert.match(body.source.lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
  assert.equal(String(body.source.xid), xid);
  assert.equal(body.source.index, 0);

  assert.equal(headers['content-type'], 'application/json');
  assert.match(String(headers['user-agent']), /^walhook\/\d+\.\d+\.\d+/);
  assert.equal(headers.authorization, 'Bearer s3cret-token');
  assert.equal(headers['x-team'], 'search');
});

test('UPDATE carries the new row and the key as old; DELETE the key as old', async () => {
  await db.query(
    `UPDATE items SET t = 'changed', num = 'NaN', f8 = 'Infinity', tstz = 'infinity' WHERE id = 1`,
  );
  const expectedNew = await rowJson('items', 1);
  await db.query('DELETE FROM items WHERE id = 1');
  const deliveries = await receiver.waitFor(3, '/items');
  const [update, del] = [deliveries[1], deliveries[2]];
  assert.ok(update && del);
  assert.equal(update.body.event.op, 'UPDATE');
  assert.equal(jsonValueText(update.raw, ['event', 'data', 'new']), expectedNew);
  assert.equal(jsonValueText(update.raw, ['event', 'data', 'old']), '{"id":1}');
  assert.equal(del.body.event.op, 'DELETE');
  assert.equal(jsonValueText(del.raw, ['event', 'data', 'old']), '{"id":1}');
  assert.equal(del.body.event.data.new, null);
});

test('TRUNCATE carries no rows; changes of one transaction count up their index', async () => {
  await db.query('BEGIN');
  await db.query('INSERT INTO items (id, t) VALUES (10, $1), (11, $2)', ['a', 'b']);
  await db.query('TRUNCATE items');
  await db.query('COMMIT');
  const deliveries = (await receiver.waitFor(6, '/items')).slice(3);
  assert.deepEqual(
    deliveries.map((d) => [d.body.event.op, d.body.source.index]),
    [
      ['INSERT', 0],
      ['INSERT', 1],
      ['TRUNCATE', 2],
    ],
  );
  const truncate = deliveries[2];
  assert.deepEqual(truncate?.body.event.data, { old: null, new: null });
  assert.equal(new Set(deliveries.map((d) => d.body.source.lsn)).size, 1, 'one transaction, one commit LSN');
  assert.equal(new Set(deliveries.map((d) => d.body.id)).size, 3);
});

test('REPLICA IDENTITY FULL gives the whole old row', async () => {
  await db.query(`INSERT INTO full_rows VALUES (1, 'widget', 5)`);
  const before = await rowJson('full_rows', 1);
  await db.query('UPDATE full_rows SET qty = 6 WHERE id = 1');
  const after = await rowJson('full_rows', 1);
  await db.query('DELETE FROM full_rows WHERE id = 1');
  const [update, del] = await receiver.waitFor(2, '/full');
  assert.ok(update && del);
  assert.equal(jsonValueText(update.raw, ['event', 'data', 'old']), before);
  assert.equal(jsonValueText(update.raw, ['event', 'data', 'new']), after);
  assert.equal(jsonValueText(del.raw, ['event', 'data', 'old']), after);
});

test('every delivery attempt is logged with id, trigger, table, op, lsn, attempt, status and duration', async () => {
  const line = await walhook.waitForLog((l) => l.msg === 'delivery attempt', 'a delivery log line');
  for (const field of ['event_id', 'trigger', 'table', 'op', 'lsn', 'attempt', 'status', 'duration_ms']) {
    assert.ok(field in line, `log line has ${field}`);
  }
  assert.ok(!JSON.stringify(walhook.logs).includes('s3cret-token'), 'header values never logged');
});
