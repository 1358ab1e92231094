import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

// Keys and filters typed by a user reach Postgres digit for digit: a double would turn
// 9007199254740993 into 9007199254740992 and deliver the neighbouring row.
const SLOT = 'exact_keys';
const TOKEN = 'exact-keys-admin-token-0123456789';
const BIG = '9007199254740993';
const NEIGHBOUR = '9007199254740992';

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess;
let configPath: string;

before(async () => {
  db = await startDatabase('exact_keys');
  // Pages of the /many backfill take a moment each, so a cancel lands mid-way.
  receiver = await startReceiver(async (delivery) => {
    if (delivery.path.startsWith('/many')) await sleep(5);
    return 200;
  });
  await db.query('CREATE TABLE big (id bigint PRIMARY KEY, label text NOT NULL)');
  await db.query('CREATE TABLE dec (id numeric PRIMARY KEY, label text NOT NULL)');
  await db.query('CREATE TABLE pairs (a bigint, b text, label text NOT NULL, PRIMARY KEY (a, b))');
  await db.query('CREATE TABLE many (id int PRIMARY KEY, v bigint NOT NULL)');
  await db.query(`INSERT INTO big VALUES (${NEIGHBOUR}, 'neighbour'), (${BIG}, 'wanted')`);
  await db.query(
    `INSERT INTO dec VALUES (0.1, 'neighbour'), (0.10000000000000000001, 'wanted'), (1.10, 'one point one')`,
  );
  await db.query(
    `INSERT INTO pairs VALUES (${NEIGHBOUR}, 'x', 'neighbour'), (${BIG}, 'x', 'wanted'), (${BIG}, 'y', 'other')`,
  );
  await db.query(`INSERT INTO many SELECT i, ${NEIGHBOUR} + i % 2 FROM generate_series(1, 3000) i`);
  await db.query('ANALYZE many');
  const yaml = `
source:
  connection: ${db.url}
  slot: ${SLOT}
  publication: ${SLOT}
  heartbeat_sec: 0
server:
  port: \${PORT}
  admin_token: ${TOKEN}
triggers:
${['big', 'dec', 'pairs', 'many']
  .map(
    (table) => `  - name: ${table}_hook
    table: ${table}
    operations: [insert, update]
    enable_manual: true
    webhook: ${receiver.url}/${table}`,
  )
  .join('\n')}
`;
  walhook = await WalhookProcess.start(yaml, { LOG_LEVEL: 'info' });
  configPath = await writeConfig(yaml);
});

after(async () => {
  await walhook?.stop();
  await receiver?.close();
  await db?.server.stop();
});

function cli(...args: string[]) {
  return runCli([...args, '--config', configPath], { PORT: String(walhook.port) }, 300_000);
}

/** The raw body the receiver got with this event id: the payload's digits as sent. */
function rawBody(path: string, eventId: string): string {
  const delivery = receiver.at(path).find((d) => d.body.id === eventId);
  assert.ok(delivery, `event ${eventId} reached ${path}`);
  return delivery.raw;
}

test('walhook invoke reads bigint, numeric and composite keys with every digit', async () => {
  const cases: [string, string, RegExp][] = [
    ['big_hook', `{"id": ${BIG}}`, new RegExp(`"new":\\{"id":${BIG},"label":"wanted"\\}`)],
    ['dec_hook', '{"id": 0.10000000000000000001}', /"new":\{"id":0\.10000000000000000001,"label":"wanted"\}/],
    ['dec_hook', '{"id": 1.10}', /"new":\{"id":1\.10,"label":"one point one"\}/],
    ['pairs_hook', `{"a": ${BIG}, "b": "x"}`, new RegExp(`"new":\\{"a":${BIG},"b":"x","label":"wanted"\\}`)],
  ];
  for (const [trigger, key, expected] of cases) {
    const result = await cli('invoke', '--trigger', trigger, '--key', key);
    assert.equal(result.code, 0, `${key}: ${result.stderr}`);
    const [eventId, , outcome] = result.stdout.trim().split(/\s+/);
    assert.equal(outcome, 'delivered');
    assert.match(rawBody(`/${trigger.replace('_hook', '')}`, eventId as string), expected, key);
  }
});

