import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { assertComplete, assertRowOrder, changeOf, countersConfig } from '../helpers/stream-check.js';
import { WalhookProcess } from '../helpers/walhook.js';

const ROWS = 200;
const ROUNDS = 100;
const TOTAL = ROWS * ROUNDS;
const KILLS = 5;

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess | undefined;

const CONFIG = countersConfig('sigkill_test');

before(async () => {
  db = await startDatabase('sigkill');
  await db.query('CREATE TABLE counters (id int PRIMARY KEY, seq int NOT NULL)');
  receiver = await startReceiver(async () => {
    await sleep(Math.random() * 4);
    return 200;
  });
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await receiver?.close();
  await db?.close();
});

test('SIGKILL at five random moments of a 20,000-event stream: nothing lost, duplicates keep their first id', async (t) => {
  const env = { DATABASE_URL: db.url, RECEIVER: receiver.url, LOG_LEVEL: 'info' };
  walhook = await WalhookProcess.start(CONFIG, env);
  const writing = (async () => {
    await db.query('INSERT INTO counters SELECT g, 0 FROM generate_series(1, $1) g', [ROWS]);
    for (let round = 1; round < ROUNDS; round++) {
      await db.query('UPDATE counters SET seq = seq + 1');
      await sleep(20);
    }
  })();
  const killedAt: number[] = [];
  for (let kill = 0; kill < KILLS; kill++) {
    const target = Math.floor(((kill + Math.random()) / KILLS) * TOTAL * 0.8);
    await waitUntil(
      () => walhook?.assertAlive() === true && receiver.deliveries.length >= target,
      `${target} deliveries`,
      120_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; got ${receiver.deliveries.length}; walhook said:\n${walhook?.tail()}`);
    });
    assert.equal(await walhook.stop('SIGKILL'), null);
    killedAt.push(receiver.deliveries.length);
    walhook = await WalhookProcess.start(CONFIG, env);
  }
  await writing;
  await waitUntil(
    () => walhook?.assertAlive() === true && new Set(receiver.deliveries.map(changeOf)).size >= TOTAL,
    `all ${TOTAL} changes`,
    120_000,
  );
  await db.waitForConfirmed('sigkill_test');

  const expected = new Set<string>();
  for (let row = 1; row <= ROWS; row++) for (let seq = 0; seq < ROUNDS; seq++) expected.add(`${row}:${seq}`);
  const report = assertComplete(receiver.deliveries, expected);
  assertRowOrder(receiver.deliveries);
  t.diagnostic(
    `events ${TOTAL}, kills ${KILLS} (after ${killedAt.join(', ')} deliveries), lost 0, duplicates ${report.duplicates}`,
  );
});
