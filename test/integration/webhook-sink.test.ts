import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import type { DeliveryEvent, RetryPolicy } from '../../src/sink/delivery-event.js';
import { WebhookSink } from '../../src/sink/webhook-sink.js';

const USER_AGENT = 'walhook-test/1.0';
const SECRET = 'Bearer s3cr3t-t0ken-value';
const CUSTOM = 'custom-header-value-9f2c';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  json: { id: string; key: string; seq: number; delivery_info: { current_retry: number } };
}

type Handler = (req: Received, res: ServerResponse) => void;

/** A real receiver on an ephemeral port; each request is recorded before the handler answers. */
async function receiver(handler: Handler) {
  const requests: Received[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const received = { headers: req.headers, body, json: JSON.parse(body) };
      requests.push(received);
      handler(received, res);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    connections: () => connections,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function answer(res: ServerResponse, status: number, body = ''): void {
  res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type LogLine = Record<string, unknown> & { msg: string; level: number };

function sinkWithLogs(concurrency?: number) {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const sink = new WebhookSink({
    logger: pino({ level: 'info' }, stream),
    userAgent: USER_AGENT,
    concurrency,
  });
  const lines = () => raw.map((line) => JSON.parse(line) as LogLine);
  const attempts = () => lines().filter((line) => line.msg === 'delivery attempt');
  return { sink, raw, lines, attempts };
}

interface TestEvent extends DeliveryEvent {
  outcome: Promise<'delivered' | 'failed'>;
  settledWith: 'delivered' | 'failed' | undefined;
}

let nextId = 0;

function event(url: string, options: { retry?: Partial<RetryPolicy>; key?: string; trigger?: string } = {}) {
  const id = `00000000-0000-4000-8000-${String(nextId++).padStart(12, '0')}`;
  const key = options.key ?? id;
  const seq = nextId;
  let resolve!: (outcome: 'delivered' | 'failed') => void;
  const result: TestEvent = {
    id,
    target: {
      trigger: options.trigger ?? 'orders_hook',
      url,
      headers: { Authorization: SECRET, 'X-Custom': CUSTOM },
      retry: { numRetries: 0, intervalSec: 0, timeoutSec: 5, ...options.retry },
    },
    orderingKey: key,
    op: 'INSERT',
    table: 'public.orders',
    commitLsn: 0x1_0000_00a0n,
    body: (currentRetry) => JSON.stringify({ id, key, seq, delivery_info: { current_retry: currentRetry } }),
    settle: (outcome) => {
      assert.equal(result.settledWith, undefined, 'settled twice');
      result.settledWith = outcome;
      resolve(outcome);
    },
    outcome: new Promise((r) => {
      resolve = r;
    }),
    settledWith: undefined,
  };
  return result;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

test('body and headers arrive as sent and one log line is written per attempt', async (t) => {
  const server = await receiver((_req, res) => answer(res, 200, 'ok'));
  const { sink, raw, attempts } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const ev = event(server.url);
  sink.submit(ev);
  assert.equal(sink.inFlight, 1);
  assert.equal(await ev.outcome, 'delivered');
  assert.equal(sink.inFlight, 0);

  const [req] = server.requests;
  assert.ok(req);
  assert.equal(req.body, ev.body(0));
  assert.equal(req.headers['content-type'], 'application/json');
  assert.equal(req.headers['user-agent'], USER_AGENT);
  assert.equal(req.headers.authorization, SECRET);
  assert.equal(req.headers['x-custom'], CUSTOM);

  const [line, ...more] = attempts();
  assert.equal(more.length, 0);
  assert.ok(line);
  assert.equal(line.level, 30);
  assert.deepEqual(
    {
      event_id: line.event_id,
      trigger: line.trigger,
      table: line.table,
      op: line.op,
      lsn: line.lsn,
      attempt: line.attempt,
      current_retry: line.current_retry,
      status: line.status,
      outcome: line.outcome,
      error: line.error,
    },
    {
      event_id: ev.id,
      trigger: 'orders_hook',
      table: 'public.orders',
      op: 'INSERT',
      lsn: '1/A0',
      attempt: 1,
      current_retry: 0,
      status: 200,
      outcome: 'delivered',
      error: undefined,
    },
  );
  assert.equal(typeof line.duration_ms, 'number');
  assertNoSecrets(raw);
});

test('a receiver that fails twice gets three attempts and the event is delivered', async (t) => {
  const server = await receiver((_req, res) =>
    answer(res, server.requests.length <= 2 ? 500 : 200, 'x'.repeat(100_000)),
  );
  const { sink, raw, lines, attempts } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const ev = event(server.url, { retry: { numRetries: 5, intervalSec: 0.02 } });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'delivered');

  assert.deepEqual(
    server.requests.map((req) => req.json.delivery_info.current_retry),
    [0, 1, 2],
  );
  assert.deepEqual(
    attempts().map((line) => [line.attempt, line.current_retry, line.status, line.outcome]),
    [
      [1, 0, 500, 'retry'],
      [2, 1, 500, 'retry'],
      [3, 2, 200, 'delivered'],
    ],
  );
  assert.deepEqual(attempts()[0]?.error, { type: 'http', message: 'HTTP 500' });
  assert.equal(server.connections(), 1, 'the connection was not reused');
  assert.equal(lines().filter((line) => line.level >= 50).length, 0);
  assertNoSecrets(raw);
});

test('a receiver that always fails settles failed after numRetries + 1 attempts', async (t) => {
  const server = await receiver((_req, res) => answer(res, 503, 'down for maintenance'));
  const { sink, raw, lines, attempts } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const ev = event(server.url, { retry: { numRetries: 2, intervalSec: 0 } });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'failed');
  assert.equal(server.requests.length, 3);
  assert.deepEqual(
    attempts().map((line) => line.outcome),
    ['retry', 'retry', 'failed'],
  );

  const errors = lines().filter((line) => line.level >= 50);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]?.msg, 'webhook delivery failed after 3 attempts');
  assert.equal(errors[0]?.code, 'WALHOOK_ERR_DELIVERY_FAILED');
  assert.equal(errors[0]?.trigger, 'orders_hook');
  assert.equal(errors[0]?.event_id, ev.id);
  assert.equal(errors[0]?.status, 503);
  assert.deepEqual(errors[0]?.error, { type: 'http', message: 'HTTP 503' });
  assert.equal(errors[0]?.response, 'down for maintenance');
  assertNoSecrets(raw);
});

