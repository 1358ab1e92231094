import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { type CliResult, runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

const ROLE = 'walhook_app';

let db: Database;
let receiver: Receiver;
/** walhook's connection URL: the least-privileged role instead of the superuser. */
let appUrl: string;

/**
 * What an admin runs for walhook (the README's recipe): a role with REPLICATION and nothing else, read
 * access to the triggers' tables, a schema of its own for dead letters, and the publication made by
 * the tables' owner.
 */
const ADMIN_SQL = [
  `CREATE ROLE ${ROLE} LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'app-pw'`,
  `GRANT SELECT ON orders, refunds TO ${ROLE}`,
  `CREATE SCHEMA walhook AUTHORIZATION ${ROLE}`,
  'CREATE PUBLICATION lp_pub FOR TABLE orders, refunds WITH (publish_via_partition_root = true)',
];

before(async () => {
  db = await startDatabase('least_privilege');
  // Postgres 14 lets every role create tables in public; nothing of walhook's may go there.
  await db.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, status text, doc text)');
  await db.query('CREATE TABLE refunds (id int PRIMARY KEY)');
  await db.query('CREATE TABLE extra (id int PRIMARY KEY)');
  await db.query('CREATE TABLE private_stuff (id int PRIMARY KEY)');
  for (const statement of ADMIN_SQL) await db.query(statement);
  await db.query(`GRANT SELECT ON extra TO ${ROLE}`);
  appUrl = db.url.replace('postgres:walhook@', `${ROLE}:app-pw@`);
  receiver = await startReceiver((delivery) => (delivery.path === '/refunds' ? 500 : 200));
});

after(async () => {
  await receiver?.close();
  await db?.close();
});

const TRIGGERS = `
  - name: orders
    table: orders
    operations: [insert, update, delete]
    webhook: \${RECEIVER}/orders
  - name: refunds
    table: refunds
    operations: [insert]
    webhook: \${RECEIVER}/refunds
    retry: { num_retries: 1, interval_sec: 0.1 }
`;

function config(options: { slot?: string; source?: string; triggers?: string } = {}): string {
  return `
source:
  connection: \${DATABASE_URL}
  slot: ${options.slot ?? 'lp_test'}
  publication: lp_pub
  heartbeat_sec: 1
  publication_check_sec: 1${options.source ?? '\n  manage_publication: false'}
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:${options.triggers ?? TRIGGERS}`;
}

const env = () => ({ DATABASE_URL: appUrl, RECEIVER: receiver.url, PORT: '0' });

async function cli(args: string[], yaml: string): Promise<CliResult> {
  return runCli([...args, '--config', await writeConfig(yaml)], env(), 60_000);
}

/** `walhook run` that stops at once with one line on stderr matching `expected`. */
async function refusedToStart(yaml: string, expected: RegExp): Promise<void> {
  const result = await cli(['run'], yaml);
  assert.equal(result.code, 2, `exit 2: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  assert.match(lines[0] as string, expected);
}

test('the role is what the recipe says: not a superuser, no CREATE on the database', async () => {
  const role = await db.query(
    `SELECT rolsuper, rolreplication, has_database_privilege($1, current_database(), 'CREATE') AS create_db
       FROM pg_roles WHERE rolname = $1`,
    [ROLE],
  );
  assert.deepEqual(role.rows, [{ rolsuper: false, rolreplication: true, create_db: false }]);
});

test('walhook validate passes as the least-privileged role', async () => {
  const result = await cli(['validate'], config());
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, new RegExp(`^ok +role ${ROLE} may replicate$`, 'm'));
  assert.match(result.stdout, /^ok +publication lp_pub lists the triggers' tables$/m);
  assert.match(result.stdout, /^ok +dead-letter table walhook\.dead_letters will be created$/m);
  assert.doesNotMatch(result.stdout, /^(warn|error) /m);
});

test('the whole pipeline runs as the role: changes delivered, TOAST fetched, dead letters, status, restart', async () => {
  let walhook = await WalhookProcess.start(config(), env());
  try {
    const doc = (
      await db.query<{ doc: string }>(
        `SELECT string_agg(md5(i::text), '') AS doc FROM generate_series(1, 1000) i`,
      )
    ).rows[0]?.doc as string;
    await db.query(`INSERT INTO orders VALUES (1, 'new', $1)`, [doc]);
    // Only status changes: the unchanged TOASTed doc is not in the WAL, walhook reads it with SELECT.
    await db.query(`UPDATE orders SET status = 'paid' WHERE id = 1`);
    // The fetch reads the row as it is now: deleted first, there would be nothing to read.
    await receiver.waitFor(2, '/orders');
    await db.query('DELETE FROM orders WHERE id = 1');
    const orders = await receiver.waitFor(3, '/orders');
    assert.deepEqual(
      orders.map((d) => d.body.event.op),
      ['INSERT', 'UPDATE', 'DELETE'],
    );
    assert.equal(orders[1]?.body.event.data.new.doc, doc, 'the unchanged TOASTed value was fetched');
    assert.equal(orders[1]?.body.event.data.new.status, 'paid');

    await db.query('INSERT INTO refunds VALUES (7)');
    await waitUntil(async () => {
      const letters = await db.query('SELECT id FROM walhook.dead_letters WHERE trigger = $1', ['refunds']);
      return letters.rows.length === 1;
    }, 'the failed refund in walhook.dead_letters');
    const owner = await db.query(
      `SELECT tableowner FROM pg_tables WHERE schemaname = 'walhook' AND tablename = 'dead_letters'`,
    );
    assert.deepEqual(owner.rows, [{ tableowner: ROLE }]);
    // No trigger allows backfills here, so walhook creates nothing for them.
    const walhookTables = await db.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'walhook'`);
    assert.deepEqual(walhookTables.rows, [{ tablename: 'dead_letters' }]);
    const listed = await cli(['dlq', 'list'], config());
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /refunds/);

    await walhook.waitForLog((l) => l.stage === 'heartbeat' && l.msg === 'heartbeat', 'a heartbeat');
    assert.ok(
      !walhook.logs.some((l) => /heartbeat/.test(l.msg) && l.level !== 'debug' && l.level !== 'info'),
    );
    const status = await runCli(['status', '--url', `http://127.0.0.1:${walhook.port}`]);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    const sender = await db.query(
      `SELECT usename FROM pg_stat_replication WHERE application_name = 'walhook'`,
    );
    assert.deepEqual(sender.rows, [{ usename: ROLE }]);

    assert.equal(await walhook.stop(), 0);
    await db.query(`INSERT INTO orders VALUES (2, 'while stopped', 'x')`);
    walhook = await WalhookProcess.start(config(), env());
    const resumed = await receiver.waitFor(4, '/orders');
    assert.equal(resumed[3]?.body.event.data.new.id, 2);
    assert.equal(resumed.length, 4, 'nothing delivered twice');
  } finally {
    await walhook.stop();
  }
});

