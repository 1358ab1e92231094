import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { eventId } from '../../src/core/event-id.js';
import { type Database, lsnValue, startDatabase } from '../helpers/database.js';
import {
  connectTo,
  createStream,
  NatsServer,
  readStream,
  type StoredMessage,
  streamCount,
  waitForCount,
} from '../helpers/nats.js';
import { type Receiver, sleep, startReceiver } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

const SLOT = 'nats_sink_test';
const STREAM = 'WALHOOK';

let db: Database;
let receiver: Receiver;
let nats: NatsServer;
let nc: NatsConnection;
let systemId: string;

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
  - name: to_webhook
    table: items
    operations: [insert, update, delete]
    webhook: \${RECEIVER}/hook
  - name: to_nats
    table: items
    operations: [insert, update, delete]
    sink:
      type: nats
      servers: ["\${NATS}"]
      ack_timeout_sec: 1
  - name: odd_to_nats
    table: '"My Schema"."Odd.Name"'
    operations: [insert]
    sink: { type: nats, servers: ["\${NATS}"], subject: "walhook.odd.{schema}.{table}.{op}", stream: ${STREAM} }
`;

const env = () => ({ DATABASE_URL: db.url, RECEIVER: receiver.url, NATS: nats.url });

before(async () => {
  db = await startDatabase('nats_sink');
  await db.query('CREATE TABLE items (id int PRIMARY KEY, qty int, note text)');
  await db.query('CREATE SCHEMA "My Schema"');
  await db.query('CREATE TABLE "My Schema"."Odd.Name" (id int PRIMARY KEY)');
  systemId = (await db.query('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]?.id;
  receiver = await startReceiver();
  nats = await NatsServer.start();
  nc = await connectTo([nats]);
  await createStream(nc, { name: STREAM, duplicateWindowMs: 120_000 });
});

after(async () => {
  await nc?.close();
  await nats?.destroy();
  await receiver?.close();
  await db?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: payload assertions read arbitrary fields
type Event = any;
const position = (event: Event) => `${event.source.lsn}#${event.source.index}`;
const messagesOf = (messages: StoredMessage[], trigger: string) =>
  messages.filter((m) => m.trigger === trigger);

test('inserts, updates and deletes arrive in the stream as the webhook receives them, with the event id as message id', async () => {
  const walhook = await WalhookProcess.start(CONFIG, env());
  try {
    await db.query(`INSERT INTO items SELECT g, 0, 'row ' || g FROM generate_series(1, 50) g`);
    for (let round = 1; round <= 3; round++) {
      await db.query('UPDATE items SET qty = $1 WHERE id <= 10', [round]);
    }
    await db.query('DELETE FROM items WHERE id > 40');
    await db.query('INSERT INTO "My Schema"."Odd.Name" VALUES (1)');
    const total = 50 + 3 * 10 + 10;
    await receiver.waitFor(total, '/hook');
    await waitForCount(nc, STREAM, total + 1);

    const messages = await readStream(nc, STREAM);
    const published = messagesOf(messages, 'to_nats');
    assert.equal(published.length, total);
    const twins = new Map(receiver.at('/hook').map((d) => [position(d.body), d.body]));
    for (const message of published) {
      const event = JSON.parse(message.body);
      const twin = twins.get(position(event));
      assert.ok(twin, `no webhook twin for ${position(event)}`);
      assert.deepEqual({ ...event, id: twin.id, trigger: twin.trigger }, twin, `${position(event)} differs`);
      assert.equal(event.trigger.name, 'to_nats');
      assert.equal(event.id, eventId(systemId, lsnValue(event.source.lsn), event.source.index, 'to_nats'));
      assert.equal(message.id, event.id, 'Nats-Msg-Id is the event id');
      assert.equal(message.subject, `walhook.public.items.${event.event.op.toLowerCase()}`);
    }

    // A row's events are stored in commit order: each waited for the previous one's acknowledgement.
    for (let id = 1; id <= 10; id++) {
      const qtys = published
        .map((m) => JSON.parse(m.body).event.data.new)
        .filter((row) => row?.id === id)
        .map((row) => row.qty);
      assert.deepEqual(qtys, [0, 1, 2, 3], `order of row ${id}`);
    }

    const [odd] = messagesOf(messages, 'odd_to_nats');
    assert.equal(odd?.subject, 'walhook.odd.My%20Schema.Odd%2EName.insert');
    assert.deepEqual(JSON.parse(odd?.body ?? '{}').table, { schema: 'My Schema', name: 'Odd.Name' });
  } finally {
    await walhook.stop();
  }
});

