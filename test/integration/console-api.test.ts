import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { waitUntil } from '../helpers/receiver.js';
import { ROOT, WalhookProcess } from '../helpers/walhook.js';

const ADMIN_TOKEN = randomBytes(24).toString('base64url');
const API_KEY = `key-${randomBytes(16).toString('hex')}`;
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const RECENT = 4;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  // biome-ignore lint/suspicious/noExplicitAny: payloads are arbitrary JSON
  body: any;
}

let db: Database;
let walhook: WalhookProcess;
let exposed: WalhookProcess | null = null;
let server: Server;
let receiverUrl: string;
const received: Received[] = [];
/** /doomed answers 500 until this is set. */
let doomedUp = false;
/**
 * /late answers its first attempt with 500 at once and holds its second until this is called, then
 * answers 500 again: its third attempt, which succeeds, starts only after what the test did meanwhile.
 */
let releaseLate: () => void = () => {};
const lateReleased = new Promise<void>((resolve) => {
  releaseLate = resolve;
});

const config = `
source:
  connection: \${DATABASE_URL}
  slot: console_api
  publication: console_api
server:
  host: 127.0.0.1
  port: \${PORT}
  admin_token: \${ADMIN_TOKEN}
  console:
    recent: ${RECENT}
    debug_filters: true
triggers:
  - name: orders
    table: orders
    operations: [insert]
    webhook: \${RECEIVER}/orders
    headers:
      X-Api-Key: \${API_KEY}
    secret: \${WEBHOOK_SECRET}
    ordering: trigger
  - name: paid_orders
    table: orders
    operations: [insert]
    where:
      new: { status: { _eq: paid }, id: { _gt: 0 } }
    webhook: \${RECEIVER}/paid
  - name: doomed
    table: doomed
    operations: [insert]
    webhook: \${RECEIVER}/doomed
    retry: { num_retries: 1, interval_sec: 0 }
  - name: late
    table: late
    operations: [insert]
    webhook: \${RECEIVER}/late
    retry: { num_retries: 2, interval_sec: 0, timeout_sec: 120 }
`;

