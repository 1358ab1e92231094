import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

const TOKEN = 'Bearer sekret-token-1234567';
const TABLE = 'walhook.invocations';
const MAX_RESPONSE_BYTES = 64;

interface Received {
  id: string;
  attempt: number;
  headers: IncomingHttpHeaders;
}

let db: Database;
let walhook: WalhookProcess | undefined;
const received: Received[] = [];
let receiverUrl = '';
let closeReceiver: () => Promise<void>;

/**
 * A real receiver that answers each event's first attempt 503 with a body echoing the credentials
 * sent (as a careless proxy would), and the next ones 200.
 */
before(async () => {
  db = await startDatabase('invocation_log');
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
  const attempts = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const { id } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const attempt = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, attempt);
      received.push({ id, attempt, headers: req.headers });
      if (attempt === 1) {
        res.writeHead(503).end(`upstream down; you sent ${req.headers.authorization} ${'.'.repeat(200)}`);
      } else {
        res.writeHead(200).end('thanks');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closeReceiver = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await closeReceiver?.();
  await db?.close();
});

const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: invocation_log
  publication: invocation_log
server:
  host: 127.0.0.1
  port: \${PORT}
invocation_log: { table: ${TABLE}, retention: 1d, max_response_bytes: ${MAX_RESPONSE_BYTES} }
triggers:
  - name: orders
    table: public.orders
    operations: [insert]
    webhook: \${RECEIVER}/orders
    headers: { Authorization: "${TOKEN}" }
    retry: { num_retries: 3, interval_sec: 0 }
