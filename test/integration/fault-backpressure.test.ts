import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, sleep, startReceiver } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

const BACKLOG = 200_000;
const WATCH_MS = 20_000;

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess | undefined;

before(async () => {
  // A short wal_sender_timeout: the connection must survive long pauses in reading.
  db = await startDatabase('backpressure', { settings: { wal_sender_timeout: '3s' } });
  await db.query('CREATE TABLE items (id int PRIMARY KEY, payload text NOT NULL)');
  receiver = await startReceiver(async () => {
    await sleep(1000);
    return 200;
  });
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await receiver?.close();
  await db?.close();
});

/** Resident set size now and at its peak, from /proc, in MiB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

test('a 200,000-event backlog and a receiver taking 1 s per request: memory stays flat, reading pauses, the connection survives', async (t) => {
  const config = `
source:
  connection: \${DATABASE_URL}
  slot: backpressure_test
  publication: backpressure_test
server:
  host: 127.0.0.1
  port: \${PORT}
shutdown_grace_sec: 1
triggers:
  - name: items
    table: items
    operations: [insert]
    webhook: \${RECEIVER}/items
`;
  // Create slot and publication, then build the backlog (one big transaction) while walhook is down.
  const env = { DATABASE_URL: db.url, RECEIVER: receiver.url, LOG_LEVEL: 'info' };
  const setup = await WalhookProcess.start(config, env);
  assert.equal(await setup.stop(), 0);
  await db.query(`INSERT INTO items SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, ${BACKLOG}) g`);

  walhook = await WalhookProcess.start(config, env, { compiled: true });
  const pid = walhook.child.pid as number;
  let peak = 0;
  const started = Date.now();
  while (Date.now() - started < WATCH_MS) {
    walhook.assertAlive();
    peak = Math.max(peak, memory(pid).peak);
    await sleep(250);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${walhook.port}/metrics`)).text();
  const gauge = (name: string) =>
    Number(new RegExp(`^${name}\\{pipeline="default"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
  assert.equal(gauge('walhook_replication_paused'), 1, 'reading is paused');
  assert.ok(
    gauge('walhook_in_flight_events') <= 10_000 + 2_000,
    `in flight ${gauge('walhook_in_flight_events')}`,
  );
  assert.equal(
    gauge('walhook_replication_reconnects_total'),
    0,
    'wal_sender_timeout (3 s) never closed the connection',
  );
  assert.ok(walhook.logs.some((l) => l.msg === 'in-flight limit reached; pausing replication'));
  assert.ok(peak < 200, `peak RSS ${peak.toFixed(0)} MiB`);
  const delivered = receiver.deliveries.length;
  t.diagnostic(
    `heap used ${(gauge('nodejs_heap_size_used_bytes') / 2 ** 20).toFixed(0)} MiB, heap total ${(gauge('nodejs_heap_size_total_bytes') / 2 ** 20).toFixed(0)} MiB, external ${(gauge('nodejs_external_memory_bytes') / 2 ** 20).toFixed(0)} MiB`,
  );
  assert.equal(await walhook.stop(), 0, 'SIGTERM exits 0 with deliveries still queued');
  walhook = undefined;
  t.diagnostic(
    `backlog ${BACKLOG} events, receiver 1 s/request, ${delivered} delivered in ${WATCH_MS / 1000} s, peak RSS ${peak.toFixed(0)} MiB, in flight ${gauge('walhook_in_flight_events')}, reconnects 0`,
  );
});

test('max_in_flight_bytes pauses reading on its own', async () => {
  await db.query('CREATE TABLE blobs (id int PRIMARY KEY, payload text NOT NULL)');
  const config = `
source:
  connection: \${DATABASE_URL}
  slot: bytes_test
  publication: bytes_test
server:
  host: 127.0.0.1
  port: \${PORT}
shutdown_grace_sec: 0
max_in_flight_bytes: 65536
triggers:
  - name: blobs
    table: blobs
    operations: [insert]
    webhook: \${RECEIVER}/blobs
`;
  walhook = await WalhookProcess.start(config, {
    DATABASE_URL: db.url,
    RECEIVER: receiver.url,
    LOG_LEVEL: 'info',
  });
  await db.query(`INSERT INTO blobs SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, 2000) g`);
  const paused = await walhook.waitForLog(
    (l) => l.msg === 'in-flight limit reached; pausing replication',
    'a pause',
  );
  assert.ok(paused.in_flight_bytes >= 65536, `paused at ${paused.in_flight_bytes} bytes`);
  assert.ok(paused.in_flight_events < 200, `long before the event bound (${paused.in_flight_events} events)`);
  assert.equal(await walhook.stop(), 0);
  walhook = undefined;
});