test('SIGKILL mid-stream and restart: the stream holds each event exactly once', async () => {
  const before = await streamCount(nc, STREAM);
  const first = await WalhookProcess.start(CONFIG, env());
  const transactions = 40;
  const rows = 100;
  const writing = (async () => {
    for (let t = 0; t < transactions; t++) {
      await db.query(
        `INSERT INTO items SELECT g, 0, 'kill' FROM generate_series($1::int, $1::int + $2::int - 1) g`,
        [1000 + t * rows, rows],
      );
      await sleep(10);
    }
  })();
  await waitForCount(nc, STREAM, before + 1000);
  await first.stop('SIGKILL');
  await writing;

  const second = await WalhookProcess.start(CONFIG, env());
  try {
    const total = transactions * rows;
    await waitForCount(nc, STREAM, before + total, 60_000);
    await db.waitForConfirmed(SLOT);
    const published = messagesOf(await readStream(nc, STREAM), 'to_nats').slice(-total);
    const ids = new Set(published.map((m) => m.id));
    assert.equal(ids.size, total, 'one message per event');
    const rowIds = new Set(published.map((m) => JSON.parse(m.body).event.data.new.id));
    assert.equal(rowIds.size, total, 'every inserted row once');
    assert.equal(await streamCount(nc, STREAM), before + total, 'nothing else was stored');
    const replayed = second.logs.filter((l) => l.trigger === 'to_nats' && l.duplicate === true).length;
    assert.ok(replayed > 0, 'the restart replayed events the stream already had');
    console.log(`nats sigkill: ${total} events, ${replayed} replayed publishes de-duplicated by JetStream`);
  } finally {
    await second.stop();
  }
});

test('while JetStream is down the slot is not confirmed past the unpublished changes; they arrive once it is back', async () => {
  const walhook = await WalhookProcess.start(CONFIG, env());
  try {
    await db.waitForConfirmed(SLOT);
    const before = await streamCount(nc, STREAM);
    const webhooks = receiver.at('/hook').length;
    await nats.stop();
    await db.query(`INSERT INTO items SELECT g, 0, 'down' FROM generate_series(9001, 9020) g`);
    const written = lsnValue((await db.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn);
    await receiver.waitFor(webhooks + 20, '/hook');
    await walhook.waitForLog(
      (l) => l.trigger === 'to_nats' && l.outcome === 'retry' && l.level === 'warn',
      'a publish retry logged at warn',
    );
    // Several acknowledgement timeouts and backoffs later, still nothing confirmed past the insert.
    await sleep(4_000);
    const confirmed = lsnValue((await db.confirmedLsn(SLOT)) as string);
    assert.ok(confirmed < written, 'confirmed_flush_lsn stays before the unpublished insert');

    await nats.restart();
    await waitForCount(nc, STREAM, before + 20);
    await db.waitForConfirmed(SLOT);
    const published = messagesOf(await readStream(nc, STREAM), 'to_nats').slice(-20);
    assert.deepEqual(
      published.map((m) => JSON.parse(m.body).event.data.new.id).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => 9001 + i),
    );
    assert.equal(await streamCount(nc, STREAM), before + 20);
  } finally {
    await walhook.stop();
  }
});
