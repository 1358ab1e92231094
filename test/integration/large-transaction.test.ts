import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { sleep, waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

/**
 * 2,000,000 rows: their events held at once would not fit the peak RSS asserted below, so the test
 * shows that a transaction streams rather than buffers. `WALHOOK_LARGE_TX_ROWS` shrinks it for the
 * version matrix.
 */
const ROWS = Number(process.env.WALHOOK_LARGE_TX_ROWS ?? 2_000_000);

let db: Database;
let walhook: WalhookProcess | undefined;
let server: ReturnType<typeof createServer>;
const seen = new Uint8Array(ROWS + 1);
let received = 0;
let duplicates = 0;

before(async () => {
  db = await startDatabase('largetx');
  await db.query('CREATE TABLE bulk (id int PRIMARY KEY, label text NOT NULL)');
  // A receiver that keeps one byte per row, not the bodies: the test process must not be the bottleneck.
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const id = JSON.parse(Buffer.concat(chunks).toString('utf8')).event.data.new.id as number;
      if (seen[id]) duplicates++;
      else received++;
      seen[id] = 1;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await walhook?.stop('SIGKILL');
  server?.closeAllConnections();
  server?.close();
  await db?.close();
});

test(`a ${ROWS.toLocaleString('en')}-row transaction is delivered completely with bounded memory`, {
  timeout: 30 * 60_000,
}, async (t) => {
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = `
source:
  connection: \${DATABASE_URL}
  slot: large_tx_test
  publication: large_tx_test
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: bulk
    table: bulk
    operations: [insert]
    webhook: ${url}/bulk
`;
  const env = { DATABASE_URL: db.url, LOG_LEVEL: 'warn' };
  const setup = await WalhookProcess.start(config, env, { compiled: true });
  assert.equal(await setup.stop(), 0);
  await db.query(`INSERT INTO bulk SELECT g, 'row ' || g FROM generate_series(1, ${ROWS}) g`);

  const started = Date.now();
  walhook = await WalhookProcess.start(config, env, { compiled: true });
  const live = walhook;
  let peak = 0;
  let maxInFlight = 0;
  await waitUntil(
    async () => {
      live.assertAlive();
      const status = readFileSync(`/proc/${live.child.pid}/status`, 'utf8');
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]) / 1024);
      const metrics = await fetch(`http://127.0.0.1:${live.port}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      maxInFlight = Math.max(
        maxInFlight,
        Number(/^walhook_in_flight_events\{pipeline="default"\} (\S+)$/m.exec(metrics)?.[1] ?? 0),
      );
      await sleep(500);
      return received === ROWS;
    },
    `${ROWS} rows`,
    30 * 60_000,
  );
  const seconds = (Date.now() - started) / 1000;
  await db.waitForConfirmed('large_tx_test', 60_000);
  assert.equal(received, ROWS, 'every row delivered');
  assert.equal(duplicates, 0);
  assert.ok(maxInFlight <= 10_000 + 2_000, `in flight at most ${maxInFlight}`);
  assert.ok(peak < 300, `peak RSS ${peak.toFixed(0)} MiB`);
  t.diagnostic(
    `rows ${ROWS}, delivered ${received} in ${seconds.toFixed(0)} s (${Math.round(ROWS / seconds)}/s), duplicates ${duplicates}, peak RSS ${peak.toFixed(0)} MiB, max in flight ${maxInFlight}`,
  );
});
