import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

/**
 * Any logged event redelivered (issue 20): `pg_redeliver_event` and `POST /events/:id/redeliver` send
 * a delivered event again from the invocation log, through the dead letters' redelivery.
 */
const ADMIN_TOKEN = randomBytes(24).toString('base64url');
const SLOT = 'redeliver_logged_test';
const LOG_TABLE = 'walhook.redeliver_logged_log';

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess | undefined;
/** The receiver answers /orders with 503 while this is set. */
let ordersDown = false;

const trigger = (name: string, extra = '') => `
  - name: ${name}
    table: orders
    operations: [insert]
    webhook: \${RECEIVER}/${name}${extra}`;

const config = (withGone: boolean) => `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
server:
  host: 127.0.0.1
  port: \${PORT}
  admin_token: \${ADMIN_TOKEN}
invocation_log: { table: ${LOG_TABLE} }
triggers:${trigger('orders')}${trigger(
  'shaped',
  `
    request_transform:
      version: 2
      method: PUT
      url: "{{$base_url}}/row/{{$body.event.data.new.id}}"
      body:
        action: transform
        template: '{"event_id": {{$body.id}}, "note": {{$body.event.data.new.note}}}'`,
)}${withGone ? trigger('gone') : ''}
`;

const start = async (withGone: boolean) => {
  walhook = await WalhookProcess.start(config(withGone), {
    DATABASE_URL: db.url,
    RECEIVER: receiver.url,
    ADMIN_TOKEN,
  });
};

before(async () => {
  db = await startDatabase(SLOT);
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
  receiver = await startReceiver((delivery) => (delivery.path === '/orders' && ordersDown ? 503 : 200));
  await start(true);
});

after(async () => {
  await walhook?.stop();
  await receiver?.close();
  await db?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: answers are read field by field
type Json = any;

async function metadata(type: string, args: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`http://127.0.0.1:${walhook?.port}/v1/metadata`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hasura-admin-secret': ADMIN_TOKEN },
    body: JSON.stringify({ type, args }),
  });
  return { status: res.status, body: await res.json() };
}

async function redeliver(id: string, token = ADMIN_TOKEN): Promise<{ status: number; body: Json }> {
  const res = await fetch(`http://127.0.0.1:${walhook?.port}/events/${encodeURIComponent(id)}/redeliver`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: '{}',
  });
  return { status: res.status, body: await res.json() };
}

/** The event's attempts in the log, as pg_get_event_invocation_logs answers them. */
async function invocations(triggerName: string, eventId: string): Promise<Json[]> {
  const answer = await metadata('pg_get_event_invocation_logs', { name: triggerName, limit: 100 });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.filter((i: Json) => i.event_id === eventId);
}

const waitLogged = (triggerName: string, eventId: string, count: number) =>
  waitUntil(
    async () => (await invocations(triggerName, eventId)).length >= count,
    `${count} logged attempts of ${triggerName}'s event ${eventId}`,
  );

/** Event ids by trigger, set by the first test. */
const ids: Record<string, string> = {};
let shapedRaw = '';

test('a delivered event is sent again, same id and body, by pg_redeliver_event and POST /events/:id/redeliver', async () => {
  await db.query(`INSERT INTO orders VALUES (1, 'first')`);
  const [order] = await receiver.waitFor(1, '/orders');
  const [gone] = await receiver.waitFor(1, '/gone');
  const [shaped] = await receiver.waitFor(1, '/shaped/row/1');
  assert.ok(order && gone && shaped);
  ids.orders = order.body.id;
  ids.gone = gone.body.id;
  ids.shaped = shaped.body.event_id;
  shapedRaw = shaped.raw;
  await waitLogged('orders', ids.orders as string, 1);
  await waitLogged('shaped', ids.shaped as string, 1);

  assert.deepEqual((await metadata('pg_redeliver_event', { event_id: ids.orders })).body, {
    message: 'success',
  });
  const orders = await receiver.waitFor(2, '/orders');
  assert.equal(orders[1]?.body.id, ids.orders);
  assert.equal(orders[1]?.raw, order.raw, 'the body as it was first sent');

  // The log is written in batches: the next redelivery finds this attempt once it is.
  await waitLogged('orders', ids.orders as string, 2);
  const answer = await redeliver(ids.orders as string);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.deepEqual(answer.body, {
    event_id: ids.orders,
    outcome: 'delivered',
    from: 'invocation_log',
    status: 200,
  });
  assert.equal((await receiver.waitFor(3, '/orders'))[2]?.raw, order.raw);

  // With a request transform, the event goes through it again: the same request.
  const transformed = await redeliver(ids.shaped as string);
  assert.equal(transformed.body.outcome, 'delivered', JSON.stringify(transformed.body));
  const again = (await receiver.waitFor(2, '/shaped/row/1'))[1];
  assert.equal(again?.raw, shapedRaw);
  assert.equal(again?.headers['content-type'], shaped.headers['content-type']);

  // The history shows the redeliveries: one attempt more each, the same event.
  await waitLogged('orders', ids.orders as string, 3);
  const logged = await invocations('orders', ids.orders as string);
  assert.deepEqual(
    logged.map((i) => i.status),
    [200, 200, 200],
  );
  assert.ok(logged.every((i) => i.request.payload.id === ids.orders));
  await waitLogged('shaped', ids.shaped as string, 2);
  // Delivered, a redelivered event leaves no dead letter behind.
  const letters = await db.query('SELECT count(*)::int AS n FROM walhook.dead_letters');
  assert.equal(letters.rows[0]?.n, 0);
});

