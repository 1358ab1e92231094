import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

const EVENTS = 10_000;
const ROWS_PER_TRANSACTION = 50;

const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: standby_test
  publication: standby_test
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: items
    table: items
    operations: [insert]
    webhook: \${RECEIVER}/items
`;

let db: Database;
let receiver: Receiver;
const processes: WalhookProcess[] = [];

before(async () => {
  db = await startDatabase('standby');
  await db.query('CREATE TABLE items (id int PRIMARY KEY, note text)');
  receiver = await startReceiver();
});

after(async () => {
  for (const walhook of processes) await walhook.stop('SIGKILL');
  await receiver?.close();
  await db?.close();
});

async function start(): Promise<WalhookProcess> {
  const walhook = await WalhookProcess.start(CONFIG, { DATABASE_URL: db.url, RECEIVER: receiver.url });
  processes.push(walhook);
  return walhook;
}

async function role(walhook: WalhookProcess): Promise<string | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${walhook.port}/metrics`)).text();
  return /^walhook_role\{pipeline="default",role="(active|standby)"\} 1$/m.exec(text)?.[1];
}

test('one process reads the slot; after SIGKILL a standby takes over from the confirmed LSN, losing nothing', async (t) => {
  const first = await start();
  await waitUntil(async () => (await role(first)) === 'active', 'the first process to be active');
  const second = await start();
  await waitUntil(async () => (await role(second)) === 'standby', 'the second process to stand by');
  const readyz = await fetch(`http://127.0.0.1:${second.port}/readyz`);
  assert.equal(readyz.status, 200, 'a standby is ready');
  const { rows: readers } = await db.query(
    "SELECT count(*)::int AS n FROM pg_stat_replication WHERE application_name LIKE 'walhook%'",
  );
  assert.equal(readers[0]?.n, 1, 'exactly one walsender reads the slot');

  // A steady stream of small transactions, so the kill lands in the middle of it.
  const writing = (async () => {
    for (let from = 1; from <= EVENTS; from += ROWS_PER_TRANSACTION) {
      await db.query(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series($1::int, $2::int) g`, [
        from,
        from + ROWS_PER_TRANSACTION - 1,
      ]);
      await sleep(5);
    }
  })();
  await receiver.waitFor(EVENTS / 5, '/items');
  const killedAt = Date.now();
  await first.stop('SIGKILL');
  const deliveredAtKill = receiver.at('/items').length;

  await waitUntil(async () => (await role(second)) === 'active', 'the standby to take over', 15_000);
  const activeAfterMs = Date.now() - killedAt;
  await waitUntil(
    () => receiver.at('/items').length > deliveredAtKill,
    'a delivery from the new reader',
    15_000,
  );
  const firstDeliveryAfterMs = (receiver.at('/items')[deliveredAtKill]?.at ?? Date.now()) - killedAt;
  await writing;

  await waitUntil(
    () => new Set(receiver.at('/items').map((d) => d.body.id)).size >= EVENTS,
    `${EVENTS} distinct events`,
    120_000,
  );
  const deliveries = receiver.at('/items');
  const byId = new Map<string, string>();
  for (const d of deliveries) {
    const { delivery_info: _, ...event } = d.body;
    const text = JSON.stringify(event);
    const seen = byId.get(d.body.id);
    assert.ok(seen === undefined || seen === text, `id ${d.body.id} was sent with two different events`);
    byId.set(d.body.id, text);
  }
  const rowIds = new Set(deliveries.map((d) => d.body.event.data.new.id));
  assert.equal(rowIds.size, EVENTS, 'a row was never delivered');
  assert.equal(byId.size, EVENTS, 'one id per row');
  t.diagnostic(
    `takeover: standby active ${activeAfterMs} ms after SIGKILL, first delivery from it after ${firstDeliveryAfterMs} ms; ` +
      `${deliveries.length - EVENTS} duplicates (same ids) of ${EVENTS} events`,
  );
  assert.ok(firstDeliveryAfterMs < 10_000, `takeover took ${firstDeliveryAfterMs} ms`);
  second.assertAlive();
});
