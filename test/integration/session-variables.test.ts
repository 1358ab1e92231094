import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const ROLE = 'walhook_sv';

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess | undefined;
/** Rows whose delivery the receiver leaves unanswered, so they stay unsettled. */
const hanging = new Set<number>();

before(async () => {
  db = await startDatabase('session_variables');
  receiver = await startReceiver((delivery) => (hanging.has(delivery.body.event.data.new?.id) ? null : 200));
  await db.query('CREATE TABLE items (id int PRIMARY KEY, note text)');
  await db.query('CREATE TABLE notes (id int PRIMARY KEY)');
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await receiver?.close();
  await db?.close();
});

function config(source = '', triggers = 'items'): string {
  return `
source:
  connection: \${DATABASE_URL}
  slot: sv
  publication: sv${source}
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
${triggers
  .split(',')
  .map(
    (table) =>
      `  - name: ${table}\n    table: ${table}\n    operations: [insert, update, delete]\n    webhook: \${RECEIVER}/${table}\n`,
  )
  .join('')}`;
}

async function run(yaml: string, url = db.url): Promise<WalhookProcess> {
  walhook = await WalhookProcess.start(yaml, { DATABASE_URL: url, RECEIVER: receiver.url });
  return walhook;
}

async function stop(): Promise<void> {
  assert.equal(await walhook?.stop(), 0);
  walhook = undefined;
}

/** Runs `statements` in one transaction of their own. */
async function transaction(...statements: string[]): Promise<void> {
  await db.query('BEGIN');
  try {
    for (const statement of statements) await db.query(statement);
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK');
    throw err;
  }
}

const message = (content: string) =>
  `SELECT pg_logical_emit_message(true, 'walhook.session', '${content.replaceAll("'", "''")}')`;

/** The delivery of the row `id` at `path`, once it arrived. */
async function delivered(path: string, id: number) {
  let found: Awaited<ReturnType<Receiver['waitFor']>>[number] | undefined;
  await waitUntil(() => {
    found = receiver.at(path).find((d) => d.body.event.data.new?.id === id);
    return found !== undefined;
  }, `row ${id} at ${path}`);
  return found as NonNullable<typeof found>;
}

async function sessionOf(path: string, id: number): Promise<unknown> {
  return (await delivered(path, id)).body.event.session_variables;
}

test('a session message gives the changes after it, in its transaction only, its session variables', async () => {
  await run(config());
  await transaction(
    'INSERT INTO items VALUES (1)',
    message('{"x-hasura-user-id":"7","x-hasura-role":"user"}'),
    'INSERT INTO items VALUES (2)',
    message('{"session_variables":{"x-hasura-user-id":"8"},"trace_context":null}'),
    'INSERT INTO items VALUES (3)',
  );
  await transaction('INSERT INTO items VALUES (4)');
  assert.equal(await sessionOf('/items', 1), null, 'a change before the message has none');
  assert.deepEqual(await sessionOf('/items', 2), { 'x-hasura-user-id': '7', 'x-hasura-role': 'user' });
  assert.deepEqual(await sessionOf('/items', 3), { 'x-hasura-user-id': '8' }, 'a later message replaces it');
  assert.equal(await sessionOf('/items', 4), null, 'another transaction has none');
  const plain = await delivered('/items', 4);
  assert.equal(plain.body.event.trace_context, null);
  assert.match(String(plain.headers.traceparent), new RegExp(`^00-${plain.body.id.replaceAll('-', '')}-`));
});

test('an invalid message is ignored with one warning and counted; the events still go out', async () => {
  await transaction(message('not json'), message('[1,2]'), 'INSERT INTO items VALUES (5)');
  assert.equal(await sessionOf('/items', 5), null);
  const warning = await (walhook as WalhookProcess).waitForLog(
    (line) => /ignored a walhook\.session message/.test(line.msg ?? ''),
    'the warning',
  );
  assert.equal(warning.level, 'warn');
  assert.equal(
    (walhook as WalhookProcess).logs.filter(
      (l) => l.msg === warning.msg || /ignored a walhook/.test(l.msg ?? ''),
    ).length,
    1,
  );
  const metrics = await (await fetch(`http://127.0.0.1:${walhook?.port}/metrics`)).text();
  assert.match(metrics, /walhook_errors_total\{error_type="session_message",stage="source"\} 2/);
});