test('a receiver that never answers trips the timeout and is retried', async (t) => {
  const server = await receiver(() => {});
  const { sink, attempts } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const ev = event(server.url, { retry: { numRetries: 1, intervalSec: 0, timeoutSec: 0.3 } });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'failed');
  assert.equal(server.requests.length, 2);
  for (const line of attempts()) {
    assert.equal(line.status, null);
    assert.equal((line.error as { type: string }).type, 'timeout');
    assert.ok((line.duration_ms as number) >= 250, `duration ${line.duration_ms}`);
  }
  assert.deepEqual(
    attempts().map((line) => line.outcome),
    ['retry', 'failed'],
  );
});

test('a refused connection is retried and logged as a connect error', async (t) => {
  const { sink, attempts } = sinkWithLogs();
  t.after(() => sink.close());

  const ev = event(`http://127.0.0.1:${await closedPort()}/hook`, {
    retry: { numRetries: 2, intervalSec: 0 },
  });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'failed');
  const lines = attempts();
  assert.equal(lines.length, 3);
  for (const line of lines) {
    assert.equal(line.status, null);
    const error = line.error as { type: string; message: string };
    assert.equal(error.type, 'connect');
    assert.match(error.message, /ECONNREFUSED/);
  }
});

test('per-key order holds under random receiver delays while different keys overlap', async (t) => {
  let active = 0;
  let maxActive = 0;
  let sameKeyOverlaps = 0;
  const activeKeys = new Set<string>();
  const server = await receiver((req, res) => {
    const key = req.json.key;
    if (activeKeys.has(key)) sameKeyOverlaps++;
    activeKeys.add(key);
    maxActive = Math.max(maxActive, ++active);
    setTimeout(
      () => {
        activeKeys.delete(key);
        active--;
        answer(res, 200);
      },
      Math.floor(Math.random() * 10),
    );
  });
  const { sink } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const events = Array.from({ length: 200 }, (_, i) => event(server.url, { key: `row-${i % 10}` }));
  for (const ev of events) sink.submit(ev);
  assert.equal(await sink.drain(10_000), true);
  assert.ok(events.every((ev) => ev.settledWith === 'delivered'));

  for (let k = 0; k < 10; k++) {
    const key = `row-${k}`;
    assert.deepEqual(
      server.requests.filter((req) => req.json.key === key).map((req) => req.json.id),
      events.filter((ev) => ev.orderingKey === key).map((ev) => ev.id),
      `order of ${key}`,
    );
  }
  assert.equal(sameKeyOverlaps, 0, 'a key had two requests in flight');
  assert.ok(maxActive > 1, 'different keys never overlapped');
});

