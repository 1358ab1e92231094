import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess;

const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: triggers_test
  publication: triggers_test
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: inserts
    table: orders
    operations: [insert]
    webhook: \${RECEIVER}/inserts
  - name: big_paid
    table: public.orders
    operations: [insert, update]
    where:
      new: { status: { _eq: paid }, amount: { _gt: 9007199254740992 } }
    webhook: \${RECEIVER}/big_paid
  - name: status_changed
    table: orders
    operations: [update]
    columns: [status]
    webhook: \${RECEIVER}/status_changed
  - name: became_paid
    table: orders
    operations: [update]
    where:
      _and:
        - old: { status: { _neq: paid } }
        - new: { status: { _in: [paid, refunded] } }
      _not: { new: { note: { _ilike: "%test%" } } }
    webhook: \${RECEIVER}/became_paid
  - name: deletes
    table: orders
    operations: [delete]
    where: { old: { status: { _is_null: false } } }
    webhook: \${RECEIVER}/deletes
  - name: customers
    table: customers
    operations: [insert, update, delete, truncate]
    webhook: \${RECEIVER}/customers
`;

before(async () => {
  db = await startDatabase('triggers');
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, status text, amount numeric, note text)');
  await db.query('ALTER TABLE orders REPLICA IDENTITY FULL');
  await db.query('CREATE TABLE customers (id int PRIMARY KEY, name text)');
  receiver = await startReceiver();
  walhook = await WalhookProcess.start(CONFIG, { DATABASE_URL: db.url, RECEIVER: receiver.url });
});

after(async () => {
  await walhook?.stop();
  await receiver?.close();
  await db?.close();
});

/** Row ids delivered at `path`, sorted: different rows may be delivered in parallel, in any order. */
const ids = (path: string) =>
  receiver
    .at(path)
    .map((d) => d.body.event.data.new?.id ?? d.body.event.data.old?.id)
    .sort((a, b) => a - b);

test('operations, columns and where drop exactly what they should', async () => {
  await db.query(`INSERT INTO orders VALUES (1, 'new', 5, null)`);
  await db.query(`INSERT INTO orders VALUES (2, 'paid', 9007199254740993, null)`);
  await db.query(`INSERT INTO orders VALUES (3, 'paid', 9007199254740992, null)`);
  await db.query(`UPDATE orders SET note = 'gift' WHERE id = 1`);
  await db.query(`UPDATE orders SET status = 'paid' WHERE id = 1`);
  await db.query(`UPDATE orders SET status = 'refunded', note = 'a TEST order' WHERE id = 3`);
  await db.query(`UPDATE orders SET amount = 1e30 WHERE id = 1`);
  await db.query(`INSERT INTO orders VALUES (4, null, 1, null)`);
  await db.query('DELETE FROM orders WHERE id IN (3, 4)');
  await db.waitForConfirmed('triggers_test');

  assert.deepEqual(ids('/inserts'), [1, 2, 3, 4]);
  // 9007199254740992 is not > 9007199254740992, though both are the same JS number.
  assert.deepEqual(ids('/big_paid'), [1, 2]);
  assert.deepEqual(ids('/status_changed'), [1, 3], 'only updates that changed status');
  assert.deepEqual(ids('/became_paid'), [1], 'id 3 was already paid and its note matches _ilike %test%');
  assert.deepEqual(ids('/deletes'), [3], 'id 4 had a null status');
  assert.deepEqual(ids('/customers'), [], "another table's trigger receives nothing of this one's");
});

test('two triggers on one table both receive the same change, with distinct ids', async () => {
  await db.query(`INSERT INTO orders VALUES (10, 'paid', 99999999999999999999, 'x')`);
  await db.query(`INSERT INTO customers VALUES (1, 'ada')`);
  await db.waitForConfirmed('triggers_test');
  const inserted = receiver.at('/inserts').at(-1);
  const paid = receiver.at('/big_paid').at(-1);
  assert.equal(inserted?.body.event.data.new.id, 10);
  assert.equal(paid?.body.event.data.new.id, 10);
  assert.equal(inserted?.body.source.lsn, paid?.body.source.lsn);
  assert.notEqual(inserted?.body.id, paid?.body.id);
  assert.deepEqual(ids('/customers'), [1]);
  assert.equal(receiver.at('/customers')[0]?.body.trigger.name, 'customers');
});

test('filtered changes are counted apart from failures in /metrics', async () => {
  const res = await fetch(`http://127.0.0.1:${walhook.port}/metrics`);
  const text = await res.text();
  assert.match(text, /walhook_events_filtered_total\{trigger="status_changed",reason="columns"\} 2/);
  assert.match(text, /walhook_events_filtered_total\{trigger="deletes",reason="where"\} 1/);
  assert.match(text, /walhook_events_settled_total\{trigger="inserts",outcome="delivered"\} 5/);
});
