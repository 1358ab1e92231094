import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

/** Pipeline A's events, written while its receiver is down. */
const A_EVENTS = 200;
/** Pipeline B's events, delivered meanwhile. */
const B_EVENTS = 3_000;
const ROWS_PER_TRANSACTION = 100;
/** Generous: B alone delivers these in a second or two; a B held back by A never finishes. */
const B_BOUND_MS = 30_000;

const CONFIG = `
server:
  host: 127.0.0.1
  port: \${PORT}
  ready_max_lag_sec: 2
shutdown_grace_sec: 1
pipelines:
  - name: a
    source:
      connection: \${DATABASE_URL}
      slot: pipelines_test_a
      publication: pipelines_test_a
      heartbeat_sec: 1
    triggers:
      - name: a_items
        table: a_items
        operations: [insert]
        webhook: \${RECEIVER_A}/a
        retry: { num_retries: 100000, interval_sec: 0.2, backoff: fixed }
  - name: b
    source:
      connection: \${DATABASE_URL}
      slot: pipelines_test_b
      publication: pipelines_test_b
      heartbeat_sec: 1
    triggers:
      - name: b_items
        table: b_items
        operations: [insert]
        webhook: \${RECEIVER_B}/b
`;

let db: Database;
let receiverA: Receiver;
let receiverB: Receiver;
let aDown = false;
let walhook: WalhookProcess | undefined;

before(async () => {
  db = await startDatabase('pipelines');
  await db.query('CREATE TABLE a_items (id int PRIMARY KEY, note text)');
  await db.query('CREATE TABLE b_items (id int PRIMARY KEY, note text)');
  receiverA = await startReceiver(() => (aDown ? 503 : 200));
  receiverB = await startReceiver();
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await receiverA?.close();
  await receiverB?.close();
  await db?.close();
});

/** A scrape's series as `name{labels}` → value. */
async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(walhook_\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match) series.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return series;
}

async function insert(table: string, count: number): Promise<void> {
  for (let from = 1; from <= count; from += ROWS_PER_TRANSACTION) {
    await db.query(`INSERT INTO ${table} SELECT g, 'row ' || g FROM generate_series($1::int, $2::int) g`, [
      from,
      Math.min(from + ROWS_PER_TRANSACTION - 1, count),
    ]);
  }
}

const rowIds = (receiver: Receiver, path: string) =>
  new Set(receiver.accepted(path).map((d) => d.body.event.data.new.id as number));

