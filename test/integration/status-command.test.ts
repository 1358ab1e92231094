import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { renderStatus, statusCommand } from '../../src/commands/status.js';
import type { Status } from '../../src/service/status.js';
import { startDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/embedded-postgres.js';
import { startReceiver, waitUntil } from '../helpers/receiver.js';
import { countersConfig } from '../helpers/stream-check.js';
import { ROOT, runCli, WalhookProcess } from '../helpers/walhook.js';

const FIXTURE: Status = {
  version: '0.1.0',
  now: '2026-11-28T12:00:00.000Z',
  uptime_sec: 12.3,
  slot: 'walhook',
  publication: 'walhook',
  connected: true,
  ready: true,
  paused: false,
  confirmed_lsn: '0/1A2B3C',
  server_wal_end: '0/1A2B40',
  lag: { bytes: 4, seconds: 0.2 },
  slot_state: {
    retained_wal_bytes: 1234,
    wal_status: 'reserved',
    max_slot_wal_keep_size: '-1',
    checked_at: '2026-11-28T11:59:57.000Z',
  },
  in_flight: { events: 3, bytes: 2048 },
  catch_up: {
    behind_bytes: 123456,
    confirm_rate_bytes_per_sec: 5000.5,
    eta_sec: 24.6,
    events_per_sec: 812.3,
    events_behind_estimate: 20000,
  },
  triggers: [
    {
      name: 'orders',
      table: 'public.orders',
      matched: 10,
      delivered: 8,
      retrying: 1,
      dead_lettered: 1,
      filtered: 3,
      in_flight: 2,
      rate_per_sec_1m: 0.13,
      last_error: { message: 'HTTP 500\nfrom the receiver', at: '2026-11-28T11:58:00.000Z' },
    },
    {
      name: 'customers_sync',
      table: 'crm.customers',
      matched: 123456,
      delivered: 123450,
      retrying: 0,
      dead_lettered: 0,
      filtered: 0,
      in_flight: 6,
      rate_per_sec_1m: 2057.6,
      last_error: null,
    },
  ],
  dead_letters: 5,
};

test('the view of a report: state, slot, lag, retained WAL, in-flight, triggers, dead letters', () => {
  assert.deepEqual(renderStatus(FIXTURE), [
    'walhook 0.1.0, up 12 s',
    'state         connected, ready, reading',
    'slot          walhook (publication walhook)',
    'confirmed     0/1A2B3C (server WAL end 0/1A2B40)',
    'lag           4 B, 0.2 s',
    'retained      1.2 KiB of WAL, wal_status reserved, max_slot_wal_keep_size -1, checked 3 s ago',
    'in flight     3 events, 2.0 KiB',
    '',
    'TRIGGER         TABLE          MATCHED  DELIVERED  RETRYING  DEAD-LETTERED  FILTERED  IN FLIGHT  RATE/S (1M)  LAST ERROR',
    'orders          public.orders       10          8         1              1         3          2         0.13  HTTP 500 from the receiver (2 m 00 s ago)',
    'customers_sync  crm.customers  123,456    123,450         0              0         0          6        2,058  -',
    '',
    'dead letters  5 (walhook dlq list)',
  ]);
});

test('catch-up progress appears once the lag is large', () => {
  const behind = { ...FIXTURE, lag: { bytes: 3 * 1024 ** 3, seconds: 95 } };
  const lines = renderStatus(behind);
  assert.ok(
    lines.includes(
      'catch-up      120.6 KiB behind, ~20,000 events, 812 events/s, 4.9 KiB/s confirmed, ETA 25 s',
    ),
    lines.join('\n'),
  );
  assert.ok(!renderStatus(FIXTURE).some((line) => line.startsWith('catch-up')), 'hidden when lag is small');
});

test('what a report does not know yet is shown as unknown, not as zero', () => {
  const [orders] = FIXTURE.triggers;
  const lines = renderStatus({
    ...FIXTURE,
    connected: false,
    ready: false,
    paused: true,
    lag: { bytes: 0, seconds: 600 },
    slot_state: null,
    catch_up: {
      behind_bytes: 0,
      confirm_rate_bytes_per_sec: null,
      eta_sec: null,
      events_per_sec: null,
      events_behind_estimate: null,
    },
    triggers: [{ ...(orders as Status['triggers'][number]), rate_per_sec_1m: null, last_error: null }],
    dead_letters: null,
  });
  assert.deepEqual(lines.slice(1, 11), [
    'state         disconnected, not ready, reading paused',
    'slot          walhook (publication walhook)',
    'confirmed     0/1A2B3C (server WAL end 0/1A2B40)',
    'lag           0 B, 10 m 00 s',
    'retained      not checked yet',
    'in flight     3 events, 2.0 KiB',
    'catch-up      0 B behind, ~? events, ? events/s, ?/s confirmed, ETA unknown',
    '',
    'TRIGGER  TABLE          MATCHED  DELIVERED  RETRYING  DEAD-LETTERED  FILTERED  IN FLIGHT  RATE/S (1M)  LAST ERROR',
    'orders   public.orders       10          8         1              1         3          2            ?  -',
  ]);
  assert.equal(lines.at(-1), 'dead letters  unknown');
  assert.ok(renderStatus({ ...FIXTURE, triggers: [] }).includes('no triggers'));
});

const requests: string[] = [];
let answer: { status: number; body: string } = { status: 200, body: JSON.stringify(FIXTURE) };
const server = createServer((req, res) => {
  requests.push(req.url ?? '');
  if (req.url !== '/status') res.writeHead(404).end('not found\n');
  else res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
});
let base = '';
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

test('--url is a base URL or the /status URL itself', async () => {
  const errors: string[] = [];
  const output = { out: () => {}, err: (line: string) => errors.push(line) };
  const asked = async (url: string) => {
    await statusCommand(['--url', url, '--json'], output);
    return requests.at(-1);
  };
  assert.equal(await asked(base), '/status');
  assert.equal(await asked(`${base}/`), '/status');
  assert.equal(await asked(`${base}/status`), '/status');
  assert.equal(await asked(`${base}/walhook/`), '/walhook/status');
  // https is taken too: this server speaks no TLS, so the line saying so shows the URL asked for.
  const tls = `${base.replace('http:', 'https:')}/walhook`;
  assert.equal(await statusCommand(['--url', tls, '--json'], output), 1);
  assert.match(errors.at(-1) ?? '', new RegExp(`^walhook status: cannot reach ${tls}/status: `));
  await assert.rejects(statusCommand(['--url', 'localhost:9187'], output), /not an http or https URL/);
  await assert.rejects(
    statusCommand(['--url', 'nope'], output),
    /is not a URL such as http:\/\/127\.0\.0\.1:9187/,
  );
});

test('walhook status prints the view of the served report', async () => {
  const result = await runCli(['status', '--url', base]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  assert.equal(result.stdout, `${renderStatus(FIXTURE).join('\n')}\n`);
});

test('--json prints the report as served; WALHOOK_URL stands in for --url', async () => {
  const result = await runCli(['status', '--json'], { WALHOOK_URL: base });
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), FIXTURE);
});

