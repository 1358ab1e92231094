import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { type Database, lsnValue, startDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/embedded-postgres.js';
import { type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

/** Secrets that must never appear in an endpoint: the role's password, a header value, a URL query. */
const PASSWORD = 'pw-Zq7-s3cret';
const HEADER_SECRET = 'hdr-s3cret-456';
const URL_SECRET = 'url-s3cret-789';

let db: Database;
let url: string;
let receiver: Receiver | undefined;
const running: WalhookProcess[] = [];

before(async () => {
  db = await startDatabase('observability');
  await db.query(`CREATE ROLE obs_admin LOGIN SUPERUSER PASSWORD '${PASSWORD}'`);
  url = db.url.replace('postgres:walhook@', `obs_admin:${PASSWORD}@`);
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL)');
  await db.query('CREATE TABLE items (id int PRIMARY KEY)');
});

after(async () => {
  for (const walhook of running) await walhook.stop('SIGKILL');
  await receiver?.close();
  await db?.close();
});

async function start(config: string, env: NodeJS.ProcessEnv = {}, waitReady = true) {
  const walhook = await WalhookProcess.start(
    config,
    { DATABASE_URL: url, RECEIVER: receiver?.url ?? 'http://127.0.0.1:1', LOG_LEVEL: 'debug', ...env },
    { waitReady },
  );
  running.push(walhook);
  return walhook;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format to samples (enough of it for walhook's own output). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key as string] = value as string;
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(walhook: WalhookProcess) {
  const text = await (await fetch(`http://127.0.0.1:${walhook.port}/metrics`)).text();
  const samples = parseMetrics(text);
  /**
   * The sample with exactly these labels; undefined when the series does not exist. The label
   * `pipeline="default"` (the single-pipeline form's) need not be given.
   */
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples.find((s) => {
      const own = { ...s.labels };
      if (own.pipeline === 'default' && labels.pipeline === undefined) delete own.pipeline;
      return (
        s.name === name &&
        Object.keys(own).length === Object.keys(labels).length &&
        Object.entries(labels).every(([k, v]) => own[k] === v)
      );
    })?.value;
  return { text, samples, value };
}

type Scrape = Awaited<ReturnType<typeof scrape>>;

/** Waits until `check` holds for a fresh scrape; returns that scrape. */
async function scrapeUntil(
  walhook: WalhookProcess,
  check: (m: Scrape) => boolean,
  what: string,
  ms = 30_000,
) {
  let last: Scrape | undefined;
  await waitUntil(
    async () => {
      walhook.assertAlive();
      last = await scrape(walhook);
      return check(last);
    },
    what,
    ms,
  ).catch((err: Error) => {
    const ours = last?.text.split('\n').filter((l) => l.startsWith('walhook_') && !l.includes('_bucket'));
    throw new Error(`${err.message}\n${ours?.join('\n')}`);
  });
  return last as Scrape;
}

async function promtool(text: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('/usr/bin/promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  child.stdin.end(text);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output };
}

// biome-ignore lint/suspicious/noExplicitAny: the /status document is checked field by field
async function status(walhook: WalhookProcess): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${walhook.port}/status`);
  assert.equal(res.headers.get('content-type'), 'application/json');
  return res.json();
}

async function readyz(walhook: WalhookProcess): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${walhook.port}/readyz`);
  return { status: res.status, text: await res.text() };
}

const sorted = (value: object) => Object.keys(value).sort();

test('metrics: every family moves when it should, promtool accepts the text, /status agrees, no secret leaks', async () => {
  receiver = await startReceiver((delivery, attempt) => {
    if (delivery.path.startsWith('/flaky')) return attempt === 1 ? 500 : 200;
    if (delivery.path.startsWith('/broken')) return 503;
    return 200;
  });
  const walhook = await start(`
source:
  connection: \${DATABASE_URL}
  slot: obs_metrics
  publication: obs_metrics
  heartbeat_sec: 1
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: paid
    table: orders
    operations: [insert, update]
    where: { new: { status: { _eq: paid } } }
    webhook: \${RECEIVER}/paid?key=${URL_SECRET}
    headers: { Authorization: "Bearer ${HEADER_SECRET}" }
  - name: flaky
    table: orders
    operations: [insert]
    webhook: \${RECEIVER}/flaky
    retry: { num_retries: 2, interval_sec: 0.05 }
  - name: broken
    table: orders
    operations: [insert]
    webhook: \${RECEIVER}/broken
    retry: { num_retries: 1, interval_sec: 1.5, backoff: fixed }
`);
  const before = await scrape(walhook);
  assert.equal(before.value('walhook_replication_connected'), 1);
  // The single-pipeline form's per-pipeline series carry pipeline="default".
  assert.equal(before.value('walhook_replication_connected', { pipeline: 'default' }), 1);
  assert.equal(
    before.value('walhook_events_matched_total', { trigger: 'paid' }),
    0,
    'series exist from the start',
  );
  assert.equal(before.value('walhook_errors_total', { error_type: 'delivery_failed', stage: 'sink' }), 0);

  await db.query(`INSERT INTO orders VALUES (1, 'new'), (2, 'paid'), (3, 'paid')`);
  await db.query(`UPDATE orders SET status = 'shipped' WHERE id = 1`);
  await waitUntil(
    async () => (await status(walhook)).triggers[2].retrying === 3,
    'three events of the broken trigger waiting for their retry',
    10_000,
  );
  const m = await scrapeUntil(
    walhook,
    (s) =>
      s.value('walhook_events_delivered_total', { trigger: 'flaky' }) === 3 &&
      s.value('walhook_events_dead_lettered_total', { trigger: 'broken' }) === 3 &&
      s.value('walhook_dead_letters') === 3,
    'every event settled and the dead letters counted',
  );

  const checked = await promtool(m.text);
  assert.equal(checked.code, 0, `promtool check metrics: ${checked.output}`);

  const received = (op: string) => m.value('walhook_changes_received_total', { table: 'public.orders', op });
  assert.equal(received('INSERT'), 3);
  assert.equal(received('UPDATE'), 1);
  const matched = (trigger: string) => m.value('walhook_events_matched_total', { trigger });
  assert.deepEqual([matched('paid'), matched('flaky'), matched('broken')], [2, 3, 3]);
  const filtered = (trigger: string, reason: string) =>
    m.value('walhook_events_filtered_total', { trigger, reason });
  assert.equal(filtered('paid', 'where'), 2, 'the insert and the update of row 1');
  assert.equal(filtered('flaky', 'operation'), 1, 'the update');
  assert.equal(filtered('broken', 'operation'), 1);
  const attempts = (trigger: string, outcome: string, status_class: string) =>
    m.value('walhook_delivery_attempts_total', { trigger, outcome, status_class });
  assert.equal(attempts('paid', 'delivered', '2xx'), 2);
  assert.equal(attempts('flaky', 'retry', '5xx'), 3);
  assert.equal(attempts('flaky', 'delivered', '2xx'), 3);
  assert.equal(attempts('broken', 'retry', '5xx'), 3);
  assert.equal(attempts('broken', 'failed', '5xx'), 3);
  assert.equal(m.value('walhook_events_delivered_total', { trigger: 'paid' }), 2);
  assert.equal(m.value('walhook_events_dead_lettered_total', { trigger: 'flaky' }), 0);
  assert.equal(m.value('walhook_events_settled_total', { trigger: 'broken', outcome: 'failed' }), 3);
  const count = (name: string, trigger: string) => m.value(`${name}_count`, { trigger });
  assert.deepEqual(
    ['paid', 'flaky', 'broken'].map((t) => count('walhook_delivery_duration_seconds', t)),
    [2, 6, 6],
    'one observation per HTTP request',
  );
  assert.deepEqual(
    ['paid', 'flaky', 'broken'].map((t) => count('walhook_end_to_end_latency_seconds', t)),
    [2, 3, 3],
    'one observation per settled event',
  );
  assert.ok((m.value('walhook_end_to_end_latency_seconds_sum', { trigger: 'flaky' }) ?? 0) > 0);
  assert.equal(m.value('walhook_errors_total', { error_type: 'delivery_failed', stage: 'sink' }), 3);
  assert.equal(m.value('walhook_in_flight_events'), 0);
  assert.equal(m.value('walhook_in_flight_bytes'), 0);
  assert.equal(m.value('walhook_replication_paused'), 0);
  assert.equal(m.value('walhook_replication_lag_seconds'), 0, 'nothing unsettled');

  // The slot follows: the confirmed LSN gauge reaches what Postgres shows, the lag in bytes is small.
  const written = lsnValue(
    (await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn as string,
  );
  const slotted = await scrapeUntil(
    walhook,
    (s) =>
      BigInt(s.value('walhook_confirmed_flush_lsn_bytes') ?? 0) >= written &&
      s.value('walhook_slot_wal_status', { status: 'reserved' }) === 1,
    'the confirmed LSN past the writes and a slot check',
  );
  const slotConfirmed = lsnValue((await db.confirmedLsn('obs_metrics')) as string);
  assert.ok(BigInt(slotted.value('walhook_confirmed_flush_lsn_bytes') ?? 0) <= slotConfirmed + 1_000_000n);
  assert.equal(slotted.value('walhook_slot_wal_status', { status: 'lost' }), 0);
  assert.ok((slotted.value('walhook_slot_retained_wal_bytes') ?? -1) >= 0);
  assert.ok((slotted.value('walhook_replication_lag_bytes') ?? -1) >= 0);

  const s = await status(walhook);
  assert.deepEqual(sorted(s), [
    'backfills',
    'catch_up',
    'confirmed_lsn',
    'connected',
    'dead_letters',
    'in_flight',
    'lag',
    'now',
    'paused',
    'paused_by',
    'publication',
    'ready',
    'server_wal_end',
    'slot',
    'slot_state',
    'triggers',
    'uptime_sec',
    'version',
  ]);
  assert.equal(s.version, '0.1.0');
  assert.ok(Math.abs(Date.parse(s.now) - Date.now()) < 5_000);
  assert.ok(s.uptime_sec > 0);
  assert.equal(s.slot, 'obs_metrics');
  assert.equal(s.publication, 'obs_metrics');
  assert.deepEqual([s.connected, s.ready, s.paused], [true, true, false]);
  assert.match(s.confirmed_lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
  assert.ok(lsnValue(s.server_wal_end) >= lsnValue(s.confirmed_lsn) - 1_000_000n);
  assert.deepEqual(sorted(s.lag), ['bytes', 'seconds']);
  assert.equal(s.lag.seconds, 0);
  assert.deepEqual(sorted(s.slot_state), [
    'checked_at',
    'max_slot_wal_keep_size',
    'retained_wal_bytes',
    'wal_status',
  ]);
  assert.equal(s.slot_state.wal_status, 'reserved');
  assert.equal(s.slot_state.max_slot_wal_keep_size, '-1');
  assert.ok(Number.isInteger(s.slot_state.retained_wal_bytes));
  assert.deepEqual(s.in_flight, { events: 0, bytes: 0 });
  assert.deepEqual(sorted(s.catch_up), [
    'behind_bytes',
    'confirm_rate_bytes_per_sec',
    'eta_sec',
    'events_behind_estimate',
    'events_per_sec',
  ]);
  assert.equal(s.dead_letters, 3);
  const trigger = (name: string) => s.triggers.find((t: { name: string }) => t.name === name);
  assert.deepEqual(sorted(trigger('paid')), [
    'dead_lettered',
    'delivered',
    'filtered',
    'in_flight',
    'last_error',
    'matched',
    'name',
    'paused',
    'rate_per_sec_1m',
    'retrying',
    'table',
  ]);
  const { rate_per_sec_1m: _rate, last_error: paidError, ...paid } = trigger('paid');
  assert.deepEqual(paid, {
    name: 'paid',
    table: 'public.orders',
    matched: 2,
    delivered: 2,
    retrying: 0,
    dead_lettered: 0,
    filtered: 2,
    in_flight: 0,
    paused: false,
  });
  assert.equal(paidError, null);
  assert.equal(trigger('flaky').delivered, 3);
  assert.equal(trigger('flaky').last_error.message, 'HTTP 500');
  assert.equal(trigger('broken').dead_lettered, 3);
  assert.equal(trigger('broken').last_error.message, 'HTTP 503');
  assert.ok(Date.parse(trigger('broken').last_error.at) > 0);

  // Reconnects: terminate the walsender; the stream comes back and both gauges say so.
  await db.query(
    `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'obs_metrics'`,
  );
  const reconnected = await scrapeUntil(
    walhook,
    (x) =>
      x.value('walhook_replication_reconnects_total') === 1 && x.value('walhook_replication_connected') === 1,
    'a reconnect',
  );
  assert.equal(reconnected.value('walhook_errors_total', { error_type: 'connection', stage: 'source' }), 1);
  assert.ok(
    walhook.logs.some((l) => l.msg === 'replication connection lost; reconnecting'),
    'the disconnection was seen',
  );

  // No endpoint shows a secret (nor the header itself).
  const port = walhook.port;
  for (const path of ['/metrics', '/status', '/readyz', '/healthz']) {
    const body = await (await fetch(`http://127.0.0.1:${port}${path}`)).text();
    for (const secret of [PASSWORD, HEADER_SECRET, URL_SECRET, 'Bearer', 'obs_admin']) {
      assert.ok(!body.includes(secret), `${path} shows ${secret}`);
    }
  }
  assert.equal(await walhook.stop(), 0);
});

test('backpressure and lag: in-flight and paused gauges, /readyz 503 while lagging past ready_max_lag_sec', async () => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  await receiver?.close();
  receiver = await startReceiver(async () => {
    await held;
    return 200;
  });
  const walhook = await start(`
source:
  connection: \${DATABASE_URL}
  slot: obs_lag
  publication: obs_lag
server:
  host: 127.0.0.1
  port: \${PORT}
  ready_max_lag_sec: 1
max_in_flight_events: 5
triggers:
  - name: items
    table: items
    operations: [insert]
    webhook: \${RECEIVER}/items
    ordering: none
`);
  assert.equal((await readyz(walhook)).status, 200, 'streaming, nothing unsettled');
  await db.query('INSERT INTO items SELECT g FROM generate_series(1, 40) g');
  const paused = await scrapeUntil(
    walhook,
    (m) =>
      m.value('walhook_replication_paused') === 1 && (m.value('walhook_replication_lag_seconds') ?? 0) > 1.2,
    'reading paused and lag past 1 s',
  );
  assert.ok((paused.value('walhook_in_flight_events') ?? 0) >= 5);
  assert.ok((paused.value('walhook_in_flight_bytes') ?? 0) > 0);
  const lagging = await readyz(walhook);
  assert.equal(lagging.status, 503);
  assert.match(lagging.text, /^not ready: lagging: the oldest unsettled transaction committed \d+\.\d s ago/);
  const s = await status(walhook);
  assert.deepEqual([s.connected, s.ready, s.paused], [true, false, true]);
  assert.ok(s.in_flight.events >= 5 && s.in_flight.bytes > 0);
  assert.ok(s.lag.seconds > 1);
  assert.ok(s.triggers[0].in_flight >= 5);
  assert.equal(s.triggers[0].delivered, 0);
  // While reading is paused, the slot check tells how far the server's WAL is ahead.
  await waitUntil(
    async () => (await status(walhook)).lag.bytes > 0,
    'lag in bytes from the slot check',
    15_000,
  );
  const stuck = (await status(walhook)).catch_up;
  assert.ok(stuck.behind_bytes > 0);
  // The rate covers the last minute, which includes what the idle slot confirmed before the insert.
  const rate = stuck.confirm_rate_bytes_per_sec;
  if (rate > 0) assert.ok(Math.abs(stuck.eta_sec - stuck.behind_bytes / rate) < 0.1, 'ETA = behind / rate');
  else assert.equal(stuck.eta_sec, null, 'no estimate without progress');

  release();
  const caughtUp = await scrapeUntil(
    walhook,
    (m) => m.value('walhook_events_delivered_total', { trigger: 'items' }) === 40,
    'all 40 delivered',
  );
  assert.equal(caughtUp.value('walhook_end_to_end_latency_seconds_count', { trigger: 'items' }), 40);
  assert.ok(
    (caughtUp.value('walhook_end_to_end_latency_seconds_sum', { trigger: 'items' }) ?? 0) / 40 > 1,
    'each event waited for the held receiver',
  );
  const settled = await scrapeUntil(
    walhook,
    (m) => m.value('walhook_replication_paused') === 0 && m.value('walhook_replication_lag_seconds') === 0,
    'reading resumed and nothing unsettled',
  );
  assert.equal(settled.value('walhook_in_flight_events'), 0);
  // Settled events are confirmed a moment later (acknowledgements are coalesced).
  await waitUntil(
    async () => (await status(walhook)).catch_up.confirm_rate_bytes_per_sec > 0,
    'a confirmation rate',
    10_000,
  );
  const after = await status(walhook);
  assert.ok(after.catch_up.events_per_sec > 0);
  assert.ok(after.triggers[0].rate_per_sec_1m > 0);
  assert.equal(after.triggers[0].delivered, 40);
  await waitUntil(async () => (await readyz(walhook)).status === 200, 'ready again', 10_000);
  assert.equal(await walhook.stop(), 0);
});

test('/readyz is 503 before streaming; /status says why, with nulls for what is not known yet', async () => {
  const port = await freePort();
  const walhook = await start(
    `
source:
  connection: postgres://obs_admin:${PASSWORD}@127.0.0.1:${port}/nowhere
  slot: obs_nowhere
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: items
    table: items
    operations: [insert]
    webhook: http://127.0.0.1:1/items
    headers: { Authorization: "Bearer ${HEADER_SECRET}" }
`,
    {},
    false,
  );
  await walhook.waitForLog((l) => l.msg === 'cannot prepare the source database; retrying', 'a retry');
  const ready = await readyz(walhook);
  assert.equal(ready.status, 503);
  assert.equal(ready.text, 'not ready: replication stream not connected\n');
  assert.equal((await fetch(`http://127.0.0.1:${walhook.port}/healthz`)).status, 200);
  const s = await status(walhook);
  assert.deepEqual([s.connected, s.ready, s.slot_state, s.dead_letters], [false, false, null, null]);
  assert.equal(s.triggers[0].last_error, null);
  const m = await scrape(walhook);
  assert.ok((m.value('walhook_errors_total', { error_type: 'connection', stage: 'setup' }) ?? 0) >= 1);
  for (const body of [JSON.stringify(s), m.text, ready.text]) {
    assert.ok(!body.includes(PASSWORD) && !body.includes(HEADER_SECRET));
  }
  assert.equal(await walhook.stop(), 0);
});

/** The slot's distance behind the server's WAL: to its confirmed position and to what it retains. */
async function slotDistance(slot: string): Promise<{ confirmed: number; retained: number }> {
  const row = (
    await db.query<{ confirmed: string; retained: string }>(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::int8::text AS confirmed,
              pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::int8::text AS retained
         FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    )
  ).rows[0];
  return { confirmed: Number(row?.confirmed), retained: Number(row?.retained) };
}

const MiB = 1024 * 1024;

test('quiet tables, busy neighbour: the slot follows the WAL written by another database; heartbeats on and off', async (t) => {
  const names = { on: 'obs_hb_on', off: 'obs_hb_off' };
  for (const name of [names.on, names.off, 'obs_other']) {
    await db.server.createDatabase(name);
    const client = new pg.Client({ connectionString: db.server.url(name) });
    await client.connect();
    await client.query(
      name === 'obs_other'
        ? 'CREATE TABLE filler (id int, pad text)'
        : 'CREATE TABLE quiet (id int PRIMARY KEY)',
    );
    await client.end();
  }
  // Each walhook has a database of its own: heartbeats in one would reach the other's slot too.
  const config = (name: string, heartbeatSec: number) => `
source:
  connection: ${db.server.url(name).replace('postgres:walhook@', `obs_admin:${PASSWORD}@`)}
  slot: ${name}
  publication: ${name}
  heartbeat_sec: ${heartbeatSec}
  max_retained_wal: 8MiB
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: quiet
    table: quiet
    operations: [insert]
    webhook: http://127.0.0.1:1/quiet
`;
  const on = await start(config(names.on, 1));
  const off = await start(config(names.off, 0));

  const other = new pg.Client({ connectionString: db.server.url('obs_other') });
  await other.connect();
  const peak = { on: 0, off: 0 };
  const walLsn = async () =>
    lsnValue(
      (await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn as string,
    );
  const walBefore = await walLsn();
  const started = Date.now();
  // Sustained writes (about 2 MiB of WAL every 250 ms); before each, how far behind each slot still is.
  for (let round = 0; round < 24; round++) {
    await sleep(250);
    for (const key of ['on', 'off'] as const) {
      peak[key] = Math.max(peak[key], (await slotDistance(names[key])).confirmed);
    }
    await other.query(`INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, 2000) g`);
  }
  const writeSec = (Date.now() - started) / 1000;
  const written = Number((await walLsn()) - walBefore);
  await other.end();
  await sleep(3_000);
  const confirmedAfter = {
    on: (await slotDistance(names.on)).confirmed,
    off: (await slotDistance(names.off)).confirmed,
  };
  // A checkpoint logs the running transactions, from which a logical slot's restart_lsn moves on.
  await db.query('CHECKPOINT');
  await waitUntil(
    async () => (await slotDistance(names.on)).retained < 8 * MiB,
    'the heartbeat slot to release its WAL',
    30_000,
  );
  await sleep(2_000);
  const retained = {
    on: (await slotDistance(names.on)).retained,
    off: (await slotDistance(names.off)).retained,
  };
  // Transactions each slot decoded (statistics arrive a moment late): heartbeats are transactions.
  const decoded = async () => {
    const result = await db.query<{ slot_name: string; total_txns: string }>(
      'SELECT slot_name, total_txns::text FROM pg_stat_replication_slots WHERE slot_name = ANY($1)',
      [[names.on, names.off]],
    );
    const of = (slot: string) => Number(result.rows.find((r) => r.slot_name === slot)?.total_txns ?? 0);
    return { on: of(names.on), off: of(names.off) };
  };
  await waitUntil(async () => (await decoded()).on > 3, 'heartbeat transactions decoded', 15_000);
  const txns = await decoded();
  const mib = (bytes: number) => `${(bytes / MiB).toFixed(2)} MiB`;
  t.diagnostic(`decoded transactions: heartbeat ${txns.on}, none ${txns.off}`);
  t.diagnostic(
    `${mib(written)} of WAL written by another database in ${writeSec.toFixed(1)} s; ` +
      `confirmed_flush_lsn behind the WAL, most behind 250 ms after a write / 3 s after the last: heartbeat ${mib(peak.on)} / ${mib(confirmedAfter.on)}, ` +
      `none ${mib(peak.off)} / ${mib(confirmedAfter.off)}; retained after a checkpoint: heartbeat ${mib(retained.on)}, none ${mib(retained.off)}`,
  );
  assert.ok(peak.on < 16 * MiB, `with heartbeats the slot keeps up (${mib(peak.on)} behind at most)`);
  assert.ok(confirmedAfter.on < MiB, `with heartbeats the slot follows (${mib(confirmedAfter.on)} behind)`);
  assert.ok(retained.on < 8 * MiB, `with heartbeats little WAL is retained (${mib(retained.on)})`);
  assert.ok(txns.on > txns.off, 'heartbeats reach the slot as transactions');
  // Measured, not assumed: Postgres sends a keepalive with the position it decoded up to whenever it
  // has caught up, and walhook confirms that position while idle (docs/architecture.md, acknowledgement
  // rule 3), so without heartbeats the slot follows just as closely (see the diagnostic above).
  assert.ok(peak.off < 16 * MiB, `without heartbeats keepalives move the slot (${mib(peak.off)} at most)`);
  assert.ok(
    confirmedAfter.off < MiB,
    `without heartbeats the slot follows (${mib(confirmedAfter.off)} behind)`,
  );

  const crossed = await on.waitForLog(
    (l) => l.msg?.startsWith('the slot retains more WAL than source.max_retained_wal'),
    'a warning when the retained WAL crossed max_retained_wal',
  );
  assert.equal(crossed.level, 'warn');
  assert.equal(crossed.max_retained_wal, 8 * MiB);
  const below = await on.waitForLog(
    (l) => l.msg === 'the slot retains less WAL than source.max_retained_wal again',
    'a line when it is back below',
    15_000,
  );
  assert.equal(below.level, 'info');
  // A running-transactions record mid-way can free WAL before the checkpoint: crossings may repeat,
  // but each is logged once, alternately up and down.
  const crossings = on.logs
    .filter((l) => /^the slot retains (more|less) WAL than source.max_retained_wal/.test(l.msg ?? ''))
    .map((l) => l.level);
  assert.ok(
    crossings.every((level, i) => level === (i % 2 === 0 ? 'warn' : 'info')) && crossings.length % 2 === 0,
    `one line per crossing: ${crossings.join(', ')}`,
  );
  const heartbeats = on.logs.filter((l) => l.msg === 'heartbeat').length;
  assert.ok(heartbeats >= 5, `${heartbeats} heartbeats`);
  assert.equal(off.logs.filter((l) => l.msg === 'heartbeat').length, 0);
  const m = await scrape(on);
  assert.ok((m.value('walhook_slot_retained_wal_bytes') ?? Number.POSITIVE_INFINITY) < 8 * MiB);
  assert.equal(m.value('walhook_errors_total', { error_type: 'heartbeat', stage: 'source' }), 0);

  // walhook validate reports the slot's wal_status and the server's max_slot_wal_keep_size.
  const path = await writeConfig(
    config(names.on, 1).replace('max_retained_wal: 8MiB', 'max_retained_wal: 1'),
  );
  const validated = await runCli(['validate', '--config', path], { PORT: '0' });
  assert.equal(validated.code, 0, validated.stdout + validated.stderr);
  assert.match(validated.stdout, /^info +max_slot_wal_keep_size is -1 \(unlimited\)/m);
  assert.match(
    validated.stdout,
    /^warn +slot obs_hb_on exists \(wal_status reserved\) and retains .* of WAL, more than source.max_retained_wal \(1 B\)$/m,
  );
  assert.ok(!validated.stdout.includes(PASSWORD));
  assert.equal(await on.stop(), 0);
  assert.equal(await off.stop(), 0);
});