before(async () => {
  db = await startDatabase('console_api');
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, status text)');
  await db.query('CREATE TABLE doomed (id int PRIMARY KEY)');
  await db.query('CREATE TABLE elsewhere (id int PRIMARY KEY)');
  await db.query('CREATE TABLE late (id int PRIMARY KEY)');
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const delivery = { path: req.url ?? '/', headers: req.headers, raw, body: JSON.parse(raw) };
      received.push(delivery);
      const attempt = received.filter((d) => d.body.id === delivery.body.id).length;
      if (delivery.path === '/late' && attempt === 2) await lateReleased;
      const failing =
        (delivery.path === '/doomed' && !doomedUp) || (delivery.path === '/late' && attempt <= 2);
      // The receiver echoes the API key: the console must not show it.
      res
        .writeHead(failing ? 500 : 200, { 'content-type': 'text/plain', 'x-receiver': 'test' })
        .end(`${failing ? 'broken' : 'thanks'} ${delivery.body.id} ${req.headers['x-api-key'] ?? ''}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  walhook = await WalhookProcess.start(config, {
    DATABASE_URL: db.url,
    RECEIVER: receiverUrl,
    ADMIN_TOKEN,
    API_KEY,
    WEBHOOK_SECRET: SECRET,
  });
});

after(async () => {
  await exposed?.stop();
  await walhook?.stop();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await db?.close();
});

async function get(path: string, options: { port?: number; token?: string } = {}) {
  const res = await fetch(`http://127.0.0.1:${options.port ?? walhook.port}${path}`, {
    headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: answers are arbitrary JSON
  const json: any = res.headers.get('content-type') === 'application/json' ? JSON.parse(text) : null;
  return { status: res.status, headers: res.headers, text, json };
}

async function admin(path: string, body: object) {
  const res = await fetch(`http://127.0.0.1:${walhook.port}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: answers are arbitrary JSON
  return { status: res.status, json: (await res.json()) as any };
}

async function waitForReceived(path: string, count: number): Promise<Received[]> {
  await waitUntil(
    () => walhook.assertAlive() && received.filter((d) => d.path === path).length >= count,
    `${count} deliveries at ${path}`,
  );
  return received.filter((d) => d.path === path);
}

async function waitForInvocation(eventId: string, status: string) {
  await waitUntil(async () => {
    const { json } = await get(`/console/api/invocations?event_id=${eventId}`);
    return json.invocations[0]?.status === status;
  }, `invocation ${eventId} to be ${status}`);
  return (await get(`/console/api/invocations/${eventId}`)).json;
}

async function deadLetters(trigger: string) {
  return (await get(`/console/api/dead-letters?trigger=${trigger}`)).json.dead_letters;
}

test('an insert appears in the invocations with what was sent and what came back, credentials masked', async () => {
  await db.query("INSERT INTO orders VALUES (1, 'new')");
  const [delivery] = await waitForReceived('/orders', 1);
  const eventId = delivery?.body.id as string;
  const detail = await waitForInvocation(eventId, 'ok');

  assert.equal(detail.event_id, eventId);
  assert.deepEqual(
    [detail.trigger, detail.op, detail.table, detail.status, detail.attempt_count, detail.last_http_status],
    ['orders', 'INSERT', 'public.orders', 'ok', 1, 200],
  );
  assert.match(detail.lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
  const [attempt] = detail.attempts;
  assert.equal(detail.attempts.length, 1);
  assert.equal(attempt.attempt, 1);
  assert.equal(attempt.http_status, 200);
  assert.equal(attempt.error, null);
  assert.ok(attempt.duration_ms >= 0);
  assert.ok(Date.parse(attempt.at) > 0);
  assert.equal(attempt.request.url, `${receiverUrl}/orders`);
  assert.equal(attempt.request.body, delivery?.raw, 'the exact body the receiver got');
  assert.equal(attempt.request.headers['x-api-key'], '***');
  assert.equal(attempt.request.headers['webhook-signature'], '***');
  assert.equal(attempt.request.headers['webhook-id'], delivery?.headers['webhook-id']);
  assert.equal(attempt.request.headers['content-type'], 'application/json');
  assert.equal(attempt.request.headers.traceparent, delivery?.headers.traceparent);
  assert.equal(attempt.response.body, `thanks ${eventId} ***`);
  assert.equal(attempt.response.headers['x-receiver'], 'test');

  const list = await get('/console/api/invocations?trigger=orders');
  assert.equal(list.status, 200);
  assert.equal(list.headers.get('cache-control'), 'no-store');
  assert.equal(list.headers.get('x-content-type-options'), 'nosniff');
  const summary = list.json.invocations.find((i: { event_id: string }) => i.event_id === eventId);
  assert.deepEqual(
    [summary.status, summary.attempts, summary.last_http_status, summary.op],
    ['ok', 1, 200, 'INSERT'],
  );
  const everything = JSON.stringify(list.json) + JSON.stringify(detail);
  for (const secret of [API_KEY, SECRET, ADMIN_TOKEN]) assert.ok(!everything.includes(secret));

  assert.equal((await get('/console/api/invocations/no-such-event')).status, 404);
  assert.equal((await get('/console/api/invocations?status=bogus')).status, 400);
  assert.equal((await get('/console/api/invocations?limit=0')).status, 400);
  assert.equal((await get('/console/api/nothing')).status, 404);
});

test('a failing receiver gives a failed invocation with its attempts and a dead letter with detail', async () => {
  await db.query('INSERT INTO doomed VALUES (1)');
  const [first, second] = await waitForReceived('/doomed', 2);
  const eventId = first?.body.id as string;
  const detail = await waitForInvocation(eventId, 'failed');
  assert.equal(detail.attempt_count, 2);
  assert.deepEqual(
    detail.attempts.map((a: { attempt: number; http_status: number; error: string }) => [
      a.attempt,
      a.http_status,
      a.error,
    ]),
    [
      [1, 500, 'http: HTTP 500'],
      [2, 500, 'http: HTTP 500'],
    ],
  );
  assert.equal(detail.attempts[1].request.body, second?.raw, 'each attempt with its own body');
  assert.equal(detail.attempts[1].response.body, `broken ${eventId} `);
  const failed = await get('/console/api/invocations?status=failed');
  assert.deepEqual(
    failed.json.invocations.map((i: { event_id: string }) => i.event_id),
    [eventId],
  );

  await waitUntil(async () => (await deadLetters('doomed')).length === 1, 'the dead letter');
  const [letter] = await deadLetters('doomed');
  assert.deepEqual(
    [
      letter.id,
      letter.trigger,
      letter.table,
      letter.op,
      letter.attempts,
      letter.last_status,
      letter.pipeline,
    ],
    [eventId, 'doomed', 'public.doomed', 'INSERT', 2, 500, 'default'],
  );
  assert.equal(letter.last_error, 'http: HTTP 500');
  assert.equal(letter.response_snippet, `broken ${eventId} `);
  assert.equal(letter.body, undefined, 'the list leaves bodies out');
  const letterDetail = await get(`/console/api/dead-letters/${eventId}`);
  assert.equal(letterDetail.status, 200);
  assert.equal(letterDetail.json.body, second?.raw);
  assert.equal((await get('/console/api/dead-letters/no-such-letter')).status, 404);

  await waitUntil(async () => {
    const { json } = await get('/console/api/overview');
    const doomed = json.triggers.find((t: { name: string }) => t.name === 'doomed');
    return doomed.failed === 1 && doomed.dead_letters === 1;
  }, 'the overview to count the failure');
  const { json: overview } = await get('/console/api/overview');
  const [pipeline] = overview.pipelines;
  assert.deepEqual(
    [pipeline.pipeline, pipeline.slot, pipeline.connected, pipeline.ready, overview.admin],
    ['default', 'console_api', true, true, true],
  );
  assert.match(pipeline.confirmed_lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
  const doomed = overview.triggers.find((t: { name: string }) => t.name === 'doomed');
  assert.equal(doomed.failure_ratio, 1);
  const orders = overview.triggers.find((t: { name: string }) => t.name === 'orders');
  assert.ok(orders.delivered >= 1);
  const counted = orders.throughput.reduce((n: number, p: { delivered: number }) => n + p.delivered, 0);
  assert.equal(counted, orders.delivered);
  assert.ok(orders.throughput.length >= 1 && orders.throughput.length <= 120);
});

test('dead letters selected by ids are redelivered and purged through the admin API', async () => {
  await db.query('INSERT INTO doomed VALUES (2), (3), (4)');
  await waitUntil(async () => (await deadLetters('doomed')).length === 4, 'four dead letters');
  const letters: { id: string }[] = await deadLetters('doomed');
  const ids = letters.map((l) => l.id);
  doomedUp = true;
  const chosen = ids.slice(0, 2);
  const redelivered = await admin('/dead-letters/redeliver', { ids: chosen });
  assert.equal(redelivered.status, 200, JSON.stringify(redelivered.json));
  assert.deepEqual([redelivered.json.redelivered, redelivered.json.kept], [2, 0]);
  assert.deepEqual(redelivered.json.results.map((r: { id: string }) => r.id).sort(), [...chosen].sort());
  const left = (await deadLetters('doomed')).map((l: { id: string }) => l.id);
  assert.deepEqual(left.sort(), ids.slice(2).sort());

  const purged = await admin('/dead-letters/purge', { ids: [ids[2]] });
  assert.deepEqual([purged.status, purged.json], [200, { purged: 1 }]);
  assert.deepEqual(
    (await deadLetters('doomed')).map((l: { id: string }) => l.id),
    [ids[3]],
  );
  const missing = await admin('/dead-letters/purge', { ids: ['nope-1', 'nope-2'] });
  assert.equal(missing.status, 404);
  const both = await admin('/dead-letters/purge', { id: ids[3], ids: [ids[3]] });
  assert.equal(both.status, 400);
  const refused = await fetch(`http://127.0.0.1:${walhook.port}/dead-letters/purge`, {
    method: 'POST',
    body: JSON.stringify({ ids: [ids[3]] }),
  });
  assert.equal(refused.status, 401);
});

