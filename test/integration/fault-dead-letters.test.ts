import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/embedded-postgres.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

const EVENTS = 30;

let db: Database;
let receiver: Receiver | undefined;
let walhook: WalhookProcess | undefined;

before(async () => {
  db = await startDatabase('deadletters');
  await db.query('CREATE TABLE jobs (id int PRIMARY KEY, state text NOT NULL)');
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await receiver?.close();
  await db?.close();
});

test('a receiver down longer than the retries: events go to the dead-letter store, the slot advances, dlq redeliver delivers them', async (t) => {
  const port = await freePort();
  const config = `
source:
  connection: \${DATABASE_URL}
  slot: dead_letters_test
  publication: dead_letters_test
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: jobs
    table: jobs
    operations: [insert, update]
    webhook: http://127.0.0.1:${port}/jobs
    headers: { X-Source: walhook }
    retry: { num_retries: 2, interval_sec: 0.05, max_interval_sec: 0.1, timeout_sec: 1 }
`;
  const env = { DATABASE_URL: db.url, LOG_LEVEL: 'info' };
  walhook = await WalhookProcess.start(config, env);
  for (let i = 1; i <= EVENTS; i++) await db.query(`INSERT INTO jobs VALUES ($1, 'queued')`, [i]);

  const count = async () =>
    Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM walhook.dead_letters')).rows[0]?.n);
  await waitUntil(async () => (await count().catch(() => 0)) === EVENTS, `${EVENTS} dead letters`);
  const confirmed = await db.waitForConfirmed('dead_letters_test');
  const letters = await db.query<{ id: string; attempts: number; last_error: string; lsn: string }>(
    'SELECT id, attempts, last_error, lsn::text FROM walhook.dead_letters ORDER BY lsn',
  );
  assert.ok(letters.rows.every((row) => row.attempts === 3 && /connect/.test(row.last_error)));
  const published = await db.query(
    `SELECT 1 FROM pg_publication_tables WHERE schemaname = 'walhook' AND tablename = 'dead_letters'`,
  );
  assert.equal(published.rowCount, 0, 'the dead-letter table is never published');
  const failures = walhook.logs.filter((l) => l.code === 'WALHOOK_ERR_DELIVERY_FAILED');
  assert.equal(failures.length, EVENTS);
  const metrics = await (await fetch(`http://127.0.0.1:${walhook.port}/metrics`)).text();
  assert.match(metrics, new RegExp(`walhook_events_dead_lettered_total\\{trigger="jobs"\\} ${EVENTS}`));
  assert.match(
    metrics,
    /walhook_delivery_attempts_total\{trigger="jobs",outcome="retry",status_class="none"\} 60/,
  );
  assert.equal(await walhook.stop(), 0);
  walhook = undefined;

  receiver = await startReceiver(() => 200, port);
  const path = await writeConfig(config);
  const result = await runCli(['dlq', 'redeliver', '--all', '--config', path], { ...env, PORT: '0' });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const delivered = receiver.at('/jobs');
  assert.deepEqual(
    delivered.map((d) => d.body.id),
    letters.rows.map((row) => row.id),
    'every dead letter, with its event id, in commit order',
  );
  assert.ok(delivered.every((d) => d.headers['x-source'] === 'walhook'));
  assert.equal(await count(), 0, 'a successful redelivery removes the letter');
  t.diagnostic(
    `events ${EVENTS}, dead-lettered ${EVENTS}, slot confirmed ${confirmed}, redelivered ${delivered.length}`,
  );
});
