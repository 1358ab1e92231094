import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

const ADMIN_TOKEN = randomBytes(24).toString('base64url');
const SLOT = 'metadata_api';

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess;
/** The receiver answers /doomed with 503 until this is set. */
let doomedUp = false;

const config = (withToken: boolean) => `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
server:
  host: 127.0.0.1
  port: \${PORT}
${withToken ? `  admin_token: \${ADMIN_TOKEN}\n` : ''}invocation_log: { table: walhook.metadata_log }
triggers:
  - name: orders
    table: orders
    operations: [insert]
    enable_manual: true
    webhook: \${RECEIVER}/orders
    headers: { X-Key: not-for-export }
  - name: plain
    table: orders
    operations: [insert]
    webhook: \${RECEIVER}/plain
  - name: doomed
    table: doomed
    operations: [insert]
    webhook: \${RECEIVER}/doomed
`;

before(async () => {
  db = await startDatabase(SLOT);
  for (const table of ['orders', 'doomed'])
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, note text)`);
  receiver = await startReceiver((delivery) => (delivery.path === '/doomed' && !doomedUp ? 503 : 200));
  walhook = await WalhookProcess.start(config(true), {
    DATABASE_URL: db.url,
    RECEIVER: receiver.url,
    ADMIN_TOKEN,
  });
});

after(async () => {
  await walhook?.stop();
  await receiver?.close();
  await db?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: answers are read field by field
type Json = any;

async function metadata(
  body: unknown,
  headers: Record<string, string> = { 'x-hasura-admin-secret': ADMIN_TOKEN },
  port = walhook.port,
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/metadata`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** A successful answer's body. */
async function ok(type: string, args: unknown): Promise<Json> {
  const answer = await metadata({ type, args });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
}

test('the admin token is wanted, as X-Hasura-Admin-Secret or a bearer token', async () => {
  const request = { type: 'export_metadata', args: {} };
  const none = await metadata(request, {});
  assert.equal(none.status, 401);
  assert.equal(none.body.code, 'access-denied');
  assert.equal(none.body.path, '$');
  assert.match(none.body.error, /x-hasura-admin-secret required/);
  for (const headers of <Record<string, string>[]>[
    { 'x-hasura-admin-secret': 'wrong-token-123456' },
    { authorization: 'Bearer wrong-token-123456' },
  ]) {
    const wrong = await metadata(request, headers);
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, {
      path: '$',
      error: 'invalid x-hasura-admin-secret',
      code: 'access-denied',
    });
  }
  for (const headers of <Record<string, string>[]>[
    { 'x-hasura-admin-secret': ADMIN_TOKEN },
    { authorization: `Bearer ${ADMIN_TOKEN}` },
  ]) {
    assert.equal((await metadata(request, headers)).status, 200);
  }
  const get = await fetch(`http://127.0.0.1:${walhook.port}/v1/metadata`, {
    headers: { 'x-hasura-admin-secret': ADMIN_TOKEN },
  });
  assert.equal(get.status, 405);
  assert.equal(((await get.json()) as Json).code, 'method-not-allowed');
});

test('without an admin token the endpoint is off and says how to turn it on', async () => {
  // The same slot: this process waits as a standby, its HTTP server answers all the same.
  const off = await WalhookProcess.start(
    config(false),
    { DATABASE_URL: db.url, RECEIVER: receiver.url },
    { waitReady: false },
  );
  try {
    await waitUntil(
      async () => (await fetch(`http://127.0.0.1:${off.port}/healthz`).catch(() => null))?.status === 200,
      'the second process to listen',
    );
    const answer = await metadata({ type: 'export_metadata', args: {} }, {}, off.port);
    assert.equal(answer.status, 404);
    assert.equal(answer.body.code, 'not-found');
    assert.match(answer.body.error, /set server\.admin_token/);
  } finally {
    await off.stop();
  }
});