test(`the ring keeps only the last ${RECENT} events`, async () => {
  await db.query(`INSERT INTO orders SELECT g, 'new' FROM generate_series(100, ${100 + RECENT + 1}) AS g`);
  const deliveries = await waitForReceived('/orders', 1 + RECENT + 2);
  // The orders trigger goes one event at a time, in commit order: the last ones delivered are the newest.
  const newest = deliveries
    .slice(-RECENT)
    .map((d) => d.body.id)
    .reverse();
  await waitUntil(async () => {
    const { json } = await get('/console/api/invocations');
    return json.invocations[0]?.event_id === newest[0] && json.invocations[0].status === 'ok';
  }, 'the newest delivery in the ring');
  const { json } = await get('/console/api/invocations?limit=1000');
  assert.deepEqual(
    json.invocations.map((i: { event_id: string }) => i.event_id),
    newest,
  );
});

test('invocations go by latest attempt, newest first: an event retried after another is listed above it', async () => {
  await db.query('INSERT INTO late VALUES (1)');
  // The receiver holds the second attempt: the first is recorded, the third not yet started.
  const [lateFirst] = await waitForReceived('/late', 2);
  const lateId = lateFirst?.body.id as string;
  await waitForInvocation(lateId, 'pending');
  await db.query("INSERT INTO orders VALUES (200, 'new')");
  const isOrder = (d: Received) => d.path === '/orders' && d.body.event.data.new.id === 200;
  await waitUntil(() => received.some(isOrder), 'the order delivered while the late event waits');
  const orderId = received.find(isOrder)?.body.id as string;
  await waitForInvocation(orderId, 'ok');
  const listed = async () => (await get('/console/api/invocations')).json;
  const ids = (json: { invocations: { event_id: string }[] }) => json.invocations.map((i) => i.event_id);
  assert.deepEqual(ids(await listed()).slice(0, 2), [orderId, lateId], 'by the attempts recorded so far');

  releaseLate();
  const detail = await waitForInvocation(lateId, 'ok');
  const list = await listed();
  assert.deepEqual(ids(list).slice(0, 2), [lateId, orderId], 'the event retried last is on top');
  const times = list.invocations.map((i: { last_attempt_at: string }) => Date.parse(i.last_attempt_at));
  assert.deepEqual(
    times,
    [...times].sort((a, b) => b - a),
  );
  assert.deepEqual(await listed(), list, 'the same list when read again');
  assert.deepEqual(
    ids(await (await get('/console/api/invocations?limit=1')).json),
    [lateId],
    'the limit keeps the newest',
  );

  assert.deepEqual(
    detail.attempts.map((a: { attempt: number; http_status: number }) => [a.attempt, a.http_status]),
    [
      [1, 500],
      [2, 500],
      [3, 200],
    ],
    'attempts oldest first',
  );
  const started = detail.attempts.map((a: { at: string }) => Date.parse(a.at));
  assert.deepEqual(
    started,
    [...started].sort((a, b) => a - b),
  );
  assert.equal(detail.last_attempt_at, detail.attempts[2].at);
});