test('two triggers do not block each other', async (t) => {
  const slow = await receiver(() => {});
  const fast = await receiver((_req, res) => answer(res, 204));
  const { sink } = sinkWithLogs(1);
  t.after(() => Promise.all([sink.close(), slow.close(), fast.close()]));

  sink.submit(event(slow.url, { trigger: 'slow', key: 'same' }));
  const ev = event(fast.url, { trigger: 'fast', key: 'same' });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'delivered');
  assert.equal(sink.inFlight, 1);
});

test('drain resolves true once settled and false when time runs out', async (t) => {
  const server = await receiver((req, res) => {
    if (req.json.key !== 'hang') answer(res, 200);
  });
  const { sink } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  assert.equal(await sink.drain(10), true);
  for (let i = 0; i < 5; i++) sink.submit(event(server.url));
  assert.equal(await sink.drain(5000), true);
  assert.equal(sink.inFlight, 0);

  const hang = event(server.url, { key: 'hang' });
  const before = event(server.url);
  sink.submit(before);
  const drainedBefore = sink.drain(5000);
  sink.submit(hang);
  assert.equal(await drainedBefore, true, 'drain waited for an event submitted after it');
  const started = Date.now();
  assert.equal(await sink.drain(100), false);
  assert.ok(Date.now() - started >= 90);
  assert.equal(sink.inFlight, 1);
});

test('close during a retry wait leaves the event unsettled and returns promptly', async (t) => {
  const server = await receiver((_req, res) => answer(res, 500));
  const { sink, attempts } = sinkWithLogs();
  t.after(() => server.close());

  const waiting = event(server.url, { retry: { numRetries: 3, intervalSec: 30 } });
  const queued = event(server.url, { key: waiting.orderingKey });
  sink.submit(waiting);
  sink.submit(queued);
  await until(() => attempts().length === 1);
  const drained = sink.drain(60_000);

  const started = Date.now();
  await sink.close();
  assert.ok(Date.now() - started < 1000, 'close waited for the retry interval');
  assert.equal(await drained, false);
  await sleep(50);
  assert.equal(waiting.settledWith, undefined);
  assert.equal(queued.settledWith, undefined);
  assert.equal(server.requests.length, 1);
  assert.equal(sink.inFlight, 2);
});

test('close aborts a request in flight without settling or logging it', async (t) => {
  const server = await receiver(() => {});
  const { sink, attempts } = sinkWithLogs();
  t.after(() => server.close());

  const ev = event(server.url, { retry: { timeoutSec: 30 } });
  sink.submit(ev);
  await until(() => server.requests.length === 1);
  const started = Date.now();
  await sink.close();
  assert.ok(Date.now() - started < 1000);
  await sleep(50);
  assert.equal(ev.settledWith, undefined);
  assert.equal(attempts().length, 0);
});

function assertNoSecrets(raw: string[]): void {
  for (const line of raw) {
    assert.ok(!line.includes(SECRET) && !line.includes('s3cr3t'), `secret in log: ${line}`);
    assert.ok(!line.includes(CUSTOM), `header value in log: ${line}`);
  }
}
