import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, lsnValue, startDatabase } from '../helpers/database.js';
import { type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess;
const held: (() => void)[] = [];

const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: delivery_test
  publication: delivery_test
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: flaky
    table: flaky
    operations: [insert]
    webhook: \${RECEIVER}/flaky
    retry: { num_retries: 3, interval_sec: 0.2, backoff: fixed }
  - name: broken
    table: broken
    operations: [insert]
    webhook: \${RECEIVER}/broken
    retry: { num_retries: 1, interval_sec: 0.1 }
  - name: slow
    table: slow
    operations: [insert]
    webhook: \${RECEIVER}/slow
    retry: { num_retries: 2, interval_sec: 0.1, timeout_sec: 0.5 }
  - name: held
    table: held
    operations: [insert]
    webhook: \${RECEIVER}/held
`;

before(async () => {
  db = await startDatabase('delivery');
  for (const table of ['flaky', 'broken', 'slow', 'held']) {
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
  }
  await db.query('CREATE TABLE unpublished (id int)');
  receiver = await startReceiver((delivery, attempt) => {
    if (delivery.path === '/flaky') return attempt <= 2 ? 500 : 200;
    if (delivery.path === '/broken') return 503;
    if (delivery.path === '/slow') return attempt === 1 ? null : 200;
    if (delivery.path === '/held') return new Promise<number>((resolve) => held.push(() => resolve(200)));
    return 200;
  });
  walhook = await WalhookProcess.start(CONFIG, { DATABASE_URL: db.url, RECEIVER: receiver.url });
});

after(async () => {
  for (const release of held) release();
  await walhook?.stop();
  await receiver?.close();
  await db?.close();
});

test('a receiver that fails twice then succeeds gets the event with current_retry 2', async () => {
  await db.query('INSERT INTO flaky VALUES (1)');
  const deliveries = await receiver.waitFor(3, '/flaky');
  assert.deepEqual(
    deliveries.map((d) => d.body.delivery_info),
    [0, 1, 2].map((n) => ({ max_retries: 3, current_retry: n })),
  );
  assert.equal(new Set(deliveries.map((d) => d.body.id)).size, 1, 'one event id across attempts');
  const gaps = deliveries.slice(1).map((d, i) => d.at - (deliveries[i]?.at ?? 0));
  assert.ok(
    gaps.every((gap) => gap >= 180),
    `attempts wait interval_sec apart (${gaps})`,
  );
  await db.waitForConfirmed('delivery_test');
  const attempts = walhook.logs.filter((l) => l.msg === 'delivery attempt' && l.trigger === 'flaky');
  assert.deepEqual(
    attempts.map((l) => [l.status, l.outcome]),
    [
      [500, 'retry'],
      [500, 'retry'],
      [200, 'delivered'],
    ],
  );
});

test('a timeout is retried', async () => {
  await db.query('INSERT INTO slow VALUES (1)');
  const deliveries = await receiver.waitFor(2, '/slow');
  assert.equal(deliveries[1]?.body.delivery_info.current_retry, 1);
  await db.waitForConfirmed('delivery_test');
  const first = walhook.logs.find((l) => l.msg === 'delivery attempt' && l.trigger === 'slow');
  assert.equal(first?.error?.type, 'timeout');
});

test('when retries run out the failure is logged as an error and the event settles', async () => {
  await db.query('INSERT INTO broken VALUES (1)');
  await receiver.waitFor(2, '/broken');
  const failure = await walhook.waitForLog(
    (l) => l.level === 'error' && l.code === 'WALHOOK_ERR_DELIVERY_FAILED',
    'the final failure',
  );
  assert.equal(failure.trigger, 'broken');
  await db.waitForConfirmed('delivery_test');
  await sleep(500);
  assert.equal(receiver.at('/broken').length, 2, 'num_retries 1 means two attempts');
});

test('the slot is confirmed only once the transaction is settled', async () => {
  await db.waitForConfirmed('delivery_test');
  const before = await db.confirmedLsn('delivery_test');
  await db.query('INSERT INTO held VALUES (1)');
  await receiver.waitFor(1, '/held');
  // Other databases' traffic and keepalives keep arriving; none may move the slot past the held event.
  for (let i = 0; i < 5; i++) {
    await db.query('INSERT INTO unpublished VALUES (1)');
    await sleep(200);
  }
  assert.equal(
    await db.confirmedLsn('delivery_test'),
    before,
    'no confirmation while the event is in flight',
  );
  for (const release of held.splice(0)) release();
  const confirmed = await db.waitForConfirmed('delivery_test');
  assert.ok(lsnValue(confirmed) > lsnValue(before as string));
});

test('writes to unpublished tables only: the slot follows the WAL end and retains nothing', async () => {
  await db.waitForConfirmed('delivery_test');
  for (let i = 0; i < 3; i++) await db.query('INSERT INTO unpublished SELECT generate_series(1, 1000)');
  await db.waitForConfirmed('delivery_test');
  await waitUntil(async () => {
    const result = await db.query<{ lag: string }>(
      `SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::text AS lag FROM pg_replication_slots WHERE slot_name = 'delivery_test'`,
    );
    return Number(result.rows[0]?.lag) === 0;
  }, 'zero lag');
});