test('debug_filters records a change a where filter left out, with why; definitions are masked', async () => {
  await db.query("INSERT INTO orders VALUES (42, 'new'), (43, 'paid')");
  await waitForReceived('/paid', 1);
  const { json } = await get('/console/api/triggers');
  assert.equal(json.debug_filters, true);
  const paid = json.triggers.find((t: { name: string }) => t.name === 'paid_orders');
  assert.deepEqual([paid.pipeline, paid.table, paid.operations], ['default', 'public.orders', ['insert']]);
  const where = paid.filtered.find((f: { key: string }) => f.key === 'id=42');
  assert.ok(where, JSON.stringify(paid.filtered));
  assert.deepEqual([where.reason, where.op], ['where', 'INSERT']);
  assert.match(where.lsn, /^[0-9A-F]+\/[0-9A-F]+$/);
  assert.ok(!paid.filtered.some((f: { key: string }) => f.key === 'id=43'), 'a matched row is not filtered');
  assert.ok(paid.filtered.length <= 50);
  assert.deepEqual(paid.definition.where, { new: { status: { _eq: 'paid' }, id: { _gt: 0 } } });

  const orders = json.triggers.find((t: { name: string }) => t.name === 'orders');
  assert.deepEqual(orders.definition.headers, { 'X-Api-Key': '***' });
  assert.deepEqual(orders.definition.secrets, ['***']);
  assert.equal(orders.definition.webhook, `${receiverUrl}/orders`);
  const text = JSON.stringify(json);
  for (const secret of [API_KEY, SECRET]) assert.ok(!text.includes(secret));
});