test('bodies that are not queries get Hasura errors', async () => {
  const invalid = await metadata('{"type": ');
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body.code, 'invalid-json');
  const untyped = await metadata({ args: {} });
  assert.deepEqual(untyped.body, { path: '$', error: 'key "type" not found', code: 'parse-failed' });
  const unknown = await metadata({ type: 'pg_track_table', args: {} });
  assert.equal(unknown.body.code, 'not-supported');
  const noTable = await metadata({ type: 'pg_create_event_trigger', args: { name: 'orders' } });
  assert.equal(noTable.status, 400);
  assert.equal(noTable.body.code, 'parse-failed');
  assert.equal(noTable.body.path, '$.args.table');
  // The config file's triggers are the file's to change (metadata-triggers.test.ts creates and deletes).
  const fileTrigger = await metadata({ type: 'pg_delete_event_trigger', args: { name: 'orders' } });
  assert.equal(fileTrigger.body.code, 'not-supported');
  assert.match(fileTrigger.body.error, /defined in walhook's config file/);
});

test('pg_invoke_event_trigger sends the payload given as a MANUAL event', async () => {
  const payload = { id: 4242, note: 'given, not in the table', extra: { n: 1 } };
  const { event_id } = await ok('pg_invoke_event_trigger', { name: 'orders', source: 'default', payload });
  assert.equal(typeof event_id, 'string');
  await waitUntil(() => receiver.at('/orders').some((d) => d.body.id === event_id), 'the manual event');
  const delivery = receiver.at('/orders').find((d) => d.body.id === event_id);
  assert.equal(delivery?.body.event.op, 'MANUAL');
  assert.deepEqual(delivery?.body.event.data, { old: null, new: payload });
  assert.equal(delivery?.body.trigger.name, 'orders');
  assert.equal(receiver.at('/plain').length, 0, 'only the trigger named fires');

  const manualOff = await metadata({ type: 'pg_invoke_event_trigger', args: { name: 'plain', payload } });
  assert.equal(manualOff.status, 400);
  assert.equal(manualOff.body.code, 'not-supported');
  assert.match(manualOff.body.error, /enable_manual: true/);
  const missing = await metadata({ type: 'pg_invoke_event_trigger', args: { name: 'nope', payload } });
  assert.deepEqual(missing.body, {
    path: '$.args.name',
    error: 'event trigger "nope" does not exist',
    code: 'not-exists',
  });
  const noPayload = await metadata({ type: 'pg_invoke_event_trigger', args: { name: 'orders' } });
  assert.equal(noPayload.body.code, 'parse-failed');
  assert.equal(noPayload.body.path, '$.args.payload');
});

