import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventId } from '../../src/core/event-id.js';
import { type Database, lsnValue, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess;

const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: batching_test
  publication: batching_test
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: single
    table: items
    operations: [insert, update]
    webhook: \${RECEIVER}/single
  - name: batched
    table: items
    operations: [insert, update]
    webhook: \${RECEIVER}/batched
    concurrency: 4
    batch:
      max_events: 50
      max_wait_ms: 20
`;

before(async () => {
  db = await startDatabase('batching');
  await db.query('CREATE TABLE items (id int PRIMARY KEY, qty int, note text)');
  receiver = await startReceiver();
  walhook = await WalhookProcess.start(CONFIG, { DATABASE_URL: db.url, RECEIVER: receiver.url });
});

after(async () => {
  await walhook?.stop();
  await receiver?.close();
  await db?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: payload assertions read arbitrary fields
type Event = any;
const position = (event: Event) => `${event.source.lsn}#${event.source.index}`;

test('a batched trigger sends {"events": [...]} of the same events, ids and per-row order', async () => {
  await db.query(`INSERT INTO items SELECT g, 0, 'row ' || g FROM generate_series(1, 300) g`);
  for (let round = 1; round <= 5; round++) {
    await db.query('UPDATE items SET qty = $1 WHERE id <= 30', [round]);
  }
  const total = 300 + 5 * 30;
  await receiver.waitFor(total, '/single');
  await waitUntil(
    () => receiver.at('/batched').reduce((sum, d) => sum + d.body.events.length, 0) >= total,
    `${total} batched events`,
  );

  const batches = receiver.at('/batched');
  assert.ok(batches.every((d) => Object.keys(d.body).join() === 'events'));
  assert.ok(batches.every((d) => d.body.events.length >= 1 && d.body.events.length <= 50));
  assert.ok(batches.length < total / 5, `${batches.length} POSTs for ${total} events: not batched`);
  const batched: Event[] = batches.flatMap((d) => d.body.events);
  assert.equal(batched.length, total);

  // Apart from its id and trigger name, each batched event is the event the one-per-POST trigger sent.
  const single = new Map(receiver.at('/single').map((d) => [position(d.body), d.body]));
  const { rows } = await db.query('SELECT system_identifier::text AS id FROM pg_control_system()');
  const systemId: string = rows[0]?.id;
  for (const event of batched) {
    const twin = single.get(position(event));
    assert.ok(twin, `no one-per-POST twin for ${position(event)}`);
    assert.deepEqual(
      { ...event, id: twin.id, trigger: twin.trigger },
      twin,
      `event at ${position(event)} differs from its twin`,
    );
    assert.equal(event.id, eventId(systemId, lsnValue(event.source.lsn), event.source.index, 'batched'));
  }

  // A row's events arrive in commit order even though batches of different rows run in parallel.
  for (let id = 1; id <= 30; id++) {
    const qtys = batched
      .filter((e: Event) => e.event.data.new.id === id)
      .map((e: Event) => e.event.data.new.qty);
    assert.deepEqual(qtys, [0, 1, 2, 3, 4, 5], `order of row ${id}`);
  }
});