test('an unreachable walhook is one line on stderr and exit 1', async () => {
  const port = await freePort();
  const result = await runCli(['status', '--url', `http://127.0.0.1:${port}`]);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr, `walhook status: cannot reach http://127.0.0.1:${port}/status: ECONNREFUSED\n`);
});

test('an error status or a body that is not JSON is exit 1', async (t) => {
  t.after(() => {
    answer = { status: 200, body: JSON.stringify(FIXTURE) };
  });
  answer = { status: 503, body: '{"error": "starting"}' };
  const starting = await runCli(['status', '--url', base]);
  assert.equal(starting.code, 1);
  assert.equal(starting.stderr, `walhook status: ${base}/status answered HTTP 503 (starting)\n`);
  answer = { status: 500, body: '' };
  const failing = await runCli(['status', '--url', base]);
  assert.equal(failing.code, 1);
  assert.equal(failing.stderr, `walhook status: ${base}/status answered HTTP 500\n`);
  answer = { status: 200, body: '<html>' };
  const garbled = await runCli(['status', '--url', base]);
  assert.equal(garbled.code, 1);
  assert.equal(garbled.stderr, `walhook status: ${base}/status did not answer JSON\n`);
});

test('usage errors exit 2 with one line', async () => {
  for (const [args, message] of [
    [['--watch', '--json'], 'walhook: status: pass --watch or --json, not both; run walhook --help'],
    [
      ['--url', 'ftp://x'],
      'walhook: status: --url "ftp://x" is not an http or https URL; run walhook --help',
    ],
    [['--interval', '5'], /^walhook: status: Unknown option '--interval'.*; run walhook --help$/],
  ] as const) {
    const result = await runCli(['status', ...args]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    if (typeof message === 'string') assert.equal(result.stderr, `${message}\n`);
    else assert.match(result.stderr.trimEnd(), message);
  }
});

test('--watch redraws every 2 s and exits 0 on Ctrl-C', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'status', '--watch'], {
    cwd: ROOT,
    env: { ...process.env, WALHOOK_URL: base },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  const frames = () => stdout.split('\x1b[H\x1b[2J').slice(1);
  const servedBefore = requests.length;
  const started = Date.now();
  await waitUntil(() => frames().length >= 2, 'two frames', 20_000);
  const exited = once(child, 'exit');
  child.kill('SIGINT');
  const [code] = (await exited) as [number | null];
  assert.equal(code, 0);
  assert.ok(Date.now() - started >= 1900, 'the second frame came after the interval');
  assert.ok(requests.length - servedBefore >= 2);
  for (const frame of frames().slice(0, 2)) {
    assert.match(frame, new RegExp(`^Every 2s: walhook status ${base}/status  `));
    assert.ok(frame.includes(renderStatus(FIXTURE).join('\n')), frame);
  }
});