test('manage_publication: false and a table leaves the publication while running: reported with the statement, not altered', async () => {
  const walhook = await WalhookProcess.start(config(), env());
  try {
    await db.query('ALTER PUBLICATION lp_pub DROP TABLE refunds');
    const report = await walhook.waitForLog(
      (l) => l.code === 'WALHOOK_ERR_TABLE_UNPUBLISHED',
      'the unpublished table report',
    );
    assert.equal(report.level, 'error');
    assert.equal(report.statement, 'ALTER PUBLICATION "lp_pub" ADD TABLE "public"."refunds"');
    walhook.assertAlive();
    assert.ok(!walhook.logs.some((l) => /added back/.test(l.msg) || l.msg === 'publication check failed'));
    const published = await db.query(`SELECT tablename FROM pg_publication_tables WHERE pubname = 'lp_pub'`);
    assert.deepEqual(published.rows, [{ tablename: 'orders' }]);
  } finally {
    await db.query(`ALTER PUBLICATION lp_pub ADD TABLE refunds`);
    await walhook.stop();
  }
});

test('manage_publication: false and the publication lacks a table: one line with the statement to run, exit 2', async () => {
  const yaml = config({
    slot: 'lp_missing',
    triggers: `${TRIGGERS}  - name: extra
    table: extra
    operations: [insert]
    webhook: \${RECEIVER}/extra
`,
  });
  const statement = 'ALTER PUBLICATION "lp_pub" ADD TABLE "public"."extra"';
  await refusedToStart(
    yaml,
    new RegExp(
      `^walhook: publication lp_pub lacks "public"\\."extra" \\(source\\.manage_publication: false\\); as an owner of the tables run: ${escapeRegExp(statement)}$`,
    ),
  );
  const validated = await cli(['validate'], yaml);
  assert.equal(validated.code, 2);
  assert.match(
    validated.stdout,
    new RegExp(`^error +publication lp_pub lacks "public"\\."extra" .*${escapeRegExp(statement)}$`, 'm'),
  );
});

test('the default manage_publication: true as a non-owner: the permission error says to set it false and gives the SQL', async () => {
  const yaml = config({ slot: 'lp_own', source: '' }).replace('publication: lp_pub', 'publication: lp_own');
  const create =
    'CREATE PUBLICATION "lp_own" FOR TABLE "public"."orders", "public"."refunds" WITH (publish_via_partition_root = true';
  await refusedToStart(
    yaml,
    new RegExp(
      `^walhook: the database role may not create or alter publication lp_own: permission denied for database least_privilege; set source\\.manage_publication: false and have an owner of the tables run: ${escapeRegExp(create)}`,
    ),
  );
  const validated = await cli(['validate'], yaml);
  assert.equal(validated.code, 2);
  assert.match(
    validated.stdout,
    /^error +publication lp_own does not exist, and role walhook_app may not create it .*set source\.manage_publication: false/m,
  );
});

test('replica_identity: full on a table the role does not own: one line with the statement for the owner, exit 2', async () => {
  await refusedToStart(
    config({ slot: 'lp_identity', source: '\n  manage_publication: false\n  replica_identity: full' }),
    /^walhook: source\.replica_identity: full, but the database role may not alter "public"\."orders" \(must be owner of table orders\); have the table's owner run ALTER TABLE "public"\."orders" REPLICA IDENTITY FULL, or set source\.replica_identity: keep$/,
  );
});

test('toast: fetch on a table the role may not read: one line with the GRANT to run, exit 2', async () => {
  await db.query('ALTER PUBLICATION lp_pub ADD TABLE private_stuff');
  try {
    await refusedToStart(
      config({
        slot: 'lp_select',
        triggers: `
  - name: private
    table: private_stuff
    operations: [insert]
    webhook: \${RECEIVER}/private
`,
      }),
      /^walhook: role walhook_app may not SELECT from "public"\."private_stuff", which source\.toast: fetch needs .*; run GRANT SELECT ON "public"\."private_stuff" TO "walhook_app", or set source\.toast: omit$/,
    );
  } finally {
    await db.query('ALTER PUBLICATION lp_pub DROP TABLE private_stuff');
  }
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