test("a trace context is sent as traceparent and as event.trace_context, in Hasura's form", async () => {
  await transaction(
    message(`{"session_variables":null,"trace_context":{"traceparent":"00-${TRACE}-${SPAN}-01"}}`),
    'INSERT INTO items VALUES (6)',
  );
  const traced = await delivered('/items', 6);
  assert.deepEqual(traced.body.event.trace_context, { trace_id: TRACE, span_id: SPAN, sampling_state: '1' });
  assert.match(String(traced.headers.traceparent), new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
  assert.notEqual(
    String(traced.headers.traceparent).split('-')[2],
    SPAN,
    'the delivery is a span of its own',
  );
  await stop();
});

test('a replay after a restart carries the same session: the message is in the WAL', async () => {
  hanging.add(7);
  await run(config());
  await transaction(message('{"x-hasura-user-id":"70"}'), 'INSERT INTO items VALUES (7)');
  const first = await delivered('/items', 7);
  await walhook?.stop('SIGKILL');
  hanging.delete(7);
  await run(config());
  await waitUntil(
    () => receiver.at('/items').filter((d) => d.body.id === first.body.id).length === 2,
    'the replay',
  );
  const replayed = receiver.at('/items').filter((d) => d.body.id === first.body.id)[1];
  assert.deepEqual(replayed?.body.event.session_variables, { 'x-hasura-user-id': '70' });
  await stop();
});

/** Messages with the prefix walhook.session that one transaction writes, read through a throw-away slot. */
async function sessionMessages(...statements: string[]): Promise<string[]> {
  await db.query(`SELECT pg_create_logical_replication_slot('sv_peek', 'test_decoding', true)`);
  try {
    await transaction(...statements);
    const rows = await db.query<{ data: string }>(
      `SELECT data FROM pg_logical_slot_get_changes('sv_peek', NULL, NULL)`,
    );
    return rows.rows.map((r) => r.data).filter((data) => data.includes('prefix: walhook.session'));
  } finally {
    await db.query(`SELECT pg_drop_replication_slot('sv_peek')`);
  }
}

test('source.session_variables: hasura captures hasura.user and hasura.tracecontext with a statement trigger', async () => {
  const yaml = config('\n  session_variables: hasura');
  const validated = await runCli(['validate', '--config', await writeConfig(yaml)], {
    DATABASE_URL: db.url,
    RECEIVER: receiver.url,
    PORT: '0',
  });
  assert.match(
    validated.stdout,
    /walhook will install the session capture: function walhook\.session_capture\(\), trigger walhook_session_capture on "public"\."items"/,
  );
  await run(yaml);
  const installed = await db.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'items'::regclass`);
  assert.deepEqual(installed.rows, [{ tgname: 'walhook_session_capture' }]);

  await transaction(
    `SELECT set_config('hasura.user', '{"x-hasura-user-id":"7"}', true)`,
    'INSERT INTO items VALUES (10)',
  );
  assert.deepEqual(await sessionOf('/items', 10), { 'x-hasura-user-id': '7' });

  const context = `{"trace_id":"${TRACE}","span_id":"${SPAN}"}`;
  const sent = await sessionMessages(
    `SELECT set_config('hasura.user', '{"x-hasura-role":"admin"}', true)`,
    `SELECT set_config('hasura.tracecontext', '${context}', true)`,
    'INSERT INTO items VALUES (11)',
    'INSERT INTO items VALUES (12)',
    `UPDATE items SET note = 'x' WHERE id = 12`,
  );
  assert.equal(sent.length, 1, `one message for three statements: ${sent.join('\n')}`);
  for (const id of [11, 12]) {
    const traced = await delivered('/items', id);
    assert.deepEqual(traced.body.event.session_variables, { 'x-hasura-role': 'admin' });
    assert.deepEqual(traced.body.event.trace_context, { trace_id: TRACE, span_id: SPAN });
    assert.match(String(traced.headers.traceparent), new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
  }
  await transaction('INSERT INTO items VALUES (13)');
  assert.equal(await sessionOf('/items', 13), null, 'a transaction without the settings has none');
  // A malformed setting never fails the write: walhook ignores that message and says so.
  await transaction(`SELECT set_config('hasura.user', 'oops', true)`, 'INSERT INTO items VALUES (14)');
  assert.equal(await sessionOf('/items', 14), null);
  await stop();

  await run(yaml);
  assert.ok(
    !walhook?.logs.some((l) => /session capture .* installed/.test(l.msg ?? '')),
    'a second start finds everything installed',
  );
  await stop();
});

test('a role that may not install the capture gets the SQL for the owner, which then works', async () => {
  await db.query(`CREATE ROLE ${ROLE} LOGIN REPLICATION PASSWORD 'sv-pw'`);
  await db.query(`GRANT SELECT ON items, notes TO ${ROLE}`);
  await db.query('ALTER PUBLICATION sv ADD TABLE notes');
  // As if the capture had never been installed: the role may create neither function nor trigger.
  await db.query('DROP FUNCTION walhook.session_capture() CASCADE');
  const url = db.url.replace('postgres:walhook@', `${ROLE}:sv-pw@`);
  const yaml = config(
    '\n  session_variables: hasura\n  manage_publication: false\ndead_letter:\n  file: /dev/null',
    'notes',
  );
  const validated = await runCli(['validate', '--config', await writeConfig(yaml)], {
    DATABASE_URL: url,
    RECEIVER: receiver.url,
    PORT: '0',
  });
  const line =
    validated.stdout.split('\n').find((l) => /session capture/.test(l)) ??
    validated.stdout + validated.stderr;
  assert.match(
    line,
    /^warn +source\.session_variables: hasura, but role walhook_sv may not install the session capture; have the owner of "public"\."notes" \(role postgres\) run: CREATE SCHEMA IF NOT EXISTS walhook; CREATE OR REPLACE FUNCTION walhook\.session_capture\(\) .*; CREATE TRIGGER walhook_session_capture BEFORE INSERT OR UPDATE OR DELETE ON "public"\."notes" FOR EACH STATEMENT EXECUTE FUNCTION walhook\.session_capture\(\)$/,
  );

  await run(yaml, url);
  const logged = await (walhook as WalhookProcess).waitForLog(
    (l) => /may not install the session capture/.test(l.msg ?? ''),
    'the SQL line',
  );
  assert.equal(logged.level, 'warn');
  const sql = (logged.msg as string).split(' run: ')[1] as string;
  const owner = new pg.Client(db.url);
  await owner.connect();
  try {
    await owner.query(sql);
  } finally {
    await owner.end();
  }
  await transaction(
    `SELECT set_config('hasura.user', '{"x-hasura-user-id":"9"}', true)`,
    'INSERT INTO notes VALUES (1)',
  );
  assert.deepEqual(await sessionOf('/notes', 1), { 'x-hasura-user-id': '9' });
  await stop();
});