test('against a running walhook: the view and the JSON of its /status', async (t) => {
  const db = await startDatabase('status_command');
  const receiver = await startReceiver();
  t.after(() => Promise.all([receiver.close(), db.close()]));
  await db.query('CREATE TABLE counters (id int PRIMARY KEY, seq int)');
  const walhook = await WalhookProcess.start(countersConfig('status_command'), {
    DATABASE_URL: db.url,
    RECEIVER: receiver.url,
    LOG_LEVEL: 'info',
  });
  t.after(() => walhook.stop());
  for (let id = 1; id <= 5; id++) await db.query('INSERT INTO counters VALUES ($1, 0)', [id]);
  await receiver.waitFor(5, '/counters').catch((err: Error) => {
    const got = receiver.at('/counters').length;
    throw new Error(`${err.message} (${got} arrived); walhook's last lines:\n${walhook.tail(30)}`);
  });
  const url = `http://127.0.0.1:${walhook.port}`;

  let report: Status | undefined;
  await waitUntil(async () => {
    const json = await runCli(['status', '--json', '--url', url]);
    assert.equal(json.code, 0, json.stderr);
    report = JSON.parse(json.stdout) as Status;
    return report.triggers[0]?.delivered === 5;
  }, 'the report to count the deliveries');
  assert.equal(report?.slot, 'status_command');
  assert.equal(report?.connected, true);

  const view = await runCli(['status', '--url', url]);
  assert.equal(view.code, 0, view.stderr);
  const lines = view.stdout.split('\n');
  assert.ok(lines.includes('state         connected, ready, reading'), view.stdout);
  assert.ok(lines.includes('slot          status_command (publication status_command)'), view.stdout);
  assert.match(view.stdout, /^counters +public\.counters +5 +5 +0 +0 +0 +0 /m);
});
