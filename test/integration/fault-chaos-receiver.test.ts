import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { assertComplete, assertRowOrder, changeOf, countersConfig } from '../helpers/stream-check.js';
import { WalhookProcess } from '../helpers/walhook.js';

const ROWS = 200;
const ROUNDS = 100;
const TOTAL = ROWS * ROUNDS;

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess;

before(async () => {
  db = await startDatabase('chaos');
  await db.query('CREATE TABLE counters (id int PRIMARY KEY, seq int NOT NULL)');
  // About 30% of requests fail: a 500, a connection reset, or no answer until the client times out.
  receiver = await startReceiver(async () => {
    const roll = Math.random();
    if (roll < 0.1) return 500;
    if (roll < 0.2) return 'reset';
    if (roll < 0.3) return null;
    await sleep(Math.random() * 3);
    return 200;
  });
  walhook = await WalhookProcess.start(
    countersConfig('chaos_test', {
      trigger: '    retry: { num_retries: 30, interval_sec: 0.01, max_interval_sec: 0.2, timeout_sec: 0.3 }',
    }),
    { DATABASE_URL: db.url, RECEIVER: receiver.url, LOG_LEVEL: 'warn' },
  );
});

after(async () => {
  await walhook?.stop();
  await receiver?.close();
  await db?.close();
});

test('a receiver failing ~30% of requests (500s, resets, timeouts): every event arrives, in commit order per row', async (t) => {
  await db.query('INSERT INTO counters SELECT g, 0 FROM generate_series(1, $1) g', [ROWS]);
  for (let round = 1; round < ROUNDS; round++) await db.query('UPDATE counters SET seq = seq + 1');
  const expected = new Set<string>();
  for (let row = 1; row <= ROWS; row++) for (let seq = 0; seq < ROUNDS; seq++) expected.add(`${row}:${seq}`);

  await waitUntil(
    () => new Set(receiver.accepted().map(changeOf)).size >= TOTAL,
    `${TOTAL} accepted deliveries`,
    240_000,
  );
  await db.waitForConfirmed('chaos_test');
  const accepted = receiver.accepted();
  const report = assertComplete(accepted, expected);
  assertRowOrder(accepted);
  const failed = receiver.deliveries.length - accepted.length;
  t.diagnostic(
    `events ${TOTAL}, requests ${receiver.deliveries.length}, failed requests ${failed} (${Math.round((100 * failed) / receiver.deliveries.length)}%), lost 0, duplicates accepted ${report.duplicates}`,
  );
});
