import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { type Database, startDatabase } from '../helpers/database.js';
import {
  connectTo,
  createStream,
  type NatsServer,
  readStream,
  startCluster,
  streamCount,
  streamLeader,
  waitForCount,
} from '../helpers/nats.js';
import { sleep } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

const SLOT = 'nats_cluster_test';
const STREAM = 'WALHOOK';
const TRANSACTIONS = 40;
const ROWS = 200;
const TOTAL = TRANSACTIONS * ROWS;

let db: Database;
let cluster: NatsServer[];
let nc: NatsConnection;

/** The servers go into the text itself: an environment reference cannot become a list. */
const config = (servers: string) => `
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
      type: nats
      servers: [${servers}]
      ack_timeout_sec: 2
`;

before(async () => {
  db = await startDatabase('nats_cluster');
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, amount numeric, note text)');
  cluster = await startCluster(3);
  nc = await connectTo(cluster);
  await createStream(nc, { name: STREAM, replicas: 3, duplicateWindowMs: 300_000 });
});

after(async () => {
  await nc?.close();
  await Promise.all((cluster ?? []).map((server) => server.destroy()));
  await db?.close();
});

test('a three-node JetStream cluster loses its stream leader mid-stream: every event is stored exactly once', async () => {
  const servers = cluster.map((server) => `"${server.url}"`).join(', ');
  const walhook = await WalhookProcess.start(config(servers), { DATABASE_URL: db.url, LOG_LEVEL: 'info' });
  const started = Date.now();
  try {
    const writing = (async () => {
      for (let t = 0; t < TRANSACTIONS; t++) {
        await db.query(
          `INSERT INTO orders SELECT g, g * 1.5, 'order ' || g FROM generate_series($1::int, $1::int + $2::int - 1) g`,
          [t * ROWS + 1, ROWS],
        );
        await sleep(25);
      }
    })();
    await waitForCount(nc, STREAM, TOTAL / 4, 60_000);
    const leaderName = await streamLeader(nc, STREAM);
    const leader = cluster.find((server) => server.name === leaderName);
    assert.ok(leader, `stream leader ${leaderName} is one of the cluster's servers`);
    const atKill = await streamCount(nc, STREAM);
    await leader.stop('SIGKILL');
    await writing;

    await waitForCount(nc, STREAM, TOTAL, 120_000);
    await db.waitForConfirmed(SLOT, 60_000);
    const seconds = (Date.now() - started) / 1000;
    const messages = await readStream(nc, STREAM);
    assert.equal(messages.length, TOTAL, 'one message per event, no more');
    const ids = new Set(messages.map((m) => m.id));
    assert.equal(ids.size, TOTAL, 'no message id twice');
    const rows = new Set<number>();
    for (const message of messages) {
      const event = JSON.parse(message.body);
      assert.equal(message.id, event.id);
      assert.equal(message.subject, 'walhook.public.orders.insert');
      rows.add(event.event.data.new.id);
    }
    assert.equal(rows.size, TOTAL, 'every inserted row');
    assert.equal(Math.min(...rows), 1);
    assert.equal(Math.max(...rows), TOTAL);

    const newLeader = await streamLeader(nc, STREAM);
    const metrics = await (await fetch(`http://127.0.0.1:${walhook.port}/metrics`)).text();
    const retries = /walhook_delivery_attempts_total\{trigger="orders",outcome="retry"[^}]*\} (\d+)/.exec(
      metrics,
    )?.[1];
    console.log(
      `nats cluster: ${TOTAL} events in ${seconds.toFixed(1)} s; stream leader ${leaderName} SIGKILLed at ` +
        `${atKill} stored, new leader ${newLeader}; ${retries ?? 0} publishes retried; lost 0, duplicates 0`,
    );
  } finally {
    await walhook.stop();
  }
});