test("pipeline B delivers at full speed while pipeline A's receiver is down; A then catches up losing nothing", async (t) => {
  walhook = await WalhookProcess.start(CONFIG, {
    DATABASE_URL: db.url,
    RECEIVER_A: receiverA.url,
    RECEIVER_B: receiverB.url,
  });
  const { port } = walhook;
  const initial = await scrape(port);
  for (const pipeline of ['a', 'b']) {
    assert.equal(initial.get(`walhook_role{pipeline="${pipeline}",role="active"}`), 1, `${pipeline} active`);
    assert.equal(initial.get(`walhook_replication_connected{pipeline="${pipeline}"}`), 1);
  }
  const { rows: slots } = await db.query<{ slot_name: string }>(
    "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'pipelines_test_%' AND active ORDER BY 1",
  );
  assert.deepEqual(
    slots.map((s) => s.slot_name),
    ['pipelines_test_a', 'pipelines_test_b'],
    'each pipeline reads its own slot',
  );

  // A's receiver goes down: every attempt answers 503, and A's events wait, retrying.
  aDown = true;
  await insert('a_items', A_EVENTS);
  await waitUntil(() => receiverA.at('/a').length >= A_EVENTS, "A's first attempts");

  const startedB = Date.now();
  await insert('b_items', B_EVENTS);
  await waitUntil(() => rowIds(receiverB, '/b').size >= B_EVENTS, `${B_EVENTS} events through B`, B_BOUND_MS);
  const bMs = Date.now() - startedB;
  t.diagnostic(`B delivered ${B_EVENTS} events in ${bMs} ms while A's receiver answered 503`);
  assert.equal(receiverA.accepted('/a').length, 0, 'nothing of A was accepted meanwhile');

  // A's lag grows while B's stays at nothing.
  const early = await scrape(port);
  await waitUntil(
    async () => {
      const m = await scrape(port);
      return (
        (m.get('walhook_replication_lag_seconds{pipeline="a"}') ?? 0) >
          Math.max(2, (early.get('walhook_replication_lag_seconds{pipeline="a"}') ?? 0) + 1) &&
        m.get('walhook_replication_lag_seconds{pipeline="b"}') === 0 &&
        m.get('walhook_in_flight_events{pipeline="b"}') === 0
      );
    },
    "A's lag to grow while B's stays 0",
    15_000,
  );
  const lagging = await scrape(port);
  assert.ok((lagging.get('walhook_replication_lag_seconds{pipeline="a"}') ?? 0) > 2);
  assert.equal(lagging.get('walhook_in_flight_events{pipeline="a"}'), A_EVENTS);
  assert.ok(
    (lagging.get('walhook_replication_lag_bytes{pipeline="a"}') ?? 0) >
      (lagging.get('walhook_replication_lag_bytes{pipeline="b"}') ?? 0),
    "A's confirmed position stays behind B's",
  );
  assert.equal(lagging.get('walhook_replication_connected{pipeline="b"}'), 1);
  // Trigger series keep their own labels only.
  assert.equal(lagging.get('walhook_events_delivered_total{trigger="b_items"}'), B_EVENTS);
  assert.equal(lagging.get('walhook_events_delivered_total{trigger="a_items"}'), 0);

  // /readyz names the lagging pipeline; /status and `walhook status` show both.
  const readyz = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(readyz.status, 503);
  assert.match(await readyz.text(), /^not ready: pipeline a: lagging/);
  const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as {
    pipelines: { pipeline: string; slot: string; ready: boolean; in_flight: { events: number } }[];
  };
  assert.deepEqual(
    status.pipelines.map((p) => [p.pipeline, p.slot, p.ready]),
    [
      ['a', 'pipelines_test_a', false],
      ['b', 'pipelines_test_b', true],
    ],
  );
  const shown = await runCli(['status', '--url', `http://127.0.0.1:${port}`]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /== pipeline a\n[\s\S]*a_items[\s\S]*== pipeline b\n[\s\S]*b_items/);

  // A's receiver recovers: A catches up from its own checkpoint with nothing lost.
  aDown = false;
  await waitUntil(() => rowIds(receiverA, '/a').size >= A_EVENTS, `${A_EVENTS} events through A`, 60_000);
  assert.deepEqual(
    [...rowIds(receiverA, '/a')].sort((x, y) => x - y),
    Array.from({ length: A_EVENTS }, (_, i) => i + 1),
  );
  await db.waitForConfirmed('pipelines_test_a');
  await db.waitForConfirmed('pipelines_test_b');
  await waitUntil(async () => {
    const m = await scrape(port);
    return (
      m.get('walhook_replication_lag_seconds{pipeline="a"}') === 0 &&
      m.get('walhook_in_flight_events{pipeline="a"}') === 0
    );
  }, "A's lag back to 0");
  await walhook.ready(15_000);
  assert.equal(rowIds(receiverB, '/b').size, B_EVENTS);
  walhook.assertAlive();

  // validate checks every pipeline, naming each.
  const checked = await runCli(['validate', '--config', await writeConfig(CONFIG)], {
    DATABASE_URL: db.url,
    RECEIVER_A: receiverA.url,
    RECEIVER_B: receiverB.url,
    PORT: '0',
  });
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  assert.match(checked.stdout, /^ok {4}pipeline a: slot pipelines_test_a exists/m);
  assert.match(
    checked.stdout,
    /^ok {4}pipeline b: triggers\[0\] \(b_items\): table "public"\."b_items" exists$/m,
  );
  assert.match(checked.stdout, /^ok {4}pipeline b: slot pipelines_test_b exists/m);
});
