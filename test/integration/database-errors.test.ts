import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { type CliResult, type LogLine, runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

/**
 * What a user meets in the first hour: a wrong password, a database or table that is not there (or is
 * under another case), a table dropped while walhook runs, and a replica-identity hint as a role that
 * does not own the table.
 */

const ROLE = 'hook_login';
const PASSWORD = 'right-pw';
/** Least privilege: REPLICATION and SELECT, no ownership (as in least-privilege.test.ts). */
const APP_ROLE = 'hook_app';

let db: Database;
let receiver: Receiver;

before(async () => {
  db = await startDatabase('db_errors');
  await db.query(`CREATE ROLE ${ROLE} LOGIN SUPERUSER PASSWORD '${PASSWORD}'`);
  await db.query('CREATE TABLE items (id int PRIMARY KEY, note text)');
  await db.query('CREATE TABLE "Orders" (id int PRIMARY KEY)');
  await db.query('CREATE TABLE refunds (id int PRIMARY KEY)');
  await db.query('CREATE TABLE "Order Events" (id int PRIMARY KEY)');
  await db.query(`CREATE ROLE ${APP_ROLE} LOGIN REPLICATION PASSWORD 'app-pw'`);
  await db.query(`GRANT SELECT ON items TO ${APP_ROLE}`);
  await db.query('CREATE PUBLICATION app_pub FOR TABLE items WITH (publish_via_partition_root = true)');
  receiver = await startReceiver();
});

after(async () => {
  await receiver?.close();
  await db?.close();
});

/** The test database's URL as `role` with `password`, or another database. */
function url(options: { role?: string; password?: string; database?: string } = {}): string {
  const parsed = new URL(db.url);
  parsed.username = options.role ?? ROLE;
  parsed.password = options.password ?? PASSWORD;
  if (options.database) parsed.pathname = `/${options.database}`;
  return parsed.toString();
}

function config(triggers: string, slot = 'db_errors', source = ''): string {
  return `
source:
  connection: \${DATABASE_URL}
  slot: ${slot}
  publication: ${slot}
  publication_check_sec: 1${source}
server:
  host: 127.0.0.1
  port: \${PORT}
shutdown_grace_sec: 1
triggers:${triggers}`;
}

function trigger(name: string, table: string, extra = ''): string {
  return `
  - name: ${name}
    table: ${table}
    operations: [insert, update]
    webhook: \${RECEIVER}/${name}${extra}`;
}

async function cli(command: string, yaml: string, databaseUrl = url()): Promise<CliResult> {
  const path = await writeConfig(yaml);
  return runCli([command, '--config', path], {
    DATABASE_URL: databaseUrl,
    RECEIVER: receiver.url,
    PORT: '0',
  });
}

/** `walhook run` stops at once: exit 2, one line on stderr matching `expected`, no stack anywhere. */
async function refused(yaml: string, expected: RegExp, databaseUrl = url()): Promise<void> {
  const result = await cli('run', yaml, databaseUrl);
  assert.equal(result.code, 2, `exit 2: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  assert.match(lines[0] as string, expected);
  assert.doesNotMatch(result.stdout + result.stderr, /\n\s+at /, 'no stack trace');
}

const ITEMS = trigger('items', 'items');

test('validate with a wrong password: an error finding naming the refusal, exit 2', async () => {
  const result = await cli('validate', config(ITEMS), url({ password: 'wrong-pw' }));
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(
    result.stdout,
    new RegExp(
      `^error +Postgres at 127\\.0\\.0\\.1:${db.server.port} refused the connection: password authentication failed for user "${ROLE}" \\(28P01\\); set the role and its password in source\\.connection`,
      'm',
    ),
  );
  assert.ok(!result.stdout.includes('wrong-pw'));
});

test('run with a wrong password: one coded line and exit 2, no retrying', async () => {
  await refused(
    config(ITEMS),
    new RegExp(
      `^walhook: Postgres at 127\\.0\\.0\\.1:${db.server.port} refused the connection: password authentication failed for user "${ROLE}" \\(28P01\\); set the role and its password in source\\.connection`,
    ),
    url({ password: 'wrong-pw' }),
  );
});

test('run and validate against a database that does not exist: one line, exit 2', async () => {
  const missing = url({ database: 'no_such_db' });
  await refused(
    config(ITEMS),
    /^walhook: Postgres at .* refused the connection: database "no_such_db" does not exist \(3D000\); create the database or fix its name in source\.connection$/,
    missing,
  );
  const result = await cli('validate', config(ITEMS), missing);
  assert.equal(result.code, 2);
  assert.match(result.stdout, /^error +Postgres at .*database "no_such_db" does not exist \(3D000\)/m);
});

test('a password changed while running: retried with one line per attempt, counted, /readyz says why; back once restored', async () => {
  const walhook = await WalhookProcess.start(config(ITEMS, 'db_errors_live'), {
    DATABASE_URL: url(),
    RECEIVER: receiver.url,
  });
  try {
    await db.query(`INSERT INTO items VALUES (1, 'before')`);
    await receiver.waitFor(1, '/items');

    await db.query(`ALTER ROLE ${ROLE} PASSWORD 'rotated-elsewhere'`);
    await db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [ROLE]);
    const refusals = () => walhook.logs.filter((l) => l.code === 'WALHOOK_ERR_SOURCE_AUTH');
    await waitUntil(() => refusals().length >= 2, 'two refused attempts logged', 60_000);
    walhook.assertAlive();
    for (const line of refusals()) {
      assert.equal(line.err, undefined, `no error object, so no stack: ${JSON.stringify(line)}`);
      assert.match(line.error, /password authentication failed for user "hook_login" \(28P01\)/);
      assert.ok(line.retry_in_ms > 0);
    }
    const loginLines = (l: LogLine) => /password authentication failed/.test(JSON.stringify(l));
    assert.ok(
      !walhook.logs.filter(loginLines).some((l) => /\n\s+at /.test(JSON.stringify(l.err?.stack ?? ''))),
      'no stack on any line about the refusal',
    );
    const metrics = await (await fetch(`http://127.0.0.1:${walhook.port}/metrics`)).text();
    const count = /^walhook_errors_total\{error_type="login",stage="source"\} (\d+)$/m.exec(metrics);
    assert.ok(Number(count?.[1]) >= 2, `the login errors counted: ${count?.[0]}`);
    const ready = await fetch(`http://127.0.0.1:${walhook.port}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(
      await ready.text(),
      /^not ready: cannot log in to the source database: Postgres at .* refused the connection: password authentication failed for user "hook_login" \(28P01\)/,
    );

    await db.query(`ALTER ROLE ${ROLE} PASSWORD '${PASSWORD}'`);
    await walhook.ready(90_000);
    await db.query(`INSERT INTO items VALUES (2, 'after')`);
    // At least once: the first insert may come again, if it was not confirmed before the break.
    await waitUntil(
      () => receiver.deliveries.some((d) => d.path === '/items' && d.body.event.data.new.note === 'after'),
      'the insert after the restored password delivered',
    );

    // Only the replication connection breaks: the stream itself retries, counts and reports the refusal.
    const before = walhook.logs.length;
    await db.query(`ALTER ROLE ${ROLE} PASSWORD 'rotated-again'`);
    await db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND application_name = 'walhook'`,
      [ROLE],
    );
    const streamRefusal = await walhook.waitForLog(
      (l) =>
        walhook.logs.indexOf(l) >= before && l.code === 'WALHOOK_ERR_SOURCE_AUTH' && l.stage === 'source',
      'the stream to report the refusal',
    );
    assert.equal(streamRefusal.err, undefined);
    assert.match(streamRefusal.msg, /^cannot start replication; retrying$/);
    const again = await fetch(`http://127.0.0.1:${walhook.port}/readyz`);
    assert.equal(again.status, 503);
    assert.match(await again.text(), /^not ready: cannot log in to the source database: .*\(28P01\)/);
    await db.query(`ALTER ROLE ${ROLE} PASSWORD '${PASSWORD}'`);
    await walhook.ready(90_000);
  } finally {
    assert.equal(await walhook.stop(), 0);
  }
});

