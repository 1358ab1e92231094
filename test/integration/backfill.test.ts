import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { seededRandom } from '../helpers/random.js';
import { type Delivery, type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

const SLOT = 'backfill_test';
const TOKEN = 'backfill-admin-token-0123456789';

let db: Database;
let receiver: Receiver;

before(async () => {
  db = await startDatabase('backfill');
  receiver = await startReceiver(() => 200);
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, val int NOT NULL, note text, doc jsonb)`);
  await db.query(`CREATE TABLE small (id int PRIMARY KEY, label text NOT NULL, secret_note text)`);
});

after(async () => {
  await receiver?.close();
  await db?.server.stop();
});

function config(extra = ''): string {
  return `
source:
  connection: ${db.url}
  slot: ${SLOT}
  publication: ${SLOT}
  heartbeat_sec: 0
server:
  port: \${PORT}
  admin_token: ${TOKEN}
triggers:
  - name: items_hook
    table: items
    operations: [insert, update, delete]
    enable_manual: true
    webhook: ${receiver.url}/items
    batch: { max_events: 50, max_wait_ms: 5 }
  - name: small_hook
    table: small
    operations: [insert, update]
    enable_manual: true
    payload_columns: [label]
    webhook: ${receiver.url}/small
  - name: small_locked
    table: small
    operations: [insert]
    webhook: ${receiver.url}/locked
${extra}`;
}

/** Every event of a path, batches unpacked, in arrival order. */
function events(path: string): Delivery['body'][] {
  return receiver.at(path).flatMap((d) => (Array.isArray(d.body.events) ? d.body.events : [d.body]));
}

/** Starts walhook and returns it with a CLI runner bound to its config and port. */
async function start() {
  const yaml = config();
  const walhook = await WalhookProcess.start(yaml, { LOG_LEVEL: 'info' });
  const path = await writeConfig(yaml);
  const cli = (...args: string[]) =>
    runCli([...args, '--config', path], { PORT: String(walhook.port) }, 300_000);
  return { walhook, cli };
}

test('a backfill of 100,000 rows under 10,000 concurrent updates ends with every row in its newest state', async () => {
  await db.query(
    `INSERT INTO items SELECT i, 0, 'row ' || i, jsonb_build_object('i', i, 'tags', jsonb_build_array('a', i))
       FROM generate_series(1, 100000) i`,
  );
  await db.query('ANALYZE items');
  const { walhook, cli } = await start();
  try {
    const backfill = cli('backfill', '--trigger', 'items_hook', '--batch-size', '2000');
    // The updates start once the backfill is under way and run while it reads.
    await waitUntil(() => events('/items').length > 2000, 'the backfill to start sending', 60_000);
    const random = seededRandom(10);
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let n = 0; n < 2500; n++) {
        const id = 1 + Math.floor(random() * 100_000);
        await db.query(`UPDATE items SET val = val + 1, note = $2 WHERE id = $1`, [id, `w${w} n${n}`]);
      }
    });
    await Promise.all(writers);
    const result = await backfill;
    assert.equal(result.code, 0, `backfill exited ${result.code}: ${result.stderr}`);
    assert.match(result.stdout, /\] 100,000 \/ ~100,000 rows .* done$/m);

    await db.waitForConfirmed(SLOT, 120_000);
    const latest = new Map<number, unknown>();
    const ops = new Map<string, number>();
    for (const event of events('/items')) {
      ops.set(event.event.op, (ops.get(event.event.op) ?? 0) + 1);
      latest.set(event.event.data.new.id, event.event.data.new);
    }
    const { rows } = await db.query<{ id: number; row: unknown }>(
      'SELECT id, row_to_json(items) AS row FROM items ORDER BY id',
    );
    assert.equal(latest.size, 100_000);
    let differing = 0;
    for (const { id, row } of rows) {
      if (JSON.stringify(latest.get(id)) !== JSON.stringify(row)) differing += 1;
    }
    assert.equal(differing, 0, 'rows whose last delivered state differs from the table');
    const manual = ops.get('MANUAL') ?? 0;
    assert.equal(ops.get('UPDATE'), 10_000);
    // A row updated while its page was read is left to the stream, so somewhat fewer than 100,000.
    assert.ok(manual <= 100_000 && manual > 90_000, `MANUAL events: ${manual}`);
    const metrics = await (await fetch(`http://127.0.0.1:${walhook.port}/metrics`)).text();
    assert.match(metrics, new RegExp(`walhook_backfill_rows_total\\{trigger="items_hook"\\} ${manual}\\b`));
    assert.match(metrics, /walhook_backfill_remaining\{trigger="items_hook"\} 0\b/);
    process.stdout.write(
      `# backfill: ${manual} MANUAL + ${ops.get('UPDATE')} UPDATE events, 100,000 rows equal to the table\n`,
    );
  } finally {
    await walhook.stop();
  }
});

