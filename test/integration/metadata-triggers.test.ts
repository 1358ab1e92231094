import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { type Database, startDatabase } from '../helpers/database.js';
import { HASURA_BODY_KEYS } from '../helpers/hasura-body.js';
import { type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

/*
 * pg_create_event_trigger and pg_delete_event_trigger against a running walhook: a trigger created
 * through the API fires for changes committed after the answer (without a restart or a reconnect),
 * is kept in the metadata store across a restart, shows in export_metadata, and a deleted one stops.
 */

const ADMIN_TOKEN = randomBytes(24).toString('base64url');
const SLOT = 'metadata_triggers_test';

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess;
let storeDir: string;

const config = `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
  heartbeat_sec: 0
server:
  host: 127.0.0.1
  port: \${PORT}
  admin_token: \${ADMIN_TOKEN}
metadata_store: \${STORE}
invocation_log: { table: walhook.metadata_triggers_log }
triggers:
  - name: from_file
    table: orders
    operations: [insert]
    webhook: \${RECEIVER}/file
`;

const env = () => ({
  DATABASE_URL: db.url,
  RECEIVER: receiver.url,
  ADMIN_TOKEN,
  STORE: join(storeDir, 'walhook-metadata.json'),
});

before(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'walhook-store-'));
  db = await startDatabase(SLOT);
  await db.query(`
    CREATE TABLE orders (id int PRIMARY KEY, note text);
    CREATE TABLE "Audit Log" (id int PRIMARY KEY, what text);`);
  receiver = await startReceiver();
  walhook = await WalhookProcess.start(config, env());
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await receiver?.close();
  await db?.close();
  await rm(storeDir, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: answers are read field by field
type Json = any;

async function metadata(body: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`http://127.0.0.1:${walhook.port}/v1/metadata`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hasura-admin-secret': ADMIN_TOKEN },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function ok(type: string, args: unknown): Promise<Json> {
  const answer = await metadata({ type, args });
  assert.equal(answer.status, 200, `${type}: ${JSON.stringify(answer.body)}\n${walhook.tail()}`);
  return answer.body;
}

const ids = (path: string) => receiver.at(path).map((d) => d.body.event?.data?.new?.id as number);

const AUDIT = {
  name: 'audit_created',
  table: { schema: 'public', name: 'Audit Log' },
  webhook: '{{RECEIVER}}/audit',
  insert: { columns: '*' },
  update: { columns: ['what'] },
  enable_manual: true,
  retry_conf: { num_retries: 2, interval_sec: 1, timeout_sec: 10 },
  headers: [{ name: 'X-Created', value: 'by-api' }],
};

test('a created trigger fires for changes committed after the answer, without a reconnect', async () => {
  await db.query(`INSERT INTO "Audit Log" VALUES (1, 'before')`);
  assert.deepEqual(await ok('pg_create_event_trigger', AUDIT), { message: 'success' });
  await db.query(`INSERT INTO "Audit Log" VALUES (2, 'after')`);
  await db.query(`UPDATE "Audit Log" SET what = 'changed' WHERE id = 2`);
  await waitUntil(() => receiver.at('/audit').length >= 2, 'the insert and the update at /audit');
  const deliveries = receiver.at('/audit');
  assert.deepEqual(
    deliveries.map((d) => [d.body.event.op, d.body.event.data.new.id]),
    [
      ['INSERT', 2],
      ['UPDATE', 2],
    ],
  );
  // Hasura's body and headers, since the API speaks for Hasura's triggers.
  assert.deepEqual(Object.keys(deliveries[0]?.body).sort(), HASURA_BODY_KEYS);
  assert.deepEqual(deliveries[0]?.body.table, { schema: 'public', name: 'Audit Log' });
  assert.equal(deliveries[0]?.headers['x-created'], 'by-api');
  assert.ok(!ids('/audit').includes(1), 'a row from before the trigger was created');
  assert.equal(walhook.logs.filter((l) => l.msg === 'replication started').length, 1, 'no reconnect');
  // The file's own trigger kept going.
  await db.query(`INSERT INTO orders VALUES (1, 'x')`);
  await waitUntil(() => ids('/file').includes(1), 'the file trigger');

  const { event_id } = await ok('pg_invoke_event_trigger', {
    name: 'audit_created',
    payload: { id: 99, what: 'manual' },
  });
  await waitUntil(() => receiver.at('/audit').some((d) => d.body.id === event_id), 'the manual event');
});

test('created twice is already-exists; a missing table is not-exists; a bad definition is refused whole', async () => {
  const again = await metadata({ type: 'pg_create_event_trigger', args: AUDIT });
  assert.deepEqual(again.body, {
    path: '$.args',
    error: 'Event trigger with name "audit_created" already exists',
    code: 'already-exists',
  });
  const before = await readFile(env().STORE, 'utf8');
  const noTable = await metadata({
    type: 'pg_create_event_trigger',
    args: { ...AUDIT, name: 'ghost', table: 'no_such_table' },
  });
  assert.equal(noTable.body.code, 'not-exists', JSON.stringify(noTable.body));
  assert.match(noTable.body.error, /table "public"\."no_such_table" of trigger ghost does not exist/);
  const badRetry = await metadata({
    type: 'pg_create_event_trigger',
    args: { ...AUDIT, name: 'bad', retry_conf: { num_retries: 'many' } },
  });
  assert.equal(badRetry.body.code, 'invalid-configuration');
  assert.match(badRetry.body.error, /event trigger bad: retry_conf\.num_retries/);
  assert.equal(await readFile(env().STORE, 'utf8'), before, 'the store is unchanged');
  const { triggers } = (await (await fetch(`http://127.0.0.1:${walhook.port}/status`)).json()) as Json;
  assert.deepEqual(
    triggers.map((t: { name: string }) => t.name),
    ['from_file', 'audit_created'],
  );
});

test('replace changes the definition; export_metadata shows it as created, with its transform', async () => {
  await ok('pg_create_event_trigger', {
    ...AUDIT,
    replace: true,
    request_transform: {
      version: 2,
      template_engine: 'Kriti',
      method: 'PUT',
      url: '{{$base_url}}/replaced',
      body: { action: 'transform', template: '{"row": {{$body.event.data.new.id}}}' },
    },
  });
  await db.query(`INSERT INTO "Audit Log" VALUES (3, 'replaced')`);
  await waitUntil(() => receiver.at('/audit/replaced').length >= 1, 'the transformed request');
  const [sent] = receiver.at('/audit/replaced');
  assert.equal(sent?.method, 'PUT');
  assert.deepEqual(sent?.body, { row: 3 });

  const exported = await ok('export_metadata', {});
  const tables = exported.sources[0].tables;
  const audit = tables.find((t: Json) => t.table.name === 'Audit Log');
  assert.equal(audit.event_triggers[0].name, 'audit_created');
  assert.equal(audit.event_triggers[0].webhook, '{{RECEIVER}}/audit');
  assert.equal(audit.event_triggers[0].request_transform.url, '{{$base_url}}/replaced');
  assert.deepEqual(audit.event_triggers[0].headers, [{ name: 'X-Created', value: '<masked>' }]);
});

test('a restart keeps the created trigger; delete stops it for changes committed after the answer', async () => {
  await walhook.stop();
  await db.query(`INSERT INTO "Audit Log" VALUES (4, 'while down')`);
  walhook = await WalhookProcess.start(config, env());
  await waitUntil(
    () => receiver.at('/audit/replaced').some((d) => d.body.row === 4),
    'replayed after restart',
  );
  assert.deepEqual(await ok('pg_delete_event_trigger', { name: 'audit_created' }), { message: 'success' });
  await db.query(`INSERT INTO "Audit Log" VALUES (5, 'after delete')`);
  await db.query(`INSERT INTO orders VALUES (5, 'marker')`);
  await waitUntil(() => ids('/file').includes(5), 'the marker row at the file trigger');
  await sleep(300);
  assert.ok(!receiver.at('/audit/replaced').some((d) => d.body.row === 5), 'a deleted trigger fired');
  const gone = await metadata({ type: 'pg_delete_event_trigger', args: { name: 'audit_created' } });
  assert.deepEqual(gone.body, {
    path: '$.args',
    error: 'event trigger "audit_created" does not exist',
    code: 'not-exists',
  });
  // The store is Hasura metadata: what is left in it is no trigger at all.
  const store = JSON.parse(await readFile(env().STORE, 'utf8'));
  assert.deepEqual(store, { version: 3, sources: [] });
});

test('creating under a steady writer loses nothing: every row after the answer fires, none before', async () => {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const written: { id: number; started: number; committed: number }[] = [];
  let running = true;
  const writer = (async () => {
    for (let id = 1000; running; id++) {
      const started = Date.now();
      await client.query('INSERT INTO orders VALUES ($1, $2)', [id, 'load']);
      written.push({ id, started, committed: Date.now() });
      await sleep(3);
    }
  })();
  await waitUntil(() => written.length >= 30, 'rows before the change');
  const asked = Date.now();
  await ok('pg_create_event_trigger', {
    name: 'orders_created',
    table: 'orders',
    webhook: `${receiver.url}/orders-created`,
    insert: { columns: '*' },
  });
  const answered = Date.now();
  await sleep(1000);
  const deleteAsked = Date.now();
  await ok('pg_delete_event_trigger', { name: 'orders_created' });
  const deleted = Date.now();
  await sleep(500);
  running = false;
  await writer;
  await client.end();
  // The file trigger saw every row exactly once: the changes around it cost it nothing.
  await waitUntil(() => written.every((w) => ids('/file').includes(w.id)), 'every row at /file');
  const fileIds = ids('/file').filter((id) => id >= 1000);
  assert.equal(fileIds.length, new Set(fileIds).size, 'a row delivered twice at /file');
  // Rows committed while the delete was being answered may meet the trigger or not.
  const between = written.filter((w) => w.started > answered && w.committed < deleteAsked);
  assert.ok(between.length > 10, `rows between create and delete: ${between.length}`);
  await waitUntil(
    () => between.every((w) => ids('/orders-created').includes(w.id)),
    'rows between',
    10_000,
  ).catch((err) => {
    const got = new Set(ids('/orders-created'));
    const missing = between.filter((w) => !got.has(w.id)).map((w) => w.id);
    throw new Error(
      `${err.message}: missing ${missing.join(',')} of ${between.map((w) => w.id).join(',')}; got ${[...got].join(',')}\n${walhook.tail(30)}`,
    );
  });
  const created = new Set(ids('/orders-created'));
  for (const w of written.filter((w) => w.committed < asked)) {
    assert.ok(!created.has(w.id), `row ${w.id} from before the create fired`);
  }
  for (const w of written.filter((w) => w.started > deleted)) {
    assert.ok(!created.has(w.id), `row ${w.id} from after the delete fired`);
  }
});