test('table: "Order Events" (YAML eats the quotes): the error gives the line to write, which works', async () => {
  const yaml = config(trigger('events', '"Order Events"'));
  const expected =
    /^\S+walhook\.yaml: triggers\[0\]\.table: expected schema\.table or table .*; YAML drops the double quotes of a value written "…", so write the line as table: '"Order Events"'$/;
  for (const command of ['validate', 'run']) {
    const result = await cli(command, yaml);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr.trim(), expected);
  }
  const fixed = await cli('validate', config(trigger('events', `'"Order Events"'`)));
  assert.match(fixed.stdout, /^ok +triggers\[0\] \(events\): table "public"\."Order Events" exists$/m);
});

test('a table under another case: validate and run say which exists and the exact line to write', async () => {
  // Created as "Orders", named orders (the YAML plain Orders folds the same); and the reverse.
  const folded = config(trigger('orders', 'Orders'));
  const hint = `but "public"\\."Orders" does \\(unquoted names fold to lower case, double-quoted ones keep their case\\); write table: '"Orders"'$`;
  const validated = await cli('validate', folded);
  assert.equal(validated.code, 2);
  assert.match(
    validated.stdout,
    new RegExp(
      `^error +triggers\\[0\\] \\(orders\\): table "public"\\."orders" does not exist, ${hint}`,
      'm',
    ),
  );
  await refused(
    folded,
    new RegExp(`^walhook: table "public"\\."orders" of trigger orders does not exist, ${hint}`),
  );

  const quoted = config(trigger('refunds', `'"Refunds"'`));
  const reverse = `but "public"\\."refunds" does \\(.*\\); write table: refunds$`;
  const again = await cli('validate', quoted);
  assert.match(
    again.stdout,
    new RegExp(
      `^error +triggers\\[0\\] \\(refunds\\): table "public"\\."Refunds" does not exist, ${reverse}`,
      'm',
    ),
  );
  await refused(
    quoted,
    new RegExp(`^walhook: table "public"\\."Refunds" of trigger refunds does not exist, ${reverse}`),
  );
});