test('/console serves the page (or says how to build it) with its security headers', async () => {
  const built = existsSync(`${ROOT}/dist/console-assets/index.html`);
  const page = await get('/console');
  if (built) {
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.text, /<html/i);
    assert.match(
      page.headers.get('content-security-policy') ?? '',
      /default-src 'self'.*frame-ancestors 'none'/,
    );
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.equal((await get('/console/')).status, 200);
    const script = await get('/console/assets/console.js');
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal((await get('/console/assets/missing.js')).status, 404);
  } else {
    assert.equal(page.status, 503);
    assert.match(page.text, /console assets not built: run npm run build/);
  }
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  for (const path of ['/console/assets/..%2fpackage.json', '/console/assets/.hidden.js', '/console/other']) {
    assert.equal((await get(path)).status, 404, path);
  }
});

test('on a non-loopback address the console API needs the admin token; the page does not', async () => {
  exposed = await WalhookProcess.start(
    `
source:
  connection: \${DATABASE_URL}
  slot: console_api_exposed
  publication: console_api_exposed
server:
  host: 0.0.0.0
  port: \${PORT}
  admin_token: \${ADMIN_TOKEN}
triggers:
  - name: elsewhere
    table: elsewhere
    operations: [insert]
    webhook: \${RECEIVER}/elsewhere
`,
    { DATABASE_URL: db.url, RECEIVER: receiverUrl, ADMIN_TOKEN },
  );
  const port = exposed.port;
  for (const path of ['/console/api/overview', '/console/api/invocations', '/console/api/dead-letters']) {
    const refused = await get(path, { port });
    assert.equal(refused.status, 401, path);
    assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.equal((await get(path, { port, token: 'wrong-token-wrong-token' })).status, 401, path);
    assert.equal((await get(path, { port, token: ADMIN_TOKEN })).status, 200, path);
  }
  assert.notEqual((await get('/console', { port })).status, 401);
  const { json } = await get('/console/api/triggers', { port, token: ADMIN_TOKEN });
  assert.equal(json.debug_filters, false);
  assert.deepEqual(json.triggers[0].filtered, []);
  // The loopback process answers without a token.
  assert.equal((await get('/console/api/overview')).status, 200);
  // Only the failures the tests caused were logged as errors: no console request failed.
  const errors = [...walhook.logs, ...exposed.logs].filter(
    (line) => line.level >= 50 && line.code !== 'WALHOOK_ERR_DELIVERY_FAILED',
  );
  assert.deepEqual(errors, []);
});