`;

async function start(): Promise<WalhookProcess> {
  walhook = await WalhookProcess.start(CONFIG, { DATABASE_URL: db.url, RECEIVER: receiverUrl });
  return walhook;
}

async function stop(): Promise<void> {
  assert.equal(await walhook?.stop(), 0);
  walhook = undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: rows of the log table
async function logged(eventId: string): Promise<any[]> {
  const result = await db.query(
    `SELECT *, lsn::text AS lsn FROM ${TABLE} WHERE event_id = $1 ORDER BY attempt`,
    [eventId],
  );
  return result.rows;
}

/** Event id → order id, filled from the log's request bodies. */
const orderIds = new Map<string, number>();

async function insertOrder(id: number): Promise<string> {
  await db.query('INSERT INTO orders VALUES ($1, $2)', [id, `order ${id}`]);
  let eventId: string | undefined;
  await waitUntil(async () => {
    const rows = await db.query<{ event_id: string }>(
      `SELECT event_id FROM ${TABLE} WHERE (request_body::jsonb)->'event'->'data'->'new'->>'id' = $1 AND outcome = 'delivered'`,
      [String(id)],
    );
    eventId = rows.rows[0]?.event_id;
    return eventId !== undefined;
  }, `order ${id} delivered and logged`);
  orderIds.set(eventId as string, id);
  return eventId as string;
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${walhook?.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
}

test('each attempt is logged: status, outcome, the request with its secrets masked, the start of the response', async () => {
  await start();
  const eventId = await insertOrder(1);
  const rows = await logged(eventId);
  assert.equal(rows.length, 2, JSON.stringify(rows));
  const [failed, delivered] = rows;
  assert.deepEqual(
    [failed.attempt, failed.status, failed.outcome, failed.error_type, failed.error],
    [1, 503, 'retry', 'http', 'HTTP 503'],
  );
  assert.deepEqual(
    [delivered.attempt, delivered.status, delivered.outcome, delivered.error_type],
    [2, 200, 'delivered', null],
  );
  for (const row of rows) {
    assert.deepEqual(
      [row.trigger, row.op, row.table_schema, row.table_name],
      ['orders', 'INSERT', 'public', 'orders'],
    );
    assert.match(row.lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.equal(row.request_url, `${receiverUrl}/orders`);
    assert.equal(row.request_method, 'POST');
    assert.equal(row.request_headers.authorization, '***');
    assert.match(row.request_headers.traceparent, /^00-/);
    assert.equal(JSON.parse(row.request_body).id, eventId);
    assert.ok(row.duration_ms >= 0);
    assert.ok(!JSON.stringify(row).includes('sekret-token'), 'the token is nowhere in the row');
  }
  assert.equal(
    received.find((r) => r.id === eventId)?.headers.authorization,
    TOKEN,
    'the receiver got the real one',
  );
  assert.equal(JSON.parse(failed.request_body).delivery_info.current_retry, 0);
  assert.equal(JSON.parse(delivered.request_body).delivery_info.current_retry, 1);
  assert.ok(failed.response_body.startsWith('upstream down; you sent *** '), failed.response_body);
  assert.ok(Buffer.byteLength(failed.response_body) <= MAX_RESPONSE_BYTES);
  assert.equal(delivered.response_body, 'thanks');
  assert.ok((await metric('walhook_invocation_log_records_total', 'outcome="written"')) >= 2);
  assert.equal(await metric('walhook_invocation_log_records_total', 'outcome="dropped"'), 0);
});

test('the log survives a restart: the rows stay, the console reads them, new attempts append', async () => {
  const [eventId] = [...orderIds.keys()];
  assert.ok(eventId);
  await stop();
  assert.equal((await logged(eventId)).length, 2, 'still there while walhook is down');
  await start();
  // The console's ring starts empty; its history comes from the log.
  const url = `http://127.0.0.1:${walhook?.port}/console/api/invocations`;
  // biome-ignore lint/suspicious/noExplicitAny: the console's JSON
  const detail: any = await (await fetch(`${url}/${eventId}`)).json();
  assert.equal(detail.event_id, eventId);
  assert.equal(detail.status, 'ok');
  assert.deepEqual(
    detail.attempts.map((a: { http_status: number }) => a.http_status),
    [503, 200],
  );
  assert.equal(detail.attempts[0].request.headers.authorization, '***');
  // biome-ignore lint/suspicious/noExplicitAny: the console's JSON
  const list: any = await (await fetch(url)).json();
  assert.ok(list.logged);
  assert.ok(list.invocations.some((i: { event_id: string }) => i.event_id === eventId));

  const second = await insertOrder(2);
  assert.equal((await logged(second)).length, 2);
  assert.equal((await logged(eventId)).length, 2, 'the first event was not delivered again');
  const count = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${TABLE}`);
  assert.equal(count.rows[0]?.n, 4);
});

test('retention: rows older than it are deleted (at start, then every minute), newer ones stay', async () => {
  await db.query(
    `INSERT INTO ${TABLE} (event_id, trigger, op, table_schema, table_name, lsn, attempt, batch_size, at,
       duration_ms, status, outcome, request_headers, request_body, response_body)
     SELECT 'old-' || g, 'orders', 'INSERT', 'public', 'orders', '0/1', 1, 1, now() - interval '2 days',
       1, 200, 'delivered', '{}', '{}', '' FROM generate_series(1, 12000) AS g`,
  );
  await stop();
  await start();
  await waitUntil(async () => {
    const old = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${TABLE} WHERE event_id LIKE 'old-%'`,
    );
    return old.rows[0]?.n === 0;
  }, 'the old rows pruned (in batches)');
  const kept = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${TABLE}`);
  assert.equal(kept.rows[0]?.n, 4, 'the recent rows stay');
});

test('a database that refuses the log its writes does not stop deliveries; the failures are counted and the records wait', async () => {
  // What a revoked INSERT answers (42501), from a trigger, since walhook's test role is a superuser.
  await db.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'permission denied for table invocations' USING ERRCODE = 'insufficient_privilege'; END $$`);
  await db.query(
    `CREATE TRIGGER refuse BEFORE INSERT ON ${TABLE} FOR EACH STATEMENT EXECUTE FUNCTION refuse()`,
  );
  const before = received.length;
  await db.query(`INSERT INTO orders SELECT g, 'refused' FROM generate_series(10, 14) AS g`);
  await waitUntil(
    () => received.slice(before).filter((r) => r.attempt === 2).length === 5,
    'five orders delivered',
  );
  await db.waitForConfirmed('invocation_log');
  await waitUntil(
    async () => (await metric('walhook_errors_total', 'error_type="invocation_log"')) >= 1,
    'the refused write counted',
  );
  const during = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${TABLE}`);
  assert.equal(during.rows[0]?.n, 4, 'nothing written while refused');
  assert.ok(
    walhook?.logs.filter((l) => String(l.msg).startsWith('cannot write to the invocation log')).length === 1,
    'one line for the episode',
  );

  await db.query(`DROP TRIGGER refuse ON ${TABLE}`);
  await waitUntil(
    async () => {
      const after = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${TABLE}`);
      return after.rows[0]?.n === 4 + 10;
    },
    'the waiting records written once the database takes them',
    30_000,
  );
  assert.equal(await metric('walhook_invocation_log_records_total', 'outcome="dropped"'), 0);
  await stop();
});
