import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Answer, type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

const SLOT = 'trigger_in_flight_test';
const ROWS = 3;

let db: Database;
let receiver: Receiver;
/** Answers the requests held at `/held` once called; until then they wait. */
let release: () => void = () => {};
const released = new Promise<void>((resolve) => {
  release = resolve;
});

before(async () => {
  db = await startDatabase('trigger_in_flight');
  await db.query('CREATE TABLE items (id int PRIMARY KEY)');
  receiver = await startReceiver((delivery): Promise<Answer> | Answer =>
    delivery.path.startsWith('/held') ? released.then(() => 200) : 410,
  );
});

after(async () => {
  release();
  await receiver?.close();
  await db?.close();
});

const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
server:
  host: 127.0.0.1
  port: \${PORT}
shutdown_grace_sec: 1
triggers:
  - name: held
    table: items
    operations: [insert]
    webhook: \${RECEIVER}/held
    retry: { timeout_sec: 300 }
  - name: gone
    table: items
    operations: [insert]
    webhook: \${RECEIVER}/gone
    retry: { final_statuses: [410] }
`;

/** Each trigger's `in_flight` in `/status`. */
async function triggerInFlight(walhook: WalhookProcess): Promise<Record<string, number>> {
  const response = await fetch(`http://127.0.0.1:${walhook.port}/status`);
  const status = (await response.json()) as { triggers: { name: string; in_flight: number }[] };
  return Object.fromEntries(status.triggers.map((t) => [t.name, t.in_flight]));
}

test("/status counts a trigger's events in flight in the sink: not those a step-down dropped, nor settled ones", async () => {
  const walhook = await WalhookProcess.start(CONFIG, { DATABASE_URL: db.url, RECEIVER: receiver.url });
  try {
    await db.query(`INSERT INTO items SELECT g FROM generate_series(1, ${ROWS}) g`);
    await receiver.waitFor(ROWS, '/held');
    await receiver.waitFor(ROWS, '/gone');
    await waitUntil(async () => (await triggerInFlight(walhook)).gone === 0, 'the dead letters of gone');
    assert.deepEqual(await triggerInFlight(walhook), { held: ROWS, gone: 0 });

    // Losing the slot lock stops the pipeline, dropping what its sink held; the next one replays it.
    await db.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'walhook-lock'",
    );
    await walhook.waitForLog(
      (l) => l.msg === 'lost the slot lock; stopping reading until it is held again',
      'the step-down',
    );
    await receiver.waitFor(2 * ROWS, '/held');
    await receiver.waitFor(2 * ROWS, '/gone');
    await waitUntil(async () => (await triggerInFlight(walhook)).gone === 0, 'the replayed dead letters');
    assert.deepEqual(await triggerInFlight(walhook), { held: ROWS, gone: 0 });

    release();
    await db.waitForConfirmed(SLOT);
    assert.deepEqual(await triggerInFlight(walhook), { held: 0, gone: 0 });
  } finally {
    await walhook.stop();
  }
});