test('POST /triggers/T/invoke reads its body with every digit too', async () => {
  const res = await fetch(`http://127.0.0.1:${walhook.port}/triggers/big_hook/invoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: `{"key": {"id": ${BIG}}}`,
  });
  assert.equal(res.status, 200);
  const { event_id: eventId, outcome } = (await res.json()) as { event_id: string; outcome: string };
  assert.equal(outcome, 'delivered');
  assert.match(rawBody('/big', eventId), new RegExp(`"new":\\{"id":${BIG},"label":"wanted"\\}`));
});

test('a key that matches no row is one line naming the trigger, table and key; exit 1, nothing delivered', async () => {
  const before = receiver.at('/big').length;
  const result = await cli('invoke', '--trigger', 'big_hook', '--key', '{"id": 9007199254740995}');
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(
    lines[0] as string,
    /trigger big_hook: no row of public\.big has the key \{"id":9007199254740995\}/,
  );
  await sleep(500);
  assert.equal(receiver.at('/big').length, before);
});

test('--key and --where that are not JSON are one usage line, exit 2', async () => {
  const key = await cli('invoke', '--trigger', 'big_hook', '--key', '{id: 1}');
  assert.equal(key.code, 2);
  assert.equal(
    key.stderr,
    'walhook: --key is not valid JSON (expected a key in double quotes at position 1); run walhook --help\n',
  );
  const where = await cli(
    'backfill',
    '--trigger',
    'big_hook',
    '--where',
    '{"new": {"id": {"_eq": 1}}, "new": {}}',
  );
  assert.equal(where.code, 2);
  assert.match(where.stderr, /^walhook: --where is not valid JSON \(duplicate key "new" at position 28\)/);
  // A number kept exact is a literal, not an (empty, so always true) object of operators.
  const literal = await cli(
    'backfill',
    '--trigger',
    'many_hook',
    '--where',
    '{"new": {"v": 0.10000000000000000001}}',
  );
  assert.deepEqual(
    [literal.code, literal.stderr],
    [
      2,
      'walhook: --where: expected an object of operators for column v, e.g. { _eq: ... }; run walhook --help\n',
    ],
  );
});

test('a backfill --where keeps every digit, also when a cancelled backfill continues from its stored filter', async () => {
  const where = `{"new": {"v": {"_eq": ${BIG}}}}`;
  const started = await cli(
    'backfill',
    '--trigger',
    'many_hook',
    '--where',
    where,
    '--batch-size',
    '10',
    '--detach',
  );
  assert.equal(started.code, 0, started.stderr);
  await waitUntil(() => receiver.at('/many').length >= 20, 'the backfill to send a few pages', 60_000);
  const cancelled = await cli('backfill', '--trigger', 'many_hook', '--cancel');
  assert.equal(cancelled.code, 0, cancelled.stderr);
  const [, read] = /cancelled: (\d+) rows read/.exec(cancelled.stdout) ?? [];
  assert.ok(Number(read) < 3000, `the cancel came before the end: ${cancelled.stdout}`);
  // Continuing reads the filter back from walhook.backfills rather than from this command line.
  const continued = await cli('backfill', '--trigger', 'many_hook');
  assert.equal(continued.code, 0, continued.stderr);
  const { rows } = await db.query<{ filter: string }>(
    `SELECT filter::text AS filter FROM walhook.backfills WHERE trigger = 'many_hook'`,
  );
  assert.equal(rows[0]?.filter, `{"new": {"v": {"_eq": ${BIG}}}}`);
  const sent = receiver.at('/many').filter((d) => d.body.event.op === 'MANUAL');
  const wrong = sent.filter((d) => !d.raw.includes(`"v":${BIG}`));
  assert.equal(wrong.length, 0, `rows sent that the filter excludes: ${wrong[0]?.raw}`);
  assert.equal(new Set(sent.map((d) => d.body.event.data.new.id)).size, 1500);
});
