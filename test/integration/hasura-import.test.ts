import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { type Database, startDatabase } from '../helpers/database.js';
import { HASURA_BODY_KEYS } from '../helpers/hasura-body.js';
import { type Receiver, sleep, startReceiver } from '../helpers/receiver.js';
import { ROOT, runCli, WalhookProcess } from '../helpers/walhook.js';

const FOLDER = 'test/fixtures/hasura/metadata';
const JSON_EXPORT = 'test/fixtures/hasura/metadata.json';
const HASURA_UA = 'hasura-graphql-engine/v2.48.1';

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess | undefined;
let dir: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  db = await startDatabase('hasura_import');
  await db.query('CREATE TABLE customers (id int PRIMARY KEY, name text)');
  await db.query('CREATE TABLE payments (id int PRIMARY KEY, amount numeric)');
  await db.query(
    'CREATE TABLE orders (id int PRIMARY KEY, customer_id int, status text, total numeric, note text)',
  );
  await db.query('CREATE SCHEMA sales');
  await db.query('CREATE TABLE sales."Order Lines" (line_id int PRIMARY KEY, "Quantity" int, note text)');
  // What the import report asks the tables' owner to run.
  await db.query('ALTER TABLE "public"."orders" REPLICA IDENTITY FULL');
  await db.query('ALTER TABLE "sales"."Order Lines" REPLICA IDENTITY FULL');
  receiver = await startReceiver();
  dir = await mkdtemp(join(tmpdir(), 'walhook-hasura-'));
  env = {
    PG_DATABASE_URL: db.url,
    BASE_URL: receiver.url,
    ORDERS_API_KEY: 'key-from-env',
    ORDERS_DELETED_WEBHOOK: `${receiver.url}/deleted`,
    LINE_SECRET: 'line-secret',
  };
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await receiver?.close();
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

const withoutHeader = (yaml: string) => yaml.split('\n').slice(1).join('\n');

test('import-hasura: the folder and its JSON export give the same config and the same report', async () => {
  const folder = await runCli(['import-hasura', FOLDER, '--partial']);
  const json = await runCli(['import-hasura', JSON_EXPORT, '--partial']);
  assert.equal(folder.code, 2, folder.stderr);
  assert.equal(json.code, 2, json.stderr);
  assert.equal(withoutHeader(json.stdout), withoutHeader(folder.stdout));
  assert.equal(json.stderr, folder.stderr);
  assert.deepEqual(
    parse(folder.stdout).pipelines.map((p: { name: string }) => p.name),
    ['default', 'analytics'],
  );
  const lines = folder.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 10);
  assert.ok(lines.includes('trigger order_status_changed (source default, table orders): mapped'));
});

test('import-hasura: exit codes, stderr lines, --out, usage errors in one line', async () => {
  const unmapped = await runCli(['import-hasura', FOLDER]);
  assert.equal(unmapped.code, 2);
  assert.equal(unmapped.stdout, '');
  assert.match(
    unmapped.stderr,
    /trigger signup_scored \(source analytics, table signups\): not supported: response_transform: an event trigger does nothing with the answer/,
  );
  assert.match(
    unmapped.stderr,
    /\nconfig not written: not every trigger could be mapped \(--partial writes it without them\)\n$/,
  );

  const out = join(dir, 'imported.yaml');
  const single = await runCli(['import-hasura', FOLDER, '--source', 'default', '--out', out]);
  assert.equal(single.code, 0, single.stderr);
  assert.equal(single.stdout, '');
  assert.equal(single.stderr.trimEnd().split('\n').at(-1), `config written to ${out}`);
  const config = parse(await readFile(out, 'utf8'));
  assert.equal(config.source.connection, `\${PG_DATABASE_URL}`);
  assert.equal(config.triggers.length, 4);

  for (const [args, line] of [
    [[], 'walhook: import-hasura: expected the metadata folder or JSON file; run walhook --help'],
    [[FOLDER, '--bogus'], "walhook: import-hasura: Unknown option '--bogus'"],
    [[FOLDER, '--source', 'nope'], 'walhook: import-hasura: --source nope: no such source in the metadata'],
    [
      ['missing-folder'],
      'missing-folder: no such file or folder (expected a Hasura metadata folder or JSON export)',
    ],
  ] as const) {
    const result = await runCli(['import-hasura', ...args]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stderr.split('\n').length, 2, result.stderr);
    assert.ok(result.stderr.startsWith(line), result.stderr);
  }
});