test('event logs, invocation logs and an event by id come from the invocation log and dead letters', async () => {
  await db.query(`INSERT INTO orders VALUES (1, 'first')`);
  await db.query(`INSERT INTO doomed VALUES (1, 'never')`);
  let delivered: Json;
  await waitUntil(async () => {
    const events: Json[] = await ok('pg_get_event_logs', {
      name: 'orders',
      source: 'default',
      status: 'processed',
    });
    delivered = events.find((e) => e.payload?.data?.new?.id === 1 && e.payload.op === 'INSERT');
    return delivered !== undefined;
  }, 'the insert in the event log');
  assert.equal(delivered.delivered, true);
  assert.equal(delivered.error, false);
  assert.equal(delivered.tries, 1);
  assert.equal(delivered.schema_name, 'public');
  assert.equal(delivered.table_name, 'orders');
  assert.equal(delivered.trigger_name, 'orders');
  assert.equal(delivered.locked, null);
  assert.equal(delivered.archived, false);
  assert.ok(!Number.isNaN(Date.parse(delivered.created_at)));
  assert.deepEqual(await ok('pg_get_event_logs', { name: 'orders', status: 'pending' }), []);
  const paged = await ok('pg_get_event_logs', { name: 'orders', limit: 1, offset: 0 });
  assert.equal(paged.length, 1);

  const invocations: Json[] = await ok('pg_get_event_invocation_logs', {
    name: 'orders',
    limit: 10,
    offset: 0,
  });
  const invocation = invocations.find((i) => i.event_id === delivered.id);
  assert.equal(invocation.status, 200);
  assert.equal(invocation.trigger_name, 'orders');
  assert.equal(invocation.request.payload.id, delivered.id);
  assert.ok(invocation.request.headers.some((h: Json) => h.name === 'x-key' || h.name === 'X-Key'));
  assert.equal(invocation.response.type, 'webhook_response');

  const byId = await ok('pg_get_event_by_id', {
    source: 'default',
    event_id: delivered.id,
    invocation_log_limit: 5,
  });
  assert.deepEqual(byId.event, delivered);
  assert.equal(byId.invocations.length, 1);
  assert.equal(byId.invocations[0].id, invocation.id);

  let doomed: Json;
  await waitUntil(async () => {
    [doomed] = await ok('pg_get_event_logs', { name: 'doomed', status: 'errored' });
    return doomed !== undefined;
  }, 'the dead letter among the errored events');
  assert.equal(doomed.error, true);
  assert.equal(doomed.delivered, false);
  assert.equal(doomed.payload.data.new.id, 1);

  const unknown = await metadata({ type: 'pg_get_event_by_id', args: { event_id: 'no-such-event' } });
  assert.equal(unknown.body.code, 'not-exists');
  assert.equal(unknown.body.path, '$.args.event_id');
  const noTrigger = await metadata({ type: 'pg_get_event_logs', args: { name: 'nope' } });
  assert.equal(noTrigger.body.code, 'not-exists');

  // Redelivered once the receiver is back: the dead letter goes; a second time, the invocation log
  // has the event, delivered now, and sends it again.
  doomedUp = true;
  assert.deepEqual(await ok('pg_redeliver_event', { event_id: doomed.id }), { message: 'success' });
  assert.ok(receiver.accepted('/doomed').some((d) => d.body.id === doomed.id));
  await waitUntil(async () => {
    const logged: Json[] = await ok('pg_get_event_invocation_logs', { name: 'doomed', limit: 100 });
    return logged.some((i) => i.event_id === doomed.id && i.status === 200);
  }, 'the redelivery in the invocation log');
  assert.deepEqual(await ok('pg_redeliver_event', { event_id: doomed.id }), { message: 'success' });
  assert.equal(receiver.accepted('/doomed').filter((d) => d.body.id === doomed.id).length, 2);
  const again = await metadata({ type: 'pg_redeliver_event', args: { event_id: 'no-such-event' } });
  assert.equal(again.status, 400);
  assert.equal(again.body.code, 'not-exists');
});

test('test_webhook_transform answers the request a transform makes', async () => {
  const answer = await ok('test_webhook_transform', {
    webhook_url: 'http://example.com/hook',
    body: { event: { data: { new: { id: 9 } } } },
    request_transform: {
      version: 2,
      method: 'PATCH',
      url: '{{$base_url}}/{{$body.event.data.new.id}}',
      body: { action: 'transform', template: '{"row": {{$body.event.data.new.id}}}' },
    },
  });
  assert.deepEqual(answer, {
    method: 'PATCH',
    webhook_url: 'http://example.com/hook/9',
    body: { row: 9 },
    headers: [['content-type', 'application/json']],
  });
});

test('export_metadata and bulk', async () => {
  const exported = await ok('export_metadata', {});
  assert.equal(exported.version, 3);
  const [source] = exported.sources;
  assert.equal(source.name, 'default');
  const orders = source.tables.find((t: Json) => t.table.name === 'orders');
  assert.deepEqual(
    orders.event_triggers.map((t: Json) => t.name),
    ['orders', 'plain'],
  );
  assert.deepEqual(orders.event_triggers[0].headers, [{ name: 'X-Key', value: '<masked>' }]);
  assert.ok(!JSON.stringify(exported).includes('not-for-export'));

  const results = await ok('bulk', [
    { type: 'export_metadata', args: {} },
    { type: 'pg_get_event_logs', args: { name: 'orders', limit: 1 } },
  ]);
  assert.equal(results.length, 2);
  assert.equal(results[0].version, 3);
  const failed = await metadata({
    type: 'bulk',
    args: [
      { type: 'export_metadata', args: {} },
      { type: 'pg_get_event_logs', args: { name: 'nope' } },
      { type: 'pg_invoke_event_trigger', args: { name: 'orders', payload: { id: 1 } } },
    ],
  });
  assert.equal(failed.status, 400);
  assert.deepEqual(failed.body, {
    path: '$.args[1].args.name',
    error: 'event trigger "nope" does not exist',
    code: 'not-exists',
  });
});
