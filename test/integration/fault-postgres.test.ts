import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { assertComplete, assertRowOrder, changeOf, countersConfig } from '../helpers/stream-check.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

const ROWS = 50;

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess | undefined;

const config = (slot: string, source = '') => countersConfig(slot, { source });

before(async () => {
  // A tiny max_slot_wal_keep_size lets a test invalidate a slot by writing a little WAL.
  db = await startDatabase('pgfaults', { settings: { max_slot_wal_keep_size: '1MB' } });
  await db.query('CREATE TABLE counters (id int PRIMARY KEY, seq int NOT NULL)');
  await db.query('INSERT INTO counters SELECT g, 0 FROM generate_series(1, $1) g', [ROWS]);
  receiver = await startReceiver(async () => {
    await sleep(Math.random() * 3);
    return 200;
  });
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await receiver?.close();
  await db?.close();
});

const env = () => ({ DATABASE_URL: db.url, RECEIVER: receiver.url, LOG_LEVEL: 'info' });

async function bump(rounds: number, from: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    await db.query('UPDATE counters SET seq = $1', [from + round]);
  }
}

test('a Postgres fast restart and a terminated walsender mid-stream: nothing lost, reconnects logged', async (t) => {
  walhook = await WalhookProcess.start(config('pgfaults_test'), env());
  const live = walhook;
  await bump(20, 1);
  await waitUntil(() => receiver.deliveries.length >= 200, 'some deliveries');
  await db.restart();
  await bump(20, 21);
  await waitUntil(
    () => live.assertAlive() && receiver.deliveries.length >= 1200,
    'deliveries after the restart',
    60_000,
  );
  await db.query(
    `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'pgfaults_test'`,
  );
  await bump(20, 41);
  const expected = new Set<string>();
  for (let row = 1; row <= ROWS; row++) for (let seq = 1; seq <= 60; seq++) expected.add(`${row}:${seq}`);
  await waitUntil(
    () => live.assertAlive() && [...expected].every((c) => changeSet().has(c)),
    'every change',
    60_000,
  );
  await db.waitForConfirmed('pgfaults_test');
  const deliveries = receiver.deliveries.filter((d) => d.body.event.op === 'UPDATE');
  const report = assertComplete(deliveries, expected);
  assertRowOrder(deliveries);
  // A restart also ends the slot-lock session: walhook stops reading and starts again once it holds the
  // lock. A terminated walsender is a reconnect of the stream alone.
  const reconnects = live.logs.filter((l) => l.msg === 'replication connection lost; reconnecting');
  const relocks = live.logs.filter(
    (l) => l.msg === 'lost the slot lock; stopping reading until it is held again',
  );
  assert.ok(reconnects.length >= 1, `the terminated walsender logged (${reconnects.length})`);
  assert.ok(relocks.length >= 1, `the restart logged (${relocks.length})`);
  const metrics = await (await fetch(`http://127.0.0.1:${live.port}/metrics`)).text();
  assert.match(metrics, /walhook_replication_reconnects_total\{pipeline="default"\} [1-9]/);
  assert.match(metrics, /walhook_role\{pipeline="default",role="active"\} 1/);
  assert.equal(await live.stop(), 0);
  walhook = undefined;
  t.diagnostic(
    `events ${expected.size}, reconnects ${reconnects.length + relocks.length}, lost 0, duplicates ${report.duplicates}`,
  );
});

const changeSet = () => new Set(receiver.deliveries.map(changeOf));

test('a slot invalidated while walhook was down: a clear error and exit non-zero; recreated only on request', async () => {
  const path = await writeConfig(config('lost_test'));
  walhook = await WalhookProcess.start(config('lost_test'), env());
  assert.equal(await walhook.stop(), 0);
  walhook = undefined;
  // Enough WAL past max_slot_wal_keep_size, then a checkpoint, invalidates the inactive slot.
  for (let i = 0; i < 4; i++) {
    await db.query(
      'INSERT INTO counters SELECT g, 0 FROM generate_series(1000, 30000) g ON CONFLICT DO NOTHING',
    );
    await db.query('DELETE FROM counters WHERE id >= 1000');
    await db.query('SELECT pg_switch_wal()');
  }
  await db.query('CHECKPOINT');
  const status = await db.query<{ wal_status: string }>(
    `SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'lost_test'`,
  );
  assert.equal(status.rows[0]?.wal_status, 'lost');

  const failed = await runCli(['run', '--config', path], { ...env(), PORT: '0' });
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /^walhook: replication slot lost_test was invalidated \(wal_status lost\)/);
  assert.match(failed.stderr, /source\.on_slot_lost: recreate/);

  walhook = await WalhookProcess.start(config('lost_test', '  on_slot_lost: recreate'), env());
  const recreated = walhook.logs.find((l) => l.code === 'WALHOOK_ERR_SLOT_LOST' && l.level === 'error');
  assert.ok(recreated, 'the recreation is logged at error level');
  const before = receiver.deliveries.length;
  await db.query('UPDATE counters SET seq = 1000 WHERE id = 1');
  await waitUntil(
    () => receiver.deliveries.slice(before).some((d) => d.body.event.data.new.seq === 1000),
    'a new change',
  );
  assert.equal(await walhook.stop(), 0);
  walhook = undefined;
});

test('the slot dropped while walhook streams: it stops with a clear error instead of retrying forever', async () => {
  walhook = await WalhookProcess.start(config('dropped_test'), env());
  const live = walhook;
  await db.query(
    `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'dropped_test'`,
  );
  await waitUntil(async () => {
    try {
      await db.query(`SELECT pg_drop_replication_slot('dropped_test')`);
      return true;
    } catch {
      return false;
    }
  }, 'the slot to be dropped');
  await waitUntil(() => live.child.exitCode !== null, 'walhook to exit', 30_000);
  assert.equal(live.child.exitCode, 1);
  assert.match(live.stderr, /replication slot dropped_test no longer exists/);
  walhook = undefined;
});