test('a stopped backfill continues from its last page, after a cancel and after SIGKILL; --restart starts over', async () => {
  await db.query(`INSERT INTO small SELECT i, 'label ' || i, 'hidden' FROM generate_series(1, 20000) i`);
  let { walhook, cli } = await start();
  const before = events('/small').length;
  const manualIds = () =>
    new Set(
      events('/small')
        .slice(before)
        .filter((e) => e.event.op === 'MANUAL')
        .map((e) => e.event.data.new.id as number),
    );
  try {
    const started = await cli('backfill', '--trigger', 'small_hook', '--batch-size', '200', '--detach');
    assert.equal(started.code, 0, started.stderr);
    await waitUntil(() => manualIds().size >= 3000, 'a part of the backfill', 60_000);
    const cancelled = await cli('backfill', '--trigger', 'small_hook', '--cancel');
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const readAtCancel = Number(/(\d+) rows read/.exec(cancelled.stdout)?.[1]);
    assert.ok(readAtCancel >= 3000 && readAtCancel < 20_000, cancelled.stdout);
    await sleep(300);
    const sentAtCancel = manualIds().size;

    // Started again: it goes on after the last stored page, not from the first row.
    await cli('backfill', '--trigger', 'small_hook', '--batch-size', '200', '--detach');
    await waitUntil(() => manualIds().size >= sentAtCancel + 3000, 'the continued backfill', 60_000);
    await walhook.stop('SIGKILL');
    // A restarted walhook continues the interrupted backfill by itself.
    ({ walhook, cli } = await start());
    await waitUntil(() => manualIds().size === 20_000, 'every row sent', 120_000);
    const all = events('/small')
      .slice(before)
      .filter((e) => e.event.op === 'MANUAL');
    // Only the pages in flight at the cancel and the kill are sent twice.
    assert.ok(all.length < 20_000 + 2 * 200 + 400, `MANUAL events: ${all.length}`);
    for (const event of all.slice(0, 5)) {
      // payload_columns: the listed column and the key, nothing else; old is null for MANUAL.
      assert.deepEqual(Object.keys(event.event.data.new).sort(), ['id', 'label']);
      assert.equal(event.event.data.old, null);
      assert.equal(event.trigger.name, 'small_hook');
    }

    const restart = await cli('backfill', '--trigger', 'small_hook', '--restart', '--op', 'read');
    assert.equal(restart.code, 0, restart.stderr);
    const reads = events('/small').filter((e) => e.event.op === 'READ');
    assert.equal(new Set(reads.map((e) => e.event.data.new.id)).size, 20_000);
  } finally {
    await walhook.stop();
  }
});

test('walhook invoke delivers one row now as MANUAL; enable_manual, missing rows and the token are enforced', async () => {
  const { walhook, cli } = await start();
  try {
    await db.query(`INSERT INTO small VALUES (42, 'label 42', 'hidden') ON CONFLICT DO NOTHING`);
    await db.query(`UPDATE small SET label = 'invoked' WHERE id = 42`);
    await db.waitForConfirmed(SLOT);
    const invoked = await cli('invoke', '--trigger', 'small_hook', '--key', '{"id": 42}');
    assert.equal(invoked.code, 0, invoked.stderr);
    const [eventId, trigger, outcome] = invoked.stdout.trim().split(/\s+/);
    assert.equal(trigger, 'small_hook');
    assert.equal(outcome, 'delivered');
    const event = events('/small').find((e) => e.id === eventId);
    assert.ok(event, 'the invoked event reached the receiver');
    assert.equal(event.event.op, 'MANUAL');
    assert.deepEqual(event.event.data, { old: null, new: { id: 42, label: 'invoked' } });
    // The update before it came first: per-row order holds for manual events too.
    const forRow = events('/small').filter((e) => e.event.data.new.id === 42);
    assert.equal(forRow.at(-1)?.id, eventId);
    // payload_columns trims streamed changes the same way: the listed column and the key, old and new.
    const update = forRow.find((e) => e.event.op === 'UPDATE');
    assert.deepEqual(update?.event.data, { old: { id: 42 }, new: { id: 42, label: 'invoked' } });

    const locked = await cli('invoke', '--trigger', 'small_locked', '--key', '{"id": 42}');
    assert.equal(locked.code, 1);
    assert.match(locked.stderr, /HTTP 403: trigger small_locked has enable_manual: false/);
    const missing = await cli('invoke', '--trigger', 'small_hook', '--key', '{"id": 999999}');
    assert.match(
      missing.stderr,
      /HTTP 404: trigger small_hook: no row of public.small has the key \{"id":999999\}/,
    );
    const wrongKey = await cli('invoke', '--trigger', 'small_hook', '--key', '{"label": "x"}');
    assert.match(wrongKey.stderr, /HTTP 400: the key of public.small is \["id"\]/);

    const url = `http://127.0.0.1:${walhook.port}/triggers/small_hook/invoke`;
    const anonymous = await fetch(url, { method: 'POST', body: '{"key":{"id":1}}' });
    assert.equal(anonymous.status, 401);
    const authorized = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: '{"key":{"id":42}}',
    });
    assert.equal(authorized.status, 200);
    assert.equal(((await authorized.json()) as { outcome: string }).outcome, 'delivered');
  } finally {
    await walhook.stop();
  }
});
