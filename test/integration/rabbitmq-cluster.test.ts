import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import {
  bindQueue,
  connectTo,
  consume,
  type RabbitNode,
  rabbitHome,
  startCluster,
} from '../helpers/rabbitmq.js';
import { sleep, waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

const SLOT = 'rabbitmq_cluster_test';
const QUEUE = 'orders';
const TRANSACTIONS = 50;
const ROWS = 200;
const TOTAL = TRANSACTIONS * ROWS;

let db: Database;
let home: string;
let cluster: RabbitNode[];

/** The URLs go into the text itself: an environment reference cannot become a list. */
const config = (urls: string) => `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: orders
    table: orders
    operations: [insert]
    sink:
      type: rabbitmq
      urls: [${urls}]
      ack_timeout_sec: 2
`;

before(async () => {
  db = await startDatabase('rabbitmq_cluster');
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, amount numeric, note text)');
  home = await rabbitHome();
  cluster = await startCluster(home, 3);
  const { model, channel } = await connectTo(cluster);
  await bindQueue(channel, { exchange: 'walhook', queue: QUEUE, quorum: true });
  await model.close();
});

after(async () => {
  await Promise.all((cluster ?? []).map((node) => node.destroy()));
  if (home) await rm(home, { recursive: true, force: true });
  await db?.close();
});

test('the node walhook publishes to is SIGKILLed mid-stream: walhook moves to another, the quorum queue loses nothing', async () => {
  const urls = cluster.map((node) => `"${node.url}"`).join(', ');
  const walhook = await WalhookProcess.start(config(urls), { DATABASE_URL: db.url, LOG_LEVEL: 'info' });
  const started = Date.now();
  try {
    const writing = (async () => {
      for (let t = 0; t < TRANSACTIONS; t++) {
        await db.query(
          `INSERT INTO orders SELECT g, g * 1.5, 'order ' || g FROM generate_series($1::int, $1::int + $2::int - 1) g`,
          [t * ROWS + 1, ROWS],
        );
        await sleep(20);
      }
    })();
    // walhook connects with its first event.
    const first = await walhook.waitForLog((l) => l.msg === 'connected to RabbitMQ', 'a connection', 60_000);
    const victim = cluster.find((node) => first.node === `amqp://127.0.0.1:${node.port}`);
    assert.ok(victim, `walhook's node ${first.node} is one of the cluster's`);
    // Kill it while the stream is in full flow: after a quarter of the rows were written.
    await waitUntil(
      async () => Number((await db.query('SELECT count(*)::int AS n FROM orders')).rows[0]?.n) >= TOTAL / 4,
      'a quarter of the rows',
      60_000,
    );
    await victim.kill();
    const moved = await walhook.waitForLog(
      (l) => l.msg === 'connected to RabbitMQ' && l.node !== first.node,
      'a connection to another node',
      60_000,
    );
    await writing;
    await db.waitForConfirmed(SLOT, 180_000);
    const seconds = (Date.now() - started) / 1000;

    const survivors = cluster.filter((node) => node !== victim);
    const { model, channel } = await connectTo(survivors);
    try {
      const { messages, cancel } = await consume(channel, QUEUE);
      await waitUntil(
        () => new Set(messages.map((m) => m.id)).size >= TOTAL,
        `${TOTAL} distinct ids`,
        120_000,
      );
      await sleep(500);
      await cancel();
      const ids = new Set(messages.map((m) => m.id));
      const rows = new Set(messages.map((m) => JSON.parse(m.body).event.data.new.id));
      assert.equal(ids.size, TOTAL, 'every event id');
      assert.equal(rows.size, TOTAL, 'every inserted row');
      const metrics = await (await fetch(`http://127.0.0.1:${walhook.port}/metrics`)).text();
      const retries =
        /walhook_delivery_attempts_total\{[^}]*trigger="orders"[^}]*outcome="retry"[^}]*\} (\d+)/.exec(
          metrics,
        )?.[1];
      console.log(
        `rabbitmq cluster: ${TOTAL} events in ${seconds.toFixed(1)} s; node ${first.node} SIGKILLed, walhook moved to ` +
          `${moved.node}; ${retries ?? 0} publishes retried; ${messages.length - ids.size} duplicates, lost 0`,
      );
    } finally {
      await model.close().catch(() => {});
    }
  } finally {
    await walhook.stop();
  }
});
