import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { batchMessageId } from '../../src/sinks/webhook/signature.js';
import { type Database, startDatabase } from '../helpers/database.js';
import { waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const SECRET = newSecret();
const OLD_SECRET = newSecret();

let db: Database;
let receiver: BytesReceiver;
let walhook: WalhookProcess;

// A retry interval above a second, so a retried attempt's timestamp (unix seconds) is another second.
const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: signing_test
  publication: signing_test
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: signed
    table: accounts
    operations: [insert]
    webhook: \${RECEIVER}/signed
    secret: \${WEBHOOK_SECRET}
    retry: { num_retries: 2, interval_sec: 1.2, backoff: fixed }
  - name: rotating
    table: accounts
    operations: [insert]
    webhook: \${RECEIVER}/rotating
    secret:
      - \${WEBHOOK_SECRET_OLD}
      - \${WEBHOOK_SECRET}
  - name: batched
    table: accounts
    operations: [insert]
    webhook: \${RECEIVER}/batched
    secret: \${WEBHOOK_SECRET}
    ordering: trigger
    batch: { max_events: 2, max_wait_ms: 200 }
    retry: { num_retries: 2, interval_sec: 1.2, backoff: fixed }
  - name: plain
    table: accounts
    operations: [insert]
    webhook: \${RECEIVER}/plain
    headers: { X-Tenant: acme }
`;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  /** The body exactly as it arrived. */
  bytes: Buffer;
  // biome-ignore lint/suspicious/noExplicitAny: payload assertions read arbitrary fields
  body: any;
  status: number;
}

/** A receiver that keeps each body's bytes, since a signature covers bytes, not a decoded string. */
async function startBytesReceiver(answer: (request: Omit<Received, 'status'>) => number) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const bytes = Buffer.concat(chunks);
      const request = {
        path: req.url ?? '/',
        headers: req.headers,
        bytes,
        body: JSON.parse(bytes.toString()),
      };
      const status = answer(request);
      received.push({ ...request, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    at: (path: string) => received.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
type BytesReceiver = Awaited<ReturnType<typeof startBytesReceiver>>;

/** The Standard Webhooks headers of a request, as a receiver hands them to `verify`. */
function webhookHeaders(request: Received): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (name.startsWith('webhook-') && typeof value === 'string') headers[name] = value;
  }
  return headers;
}

const verify = (secret: string, request: Received) =>
  new Webhook(secret).verify(request.bytes, webhookHeaders(request));

before(async () => {
  db = await startDatabase('signing');
  await db.query('CREATE TABLE accounts (id int PRIMARY KEY, name text)');
  let batchFailed = false;
  receiver = await startBytesReceiver((request) => {
    // The first attempt of row 1's event, and the first batch, fail once so a retry is signed too.
    if (request.path === '/signed' && request.body.event.data.new.id === 1) {
      return request.body.delivery_info.current_retry === 0 ? 500 : 200;
    }
    if (request.path === '/batched' && !batchFailed) {
      batchFailed = true;
      return 500;
    }
    return 200;
  });
  walhook = await WalhookProcess.start(CONFIG, {
    DATABASE_URL: db.url,
    RECEIVER: receiver.url,
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_SECRET_OLD: OLD_SECRET,
  });
  // Names that are not ASCII: the signature must cover the UTF-8 bytes on the wire.
  await db.query(`INSERT INTO accounts VALUES (1, 'Zoë'), (2, '名前 🐘'), (3, 'plain "quoted" \\ text')`);
  await waitUntil(
    () =>
      receiver.at('/signed').length >= 4 &&
      receiver.at('/rotating').length >= 3 &&
      receiver.at('/plain').length >= 3 &&
      receiver
        .at('/batched')
        .filter((r) => r.status === 200)
        .reduce((sum, r) => sum + r.body.events.length, 0) >= 3,
    'every trigger to receive its events',
  );
  await db.waitForConfirmed('signing_test');
});

after(async () => {
  await walhook?.stop();
  await receiver?.close();
  await db?.close();
});

test('every delivery of a signed trigger verifies, a retried attempt included', () => {
  const signed = receiver.at('/signed');
  assert.equal(signed.length, 4, 'three events and one retry');
  for (const request of signed) {
    assert.deepEqual(verify(SECRET, request), request.body);
    assert.equal(request.headers['webhook-id'], request.body.id, 'webhook-id is the event id');
    assert.equal(webhookHeaders(request)['webhook-signature']?.split(' ').length, 1);
  }
  const [first, retried] = signed.filter((r) => r.body.event.data.new.id === 1);
  assert.ok(first && retried);
  assert.deepEqual(
    [first.status, first.body.delivery_info.current_retry, retried.body.delivery_info.current_retry],
    [500, 0, 1],
  );
  assert.equal(retried.headers['webhook-id'], first.headers['webhook-id']);
  assert.ok(Number(retried.headers['webhook-timestamp']) > Number(first.headers['webhook-timestamp']));
  assert.notEqual(retried.headers['webhook-signature'], first.headers['webhook-signature']);
});

test('while rotating, either secret alone verifies every delivery', () => {
  const rotating = receiver.at('/rotating');
  assert.equal(rotating.length, 3);
  for (const request of rotating) {
    assert.equal(webhookHeaders(request)['webhook-signature']?.split(' ').length, 2);
    assert.deepEqual(verify(OLD_SECRET, request), request.body);
    assert.deepEqual(verify(SECRET, request), request.body);
    assert.throws(() => verify(newSecret(), request), /No matching signature/);
  }
});

test('batches verify and carry a batch id, the same on a retry of the same batch', () => {
  const batches = receiver.at('/batched');
  assert.deepEqual(
    batches.map((r) => [r.status, r.body.events.length]),
    [
      [500, 2],
      [200, 2],
      [200, 1],
    ],
  );
  for (const request of batches) {
    assert.deepEqual(verify(SECRET, request), request.body);
    const eventIds: string[] = request.body.events.map((event: { id: string }) => event.id);
    assert.equal(request.headers['webhook-id'], batchMessageId(eventIds));
    assert.ok(!eventIds.includes(request.headers['webhook-id'] as string));
  }
  const [failed, retried, other] = batches as [Received, Received, Received];
  assert.deepEqual(
    retried.body.events.map((e: { id: string }) => e.id),
    failed.body.events.map((e: { id: string }) => e.id),
  );
  assert.equal(retried.headers['webhook-id'], failed.headers['webhook-id']);
  assert.notEqual(retried.headers['webhook-signature'], failed.headers['webhook-signature']);
  assert.notEqual(other.headers['webhook-id'], failed.headers['webhook-id']);
});

test('a wrong secret or a tampered body fails verification', () => {
  for (const request of [...receiver.at('/signed'), ...receiver.at('/batched')]) {
    assert.throws(() => verify(newSecret(), request), /No matching signature/);
    const tampered = Buffer.from(request.bytes);
    // One byte of the payload: `current_retry`'s digit, a change a replaying attacker would want.
    const digit = tampered.lastIndexOf('"current_retry":') + '"current_retry":'.length;
    tampered[digit] = (tampered[digit] as number) === 0x30 ? 0x31 : 0x30;
    assert.throws(
      () => new Webhook(SECRET).verify(tampered, webhookHeaders(request)),
      /No matching signature/,
    );
  }
});

test('an unsigned trigger sends no webhook-* header', () => {
  const plain = receiver.at('/plain');
  assert.equal(plain.length, 3);
  for (const request of plain) {
    assert.deepEqual(Object.keys(webhookHeaders(request)), []);
    assert.equal(request.headers['x-tenant'], 'acme');
  }
});

test('no secret appears in anything walhook printed', () => {
  // The failed attempts above logged warnings, and debug logs every attempt.
  assert.ok(walhook.logs.some((line) => line.msg === 'delivery attempt' && line.status === 500));
  const printed = JSON.stringify(walhook.logs) + walhook.stderr;
  for (const secret of [SECRET, OLD_SECRET]) {
    assert.ok(!printed.includes(secret.slice('whsec_'.length)), 'a signing secret was printed');
  }
});
