import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { type Database, startDatabase } from '../helpers/database.js';
import { connectTo, createStream, NatsServer, readStream, waitForCount } from '../helpers/nats.js';
import { waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

const SLOT = 'nats_dead_letters_test';
const STREAM = 'WALHOOK';
const ROWS = 3;

let db: Database;
let nats: NatsServer;
let nc: NatsConnection;

// `nowhere` publishes to subjects no stream captures, so every publish is refused; `stored` to the stream.
const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
server:
  host: 127.0.0.1
  port: \${PORT}
shutdown_grace_sec: 2
triggers:
  - name: nowhere
    table: items
    operations: [insert]
    sink: { type: nats, servers: ["\${NATS}"], subject: "elsewhere.{table}.{op}" }
    retry: { num_retries: 2, interval_sec: 0 }
  - name: stored
    table: items
    operations: [insert]
    sink: { type: nats, servers: ["\${NATS}"] }
    retry: { num_retries: 3 }
`;

before(async () => {
  db = await startDatabase('nats_dead_letters');
  await db.query('CREATE TABLE items (id int PRIMARY KEY)');
  nats = await NatsServer.start();
  nc = await connectTo([nats]);
  await createStream(nc, { name: STREAM });
});

after(async () => {
  await nc?.close();
  await nats?.destroy();
  await db?.close();
});

test('with retry.num_retries, a publish that keeps failing ends in the dead-letter store; bodies show the policy', async () => {
  const walhook = await WalhookProcess.start(CONFIG, { DATABASE_URL: db.url, NATS: nats.url });
  try {
    await db.query(`INSERT INTO items SELECT g FROM generate_series(1, ${ROWS}) g`);
    const letters = async () =>
      (
        await db.query<{
          id: string;
          trigger: string;
          attempts: number;
          last_status: number | null;
          last_error: string;
          body: string;
        }>(
          'SELECT id, trigger, attempts, last_status, last_error, body FROM walhook.dead_letters ORDER BY id',
        )
      ).rows;
    await waitUntil(async () => (await letters().catch(() => [])).length === ROWS, `${ROWS} dead letters`);
    await waitForCount(nc, STREAM, ROWS);
    // Settled by the store: the slot moves past the changes no stream took.
    await db.waitForConfirmed(SLOT);

    for (const letter of await letters()) {
      assert.equal(letter.trigger, 'nowhere');
      assert.equal(letter.attempts, 3, 'the first publish and its two retries');
      assert.equal(letter.last_status, null);
      assert.match(letter.last_error, /^connect: no responders: /);
      const body = JSON.parse(letter.body);
      assert.equal(body.id, letter.id);
      assert.deepEqual(body.delivery_info, { max_retries: 2, current_retry: 0 });
    }
    const failures = walhook.logs.filter((l) => l.code === 'WALHOOK_ERR_DELIVERY_FAILED');
    assert.equal(failures.length, ROWS);
    assert.ok(
      failures.every((l) => l.msg === 'nats delivery failed after 3 attempts' && l.trigger === 'nowhere'),
    );

    const stored = await readStream(nc, STREAM);
    assert.deepEqual(
      stored.map((m) => [m.trigger, JSON.parse(m.body).delivery_info]),
      Array.from({ length: ROWS }, () => ['stored', { max_retries: 3, current_retry: 0 }]),
    );
  } finally {
    await walhook.stop();
  }
});