/** Writes rows, then waits for what the receiver should get (and a moment for what it should not). */
async function exercise(since: number): Promise<void> {
  const key = since + 1;
  await db.query('INSERT INTO orders VALUES ($1, 7, $2, 10, $3)', [key, 'new', 'first']);
  await db.query('UPDATE orders SET note = $2 WHERE id = $1', [key, 'no status or total change']);
  await db.query('UPDATE orders SET status = $2 WHERE id = $1', [key, 'paid']);
  await db.query('DELETE FROM orders WHERE id = $1', [key]);
  await db.query('INSERT INTO sales."Order Lines" VALUES ($1, 3, $2)', [key, 'left out of the payload']);
  // Each run adds one delete and one line; the receiver keeps earlier runs' deliveries.
  await receiver.waitFor(since / 100, '/deleted');
  await receiver.waitFor(since / 100, '/lines');
  await sleep(500);
}

/** The deliveries at `path` about the row with this key (`id`, or `line_id` for order lines). */
function deliveriesSince(path: string, key: number) {
  return receiver.at(path).filter((d) => {
    const row = d.body.event.data.new ?? d.body.event.data.old;
    return (row.id ?? row.line_id) === key;
  });
}

/**
 * What Hasura sent for each trigger: its body shape, the configured headers and its User-Agent.
 * `statusBefore` counts the /status deliveries of earlier runs: their payload has no key to tell rows by.
 */
function assertHasuraDeliveries(key: number, statusBefore: number): void {
  const [created, ...moreCreated] = deliveriesSince('/orders', key);
  assert.equal(moreCreated.length, 0);
  assert.equal(created?.body.event.op, 'INSERT');
  assert.equal(created?.body.event.data.old, null);
  assert.deepEqual(created?.body.event.data.new, {
    id: key,
    customer_id: 7,
    status: 'new',
    total: 10,
    note: 'first',
  });
  assert.deepEqual(created?.body.trigger, { name: 'order_created' });
  assert.deepEqual(created?.body.table, { schema: 'public', name: 'orders' });
  // Hasura's keys and no others: receivers may validate the body strictly.
  assert.deepEqual(Object.keys(created?.body ?? {}).sort(), HASURA_BODY_KEYS);
  assert.deepEqual(Object.keys(created?.body.event ?? {}).sort(), [
    'data',
    'op',
    'session_variables',
    'trace_context',
  ]);
  assert.equal(created?.headers['x-api-key'], 'key-from-env');
  assert.equal(created?.headers['x-source'], 'hasura');
  assert.equal(created?.headers['user-agent'], HASURA_UA);

  // The UPDATE that changed neither status nor total did not fire, as under Hasura.
  const changed = receiver.at('/status').slice(statusBefore);
  assert.equal(changed.length, 1, JSON.stringify(changed.map((d) => d.body.event.data)));
  assert.equal(changed[0]?.body.event.op, 'UPDATE');
  // The payload lists status and total: Hasura sends those only, not the key besides.
  assert.deepEqual(changed[0]?.body.event.data, {
    old: { status: 'new', total: 10 },
    new: { status: 'paid', total: 10 },
  });

  const [deleted] = deliveriesSince('/deleted', key);
  assert.equal(deleted?.body.event.op, 'DELETE');
  assert.deepEqual(deleted?.body.event.data.old, {
    id: key,
    customer_id: 7,
    status: 'paid',
    total: 10,
    note: 'no status or total change',
  });
  assert.equal(deleted?.headers['user-agent'], HASURA_UA);

  const [line] = deliveriesSince('/lines', key);
  assert.deepEqual(line?.body.event.data.new, { line_id: key, Quantity: 3 });
  assert.deepEqual(line?.body.table, { schema: 'sales', name: 'Order Lines' });
  assert.equal(line?.headers['x-line-secret'], 'line-secret');
}

test('hasura: {metadata} runs the project unchanged against Postgres and a real receiver', async () => {
  const metadata = join(ROOT, FOLDER);
  walhook = await WalhookProcess.start(
    `hasura: { metadata: "${metadata}" }\nsource: { slot: hasura_import_a, publication: hasura_import_a }\nserver:\n  port: \${PORT}\n`,
    env,
  );
  await exercise(100);
  assertHasuraDeliveries(101, 0);
  assert.equal(await walhook.stop(), 0);
  walhook = undefined;
});

test('the same through the config import-hasura writes', async () => {
  const imported = await runCli(['import-hasura', FOLDER, '--source', 'default']);
  assert.equal(imported.code, 0, imported.stderr);
  const config = parse(imported.stdout);
  config.source.slot = 'hasura_import_b';
  config.source.publication = 'hasura_import_b';
  walhook = await WalhookProcess.start(`${stringify(config)}server:\n  port: \${PORT}\n`, env);
  const statusBefore = receiver.at('/status').length;
  await exercise(200);
  assertHasuraDeliveries(201, statusBefore);
  assert.equal(await walhook.stop(), 0);
  walhook = undefined;
});
