import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, lsnValue, startDatabase } from '../helpers/database.js';
import { type Delivery, type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

let db: Database;
let receiver: Receiver;

const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: replay_test
  publication: replay_test
server:
  host: 127.0.0.1
  port: \${PORT}
shutdown_grace_sec: 5
triggers:
  - name: counters
    table: counters
    operations: [insert, update]
    webhook: \${RECEIVER}/counters
`;
const ROWS = 10;
const env = () => ({ DATABASE_URL: db.url, RECEIVER: receiver.url, LOG_LEVEL: 'info' });

before(async () => {
  db = await startDatabase('replay');
  await db.query('CREATE TABLE counters (id int PRIMARY KEY, seq int NOT NULL)');
  // A few milliseconds per request keeps deliveries in flight when walhook is killed.
  receiver = await startReceiver(async () => {
    await sleep(2 + Math.random() * 6);
    return 200;
  });
});

after(async () => {
  await receiver?.close();
  await db?.close();
});

/** Each transaction bumps one row's seq; the change identity is (row, seq). */
async function write(from: number, count: number): Promise<void> {
  for (let n = from; n < from + count; n++) {
    const id = n % ROWS;
    if (n < ROWS) await db.query('INSERT INTO counters VALUES ($1, $2)', [id, n]);
    else await db.query('UPDATE counters SET seq = $2 WHERE id = $1', [id, n]);
  }
}

const changeOf = (d: Delivery) => `${d.body.event.data.new.id}:${d.body.event.data.new.seq}`;

/** Per row, the seq values in the order they arrived, skipping exact redeliveries of an id already seen. */
function perRowFirstArrivals(deliveries: Delivery[]): Map<number, number[]> {
  const seen = new Set<string>();
  const rows = new Map<number, number[]>();
  for (const d of deliveries) {
    if (seen.has(d.body.id)) continue;
    seen.add(d.body.id);
    const list = rows.get(d.body.event.data.new.id) ?? [];
    list.push(d.body.event.data.new.seq);
    rows.set(d.body.event.data.new.id, list);
  }
  return rows;
}

function assertIncreasing(rows: Map<number, number[]>, what: string) {
  for (const [id, seqs] of rows) {
    assert.ok(
      seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] as number)),
      `${what}: row ${id} in commit order: ${seqs.join(',')}`,
    );
  }
}

test('SIGKILL mid-delivery, writes while down, restart: every change arrives, duplicates keep their ids, per-row order holds', async (t) => {
  const first = await WalhookProcess.start(CONFIG, env());
  const total = 600;
  const writing = write(0, 400);
  await waitUntil(() => receiver.deliveries.length >= 150, '150 deliveries before the kill');
  const killed = await first.stop('SIGKILL');
  assert.equal(killed, null, 'killed by the signal');
  await writing;
  const deliveredBeforeKill = receiver.deliveries.length;
  await write(400, total - 400);

  const second = await WalhookProcess.start(CONFIG, env());
  await waitUntil(
    () => new Set(receiver.deliveries.map(changeOf)).size >= total,
    `all ${total} changes`,
    60_000,
  );
  await db.waitForConfirmed('replay_test');
  assert.equal(await second.stop('SIGTERM'), 0);

  const all = receiver.deliveries;
  const expected = new Set(Array.from({ length: total }, (_, n) => `${n % ROWS}:${n}`));
  assert.deepEqual(new Set(all.map(changeOf)), expected, 'every change arrived');

  const idByChange = new Map<string, string>();
  for (const d of all) {
    const known = idByChange.get(changeOf(d));
    if (known) assert.equal(d.body.id, known, `a redelivered change ${changeOf(d)} carries the same id`);
    idByChange.set(changeOf(d), d.body.id);
  }
  assert.equal(new Set(idByChange.values()).size, total, 'distinct changes have distinct ids');
  assertIncreasing(perRowFirstArrivals(all), 'first arrivals');
  assertIncreasing(perRowFirstArrivals(all.slice(deliveredBeforeKill)), 'after restart');
  assert.ok(all.length - total < deliveredBeforeKill, 'only changes unconfirmed at the kill were repeated');
  t.diagnostic(
    `${deliveredBeforeKill} delivered before SIGKILL, ${all.length - total} redelivered after restart`,
  );
});

test('SIGTERM lets deliveries finish, confirms them and exits 0; a restart repeats nothing', async () => {
  const walhook = await WalhookProcess.start(CONFIG, env());
  const start = receiver.deliveries.length;
  await write(1000, 50);
  await waitUntil(() => receiver.deliveries.length >= start + 10, 'some deliveries');
  assert.equal(await walhook.stop('SIGTERM'), 0);
  const afterStop = receiver.deliveries.length;
  const stopped = walhook.logs.find((l) => l.msg?.startsWith('pipeline stopped'));
  assert.ok(stopped, 'the stop is logged');
  const confirmed = await db.confirmedLsn('replay_test');
  assert.equal(
    lsnValue(confirmed as string),
    lsnValue(stopped.confirmed_lsn),
    'the settled position was confirmed',
  );

  const again = await WalhookProcess.start(CONFIG, env());
  await write(2000, 5);
  await db.waitForConfirmed('replay_test');
  await again.stop('SIGTERM');
  const seen = new Set(receiver.deliveries.slice(start, afterStop).map((d) => d.body.id));
  const repeated = receiver.deliveries.slice(afterStop).filter((d) => seen.has(d.body.id));
  const unsettled = stopped.unsettled_events as number;
  assert.equal(unsettled, 0, 'grace period was enough');
  assert.deepEqual(repeated, [], 'nothing settled before SIGTERM is delivered again');
  assert.equal(new Set(receiver.deliveries.slice(start).map(changeOf)).size, 55, 'and nothing is missing');
});