test('an unknown id is a Hasura not-exists naming both places, and a 404 on the admin route', async () => {
  const unknown = await metadata('pg_redeliver_event', { event_id: 'no-such-event' });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.code, 'not-exists');
  assert.equal(unknown.body.path, '$.args.event_id');
  assert.match(unknown.body.error, /dead letters.*invocation log/);
  const missing = await redeliver('no-such-event');
  assert.equal(missing.status, 404);
  assert.match(
    missing.body.error,
    /^no dead letter and no event of the invocation log has id no-such-event$/,
  );
  assert.equal((await redeliver('no-such-event', 'wrong-token-0123456789')).status, 401);
  const body = await fetch(`http://127.0.0.1:${walhook?.port}/events/x/redeliver`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: '{"all": true}',
  });
  assert.equal(body.status, 400);
});

test('after a restart: the log is still there, a removed trigger is named, a failed redelivery becomes a dead letter', async () => {
  await walhook?.stop();
  await start(false);

  const order = await redeliver(ids.orders as string);
  assert.equal(order.body.outcome, 'delivered', JSON.stringify(order.body));
  assert.equal((await receiver.waitFor(4, '/orders'))[3]?.body.id, ids.orders);

  const gone = await redeliver(ids.gone as string);
  assert.equal(gone.status, 409);
  assert.match(gone.body.error, /event trigger "gone" .* no longer in the config/);
  const goneMeta = await metadata('pg_redeliver_event', { event_id: ids.gone });
  assert.equal(goneMeta.status, 400);
  assert.match(goneMeta.body.error, /"gone"/);

  // The receiver fails it: the event is now a dead letter, with this attempt; nothing is lost.
  await waitLogged('orders', ids.orders as string, 4);
  ordersDown = true;
  const failed = await redeliver(ids.orders as string);
  assert.equal(failed.status, 200);
  assert.deepEqual(
    [failed.body.outcome, failed.body.from, failed.body.status],
    ['kept', 'invocation_log', 503],
  );
  const letter = await db.query(
    'SELECT trigger, attempts, last_status FROM walhook.dead_letters WHERE id = $1',
    [ids.orders],
  );
  assert.deepEqual(letter.rows[0], { trigger: 'orders', attempts: 5, last_status: 503 });
  await waitUntil(
    async () => (await invocations('orders', ids.orders as string)).some((i) => i.status === 503),
    'the failed redelivery in the log',
  );
  ordersDown = false;
  const fromLetter = await redeliver(ids.orders as string);
  assert.deepEqual([fromLetter.body.outcome, fromLetter.body.from], ['delivered', 'dead_letter']);
  const left = await db.query('SELECT count(*)::int AS n FROM walhook.dead_letters');
  assert.equal(left.rows[0]?.n, 0);
});

test('a table of the previous version gains event_body; its rows cannot be redelivered, and say so', async () => {
  await walhook?.stop();
  await db.query(`ALTER TABLE ${LOG_TABLE} DROP COLUMN event_body`);
  await start(false);
  const columns = await db.query(
    `SELECT 1 FROM information_schema.columns WHERE table_schema = 'walhook' AND table_name = 'redeliver_logged_log' AND column_name = 'event_body'`,
  );
  assert.equal(columns.rowCount, 1, 'the column is added back');
  const old = await redeliver(ids.shaped as string);
  assert.equal(old.status, 409);
  assert.match(old.body.error, /did not keep event bodies/);

  // Events logged from now on can.
  await db.query(`INSERT INTO orders VALUES (2, 'second')`);
  const [fresh] = await receiver.waitFor(1, '/shaped/row/2');
  const id = JSON.parse(fresh?.raw ?? '{}').event_id;
  ids.fresh = id;
  await waitLogged('shaped', id, 1);
  assert.equal((await redeliver(id)).body.outcome, 'delivered');
  assert.equal((await receiver.waitFor(2, '/shaped/row/2'))[1]?.raw, fresh?.raw);
  await waitLogged('shaped', id, 2);
});

test('walhook events redeliver sends it from the command line, and the log shows the attempt', async () => {
  const path = await writeConfig(config(false));
  const env = { DATABASE_URL: db.url, RECEIVER: receiver.url, ADMIN_TOKEN, PORT: '1' };
  const id = ids.fresh as string;
  const logged = (await invocations('shaped', id)).length;
  const run = await runCli(['events', 'redeliver', '--config', path, '--id', id], env);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, `${id}  shaped  delivered: HTTP 200\n`);
  assert.equal(receiver.at('/shaped/row/2').length, 3);
  // Written before the command ended.
  assert.equal((await invocations('shaped', id)).length, logged + 1);

  const unknown = await runCli(['events', 'redeliver', '--config', path, '--id', 'nope'], env);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stdout, 'no dead letter and no event of the invocation log has id nope\n');
  const usage = await runCli(['events', 'redeliver', '--config', path], env);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /pass --id ID/);
});
