import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

const MiB = 2 ** 20;
const BIG = 50 * MiB;
/** Bodies kept as text for comparisons with Postgres's own rendering; the big ones only parsed. */
const KEEP_RAW_BELOW = 32 * MiB;

// The default max_in_flight_bytes (64 MiB) is below the bytea event (100 MiB of hex text).
const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: hostile_data
  publication: hostile_data
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: big
    table: big
    operations: [insert]
    webhook: \${RECEIVER}/big
  - name: odd
    table: odd
    operations: [insert]
    webhook: \${RECEIVER}/odd
`;

interface Received {
  // biome-ignore lint/suspicious/noExplicitAny: payload assertions read arbitrary fields
  body: any;
  raw: string | null;
  bytes: number;
}

let db: Database;
let walhook: WalhookProcess;
let server: ReturnType<typeof createServer>;
let receiverUrl: string;
const received: Received[] = [];

/**
 * test/helpers/receiver.ts keeps every body twice (text and parsed); with bodies of 100 MB this one
 * keeps only what the assertions need.
 */
function startBigReceiver(): Promise<string> {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const buffer = Buffer.concat(chunks);
      const raw = buffer.toString('utf8');
      received.push({
        body: JSON.parse(raw),
        raw: buffer.length < KEEP_RAW_BELOW ? raw : null,
        bytes: buffer.length,
      });
      res.writeHead(200).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
  return Math.round(kib / 1024);
}

/** The event whose new row has `id`, once delivered. */
async function delivered(table: string, id: number, timeoutMs = 120_000): Promise<Received> {
  let found: Received | undefined;
  await waitUntil(
    () => {
      walhook.assertAlive();
      found = received.find((r) => r.body?.table.name === table && r.body.event.data.new.id === id);
      return found !== undefined;
    },
    `${table} row ${id} to be delivered`,
    timeoutMs,
  );
  return found as Received;
}

/** The `new` row exactly as walhook wrote it in the body. */
function newRowText(raw: string): string {
  const start = raw.indexOf('"new":') + '"new":'.length;
  const end = raw.indexOf(',"session_variables"');
  return raw.slice(start, end - 1);
}

async function rowToJson(table: string, id: number): Promise<string> {
  const result = await db.query<{ json: string }>(
    `SELECT row_to_json(r)::text AS json FROM ${table} r WHERE id = $1`,
    [id],
  );
  return result.rows[0]?.json as string;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The deepest nesting of `open … center … close` that Postgres accepts as jsonb. */
async function deepestJsonb(open: string, center: string, close: string): Promise<number> {
  let ok = 1000;
  let failed = 1_000_000;
  while (failed - ok > 100) {
    const depth = Math.floor((ok + failed) / 2);
    const accepted = await db
      .query('SELECT (repeat($1, $4) || $2 || repeat($3, $4))::jsonb', [open, center, close, depth])
      .then(() => true)
      .catch(() => false);
    if (accepted) ok = depth;
    else failed = depth;
  }
  return ok;
}

before(async () => {
  db = await startDatabase('hostile_data');
  await db.query('CREATE TABLE big (id int PRIMARY KEY, t text, b bytea)');
  await db.query('CREATE TABLE odd (id int PRIMARY KEY, t text, j jsonb, js json, b bytea)');
  receiverUrl = await startBigReceiver();
  walhook = await WalhookProcess.start(CONFIG, {
    DATABASE_URL: db.url,
    RECEIVER: receiverUrl,
    LOG_LEVEL: 'info',
  });
});

after(async () => {
  await walhook?.stop();
  server?.closeAllConnections();
  server?.close();
  await db?.close();
});

test('a 50 MB text value and a 50 MB bytea of random bytes arrive intact', async () => {
  const baseline = await peakRssMiB(walhook.child.pid as number);
  // Every byte value first, then random ones.
  const bytes = Buffer.concat([
    Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
    randomBytes(BIG - 256),
  ]);
  await db.query(
    `INSERT INTO big (id, t) SELECT 1, string_agg(md5(i::text) || chr(1 + i % 1000 + 160), '')
       FROM generate_series(1, $1) AS i`,
    [Math.ceil(BIG / 34) + 1],
  );
  // Small events in the same transaction as the oversized one, behind it: nothing may deadlock.
  await db.query('BEGIN');
  await db.query('INSERT INTO big (id, b) VALUES (2, $1)', [bytes]);
  await db.query('INSERT INTO big (id, t) SELECT i, i::text FROM generate_series(3, 50) AS i');
  await db.query('COMMIT');
  const source = await db.query<{ t: string; length: number }>(
    "SELECT encode(sha256(convert_to(t, 'UTF8')), 'hex') AS t, octet_length(t) AS length FROM big WHERE id = 1",
  );

  const text = await delivered('big', 1);
  assert.ok((source.rows[0]?.length ?? 0) > BIG, 'the text value is over 50 MB');
  assert.equal(sha256(text.body.event.data.new.t), source.rows[0]?.t);
  const binary = await delivered('big', 2);
  const hex = binary.body.event.data.new.b as string;
  assert.ok(hex.startsWith('\\x'));
  const decoded = Buffer.from(hex.slice(2), 'hex');
  assert.equal(decoded.length, BIG);
  assert.equal(sha256(decoded), sha256(bytes));
  assert.ok(binary.bytes > 100 * MiB, `the event (${binary.bytes} bytes) is above max_in_flight_bytes`);
  for (let id = 3; id <= 50; id++) await delivered('big', id);
  await db.waitForConfirmed('hostile_data', 60_000);
  // The oversized event was admitted alone, paused reading, and reading resumed once it settled.
  const paused = walhook.logs.findIndex((l) => l.msg === 'in-flight limit reached; pausing replication');
  assert.ok(paused >= 0 && walhook.logs[paused]?.in_flight_bytes > 64 * MiB, walhook.tail());
  assert.ok(
    walhook.logs.slice(paused).some((l) => l.msg === 'below the in-flight limits; resuming replication'),
  );

  const peak = await peakRssMiB(walhook.child.pid as number);
  console.log(`walhook peak RSS (VmHWM): ${baseline} MiB at start, ${peak} MiB after the 50 MB rows`);
  text.body = null;
  binary.body = null;
});

test('jsonb nested as deep as Postgres accepts, and wide, arrives as row_to_json renders it', async () => {
  const arrays = await deepestJsonb('[', '', ']');
  const objects = await deepestJsonb('{"a":', '"deep"', '}');
  console.log(`deepest jsonb accepted: ${arrays} arrays, ${objects} objects`);
  assert.ok(arrays >= 1000 && objects >= 1000);
  await db.query("INSERT INTO odd (id, j) SELECT 1, (repeat('[', $1) || repeat(']', $1))::jsonb", [arrays]);
  await db.query(
    `INSERT INTO odd (id, j) SELECT 2, (repeat('{"a":', $1) || '"deep"' || repeat('}', $1))::jsonb`,
    [objects],
  );
  await db.query(
    `INSERT INTO odd (id, j, js) SELECT 3, jsonb_object_agg('key ' || i, i), json_object_agg('key ' || i, i)
       FROM generate_series(1, 200000) AS i`,
  );
  for (const id of [1, 2, 3]) {
    const event = await delivered('odd', id);
    assert.equal(newRowText(event.raw as string), await rowToJson('odd', id), `row ${id}`);
  }
  const wide = (await delivered('odd', 3)).body.event.data.new;
  assert.equal(Object.keys(wide.j).length, 200_000);
  assert.equal(wide.js['key 200000'], 200_000);
});

test('every unicode plane, every control character but NUL, and \\u escapes arrive exactly', async () => {
  const codePoints: number[] = [];
  for (let c = 1; c < 0x20; c++) codePoints.push(c);
  for (let c = 0x7f; c <= 0xa0; c++) codePoints.push(c);
  for (let plane = 0; plane <= 0x10; plane++) {
    for (const low of [0x41, 0x100, 0xfffd, 0xfffe, 0xffff]) codePoints.push(plane * 0x10000 + low);
  }
  codePoints.push(0xd7ff, 0xe000, 0x2028, 0x2029, 0xfeff, 0x10ffff);
  const text = `"\\'${String.fromCodePoint(...codePoints)}`;
  const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  await db.query('INSERT INTO odd (id, t, b) VALUES (4, $1, $2)', [text, everyByte]);
  // json keeps its text as written, so escapes that jsonb refuses (a lone surrogate, \u0000) pass through.
  await db.query(`INSERT INTO odd (id, j, js) VALUES (5, $1::jsonb, $2::json)`, [
    '{"escaped": "\\u00e9\\ud83d\\ude00\\u001f\\u2028", "raw": "\u{10ffff}"}',
    '{"lone": "\\ud800", "nul": "\\u0000", "pair": "\\ud83d\\ude00"}',
  ]);
  const plain = await delivered('odd', 4);
  assert.equal(plain.body.event.data.new.t, text);
  assert.equal(plain.body.event.data.new.b, `\\x${everyByte.toString('hex')}`);
  assert.equal(newRowText(plain.raw as string), await rowToJson('odd', 4));
  const escaped = await delivered('odd', 5);
  assert.equal(newRowText(escaped.raw as string), await rowToJson('odd', 5));
  assert.deepEqual(escaped.body.event.data.new.j, { escaped: 'é😀\u001f\u2028', raw: '\u{10ffff}' });
  assert.deepEqual(escaped.body.event.data.new.js, { lone: '\ud800', nul: '\u0000', pair: '😀' });
  await db.waitForConfirmed('hostile_data');
  walhook.assertAlive();
});