test('a table never created: run names its triggers, the table and what to do', async () => {
  await refused(
    config(`${trigger('first', 'nowhere')}${trigger('second', 'nowhere')}${ITEMS}`),
    /^walhook: table "public"\."nowhere" of triggers first, second does not exist; create it, or set the trigger's table: to an existing table$/,
  );
});

test('a table dropped while running: the report names the trigger, the table and what to do', async () => {
  await db.query('CREATE TABLE doomed (id int PRIMARY KEY)');
  const walhook = await WalhookProcess.start(
    config(`${trigger('doomed_hook', 'doomed')}${ITEMS}`, 'db_errors_drop'),
    { DATABASE_URL: url(), RECEIVER: receiver.url },
  );
  try {
    await db.query('DROP TABLE doomed');
    const report = await walhook.waitForLog(
      (l) => l.code === 'WALHOOK_ERR_TABLE_UNPUBLISHED',
      'the dropped table reported',
    );
    assert.equal(report.level, 'error');
    assert.deepEqual(report.triggers, ['doomed_hook']);
    assert.equal(
      report.msg,
      'table "public"."doomed" of trigger doomed_hook no longer exists (dropped or renamed), so the trigger gets no changes: re-create the table (walhook adds it back to publication db_errors_drop), or remove the trigger from the config and restart walhook',
    );
    walhook.assertAlive();
  } finally {
    assert.equal(await walhook.stop(), 0);
  }
});

test('validate as a role that does not own the table: the replica identity hint names the owner, not source.replica_identity', async () => {
  const appUrl = url({ role: APP_ROLE, password: 'app-pw' });
  const yaml = config(
    trigger('notes', 'items', '\n    columns: [note]'),
    'app_pub',
    '\n  manage_publication: false',
  );
  const result = await cli('validate', yaml, appUrl);
  const line = result.stdout.split('\n').find((l) => /lacks REPLICA IDENTITY FULL/.test(l));
  assert.match(
    line ?? result.stdout,
    /^warn +"public"\."items" lacks REPLICA IDENTITY FULL \(.*\); have its owner \(role postgres\) run ALTER TABLE "public"\."items" REPLICA IDENTITY FULL \(role hook_app does not own it, so source\.replica_identity: full cannot\)$/,
  );
  assert.doesNotMatch(line ?? '', /set source\.replica_identity: full/);
});
