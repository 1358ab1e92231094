import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import type { DeliveryEvent } from '../../src/core/delivery-event.js';
import { parseDuration } from '../../src/core/duration.js';
import { DropOldestBuffer } from '../../src/invocation-log/buffer.js';
import { RecordRenderer } from '../../src/invocation-log/record.js';
import { InvocationLogWriter } from '../../src/invocation-log/writer.js';
import type { SentAttempt } from '../../src/sinks/engine-hooks.js';
import type { WebhookTarget } from '../../src/sinks/webhook/target.js';
import { parseConfig } from '../helpers/config.js';

const SECRET = 'Bearer header-secret-1234';

const target: WebhookTarget = {
  type: 'webhook',
  trigger: 'orders',
  url: 'https://user:pa55word@hooks.example/in?token=abcdef123&x=1',
  headers: { Authorization: SECRET, 'X-Api-Key': 'key-value-5678', 'X-Plain': 'yes1' },
  retry: {
    numRetries: 3,
    intervalSec: 0,
    timeoutSec: 5,
    backoff: 'fixed',
    maxIntervalSec: 1,
    finalStatuses: [],
    retryAfter: 'throttling',
  },
  ordering: 'row',
  concurrency: 1,
  batch: { maxEvents: 1, maxWaitMs: 0 },
  secrets: [],
  tls: null,
};

function event(n: number): DeliveryEvent<WebhookTarget> {
  return {
    id: `event-${n}`,
    target,
    orderingKey: String(n),
    op: 'INSERT',
    table: 'public.orders',
    relation: { schema: 'public', name: 'orders' },
    commitLsn: BigInt(0x1000 + n),
    body: (retry) => `{"n":${n},"retry":${retry}}`,
    bytes: 10,
    settle: () => {},
  };
}

function sent(
  responseSnippet = 'ok',
  headers: Record<string, string> = { traceparent: '00-a-b-01' },
): SentAttempt {
  return {
    at: new Date('2026-03-01T10:00:00Z'),
    currentRetry: 2,
    outcome: 'retry',
    body: '{"n":1,"retry":2}',
    headers,
    result: { status: 503, durationMs: 4.5, responseSnippet, error: { type: 'http', message: 'HTTP 503' } },
  };
}

const config = (log: string) => `
source: { connection: postgres://localhost/db }
triggers: [{ name: t, table: public.t, operations: [insert], webhook: http://localhost/ }]
${log}`;

test('invocation_log: off when absent; retention in d, h or m; errors name the key', () => {
  assert.equal(parseConfig(config(''), 'x.yaml').invocation_log, undefined);
  assert.deepEqual(parseConfig(config('invocation_log: {}'), 'x.yaml').invocation_log, {
    table: 'walhook.invocation_log',
    retention: 7 * 86_400_000,
    max_response_bytes: 4096,
  });
  const set = parseConfig(
    config('invocation_log: { table: audit.calls, retention: 12h, max_response_bytes: 100 }'),
    'x.yaml',
  ).invocation_log;
  assert.deepEqual(set, { table: 'audit.calls', retention: 12 * 3_600_000, max_response_bytes: 100 });
  assert.equal(parseDuration('30m'), 1_800_000);
  for (const bad of ['7', '7 days', '1.5h', '-1d', '7s', '']) assert.equal(parseDuration(bad), null, bad);
  for (const [yaml, key] of [
    ['invocation_log: { retention: 7days }', /invocation_log\.retention.*7d, 12h or 30m/],
    ['invocation_log: { retention: 0d }', /invocation_log\.retention/],
    ['invocation_log: { table: Calls }', /invocation_log\.table.*schema\.table/],
    ['invocation_log: { max_response_bytes: 10000 }', /invocation_log\.max_response_bytes/],
    ['invocation_log: { size: 1 }', /invocation_log.*unknown key/],
  ] as const) {
    assert.throws(
      () => parseConfig(config(yaml), 'x.yaml'),
      (err: Error) => key.test(err.message) && !err.message.trim().includes('\n'),
      yaml,
    );
  }
});

test('the buffer drops its oldest items past its count or weight, and takes the oldest first', () => {
  const dropped: number[] = [];
  const buffer = new DropOldestBuffer<number>(
    3,
    100,
    (n) => n,
    (n) => dropped.push(n),
  );
  for (const n of [1, 2, 3, 4]) buffer.push(n);
  assert.deepEqual(dropped, [1]);
  assert.deepEqual(buffer.take(2), [2, 3]);
  buffer.putBack([2, 3]);
  assert.deepEqual(dropped, [1]);
  buffer.push(5);
  assert.deepEqual(dropped, [1, 2], 'put back in front, so the oldest again');
  buffer.push(95);
  assert.deepEqual(dropped, [1, 2, 3, 4], 'past the weight, the oldest go until it fits');
  assert.equal(buffer.weight, 100);
  assert.deepEqual(buffer.take(10), [5, 95]);
  buffer.push(500);
  assert.deepEqual(buffer.take(10), [500], 'one item heavier than the limit is still kept');
  for (let n = 0; n < 5000; n++) buffer.push(0);
  assert.equal(buffer.length, 3);
});

test('records carry the request with credentials masked and the response start, masked then cut', () => {
  const renderer = new RecordRenderer('walhook/test', 40);
  const echo = `you sent ${SECRET} and header-secret-1234 ${'x'.repeat(100)}`;
  const [record] = renderer.records({
    events: [event(1)],
    sent: sent(`${echo}\u0000`, { traceparent: '00-a-b-01', 'webhook-signature': 'v1,abc' }),
  });
  assert.ok(record);
  assert.equal(record.requestUrl, 'https://hooks.example/in?token=***&x=1');
  assert.equal(record.requestMethod, 'POST');
  const headers = JSON.parse(record.requestHeaders);
  assert.equal(headers.authorization, '***');
  assert.equal(headers['x-api-key'], '***');
  assert.equal(headers['x-plain'], '***', 'every configured header is masked');
  assert.equal(headers['webhook-signature'], '***');
  assert.equal(headers.traceparent, '00-a-b-01');
  assert.equal(headers['user-agent'], 'walhook/test');
  assert.ok(!record.responseBody.includes('header-secret'), record.responseBody);
  assert.ok(Buffer.byteLength(record.responseBody) <= 40);
  assert.equal(record.requestBody, '{"n":1,"retry":2}');
  assert.equal(record.eventBody, '', 'the request was the event: its body is kept once');
  assert.deepEqual(
    [record.attempt, record.status, record.outcome, record.errorType, record.lsn, record.tableName],
    [3, 503, 'retry', 'http', '0/1001', 'orders'],
  );

  const batch = renderer.records({ events: [event(1), event(2)], sent: sent('') });
  assert.deepEqual(
    batch.map((r) => [r.eventId, r.batchSize, r.requestBody, r.eventBody]),
    [
      ['event-1', 2, '{"n":1,"retry":2}', ''],
      ['event-2', 2, '{"n":2,"retry":2}', ''],
    ],
    'each event of a batch keeps its own body',
  );

  // A request transform's request (already shown: masked by the plugin) replaces the target's.
  const sentAs = { method: 'PUT', url: 'https://hooks.example/put/1', headers: { 'x-added': '***' } };
  const [transformed] = renderer.records({
    events: [event(1)],
    sent: { ...sent(''), sentAs, body: 'n=1', letterBody: '{"n":1,"retry":2}' },
  });
  assert.equal(transformed?.requestBody, 'n=1');
  assert.equal(transformed?.eventBody, '{"n":1,"retry":2}', 'the event before its transform');
  assert.equal(transformed?.requestUrl, 'https://hooks.example/put/1');
  assert.equal(transformed?.requestMethod, 'PUT');
  assert.deepEqual(JSON.parse(transformed?.requestHeaders ?? '{}'), {
    'x-added': '***',
    traceparent: '00-a-b-01',
  });

  // A batch of one is sent in its envelope: the event's own body is kept apart.
  const batching = { ...target, batch: { maxEvents: 10, maxWaitMs: 5 } };
  const [alone] = renderer.records({
    events: [{ ...event(3), target: batching }],
    sent: { ...sent(''), body: '{"events":[{"n":3,"retry":2}]}' },
  });
  assert.equal(alone?.eventBody, '{"n":3,"retry":2}');
});

test('a writer whose database is away never holds up attempts: it keeps the newest and counts the rest', async () => {
  // A real pool to a port nothing listens on: every write fails to connect.
  const pool = new pg.Pool({ connectionString: 'postgres://walhook@127.0.0.1:1/none', max: 1 });
  const counts = { written: 0, dropped: 0, failed: 0 };
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line).msg) });
  const writer = new InvocationLogWriter({
    pool,
    table: 'walhook.invocation_log',
    renderer: new RecordRenderer('walhook/test', 4096),
    counters: {
      written: (n) => (counts.written += n),
      dropped: (n) => (counts.dropped += n),
      writeFailed: () => counts.failed++,
    },
    logger,
    limits: { flushMs: 10, batchRecords: 5, maxPending: 20 },
  });
  writer.start();
  const started = performance.now();
  for (let n = 0; n < 1000; n++) writer.attempt([event(n)], sent());
  assert.ok(performance.now() - started < 500, 'recording 1000 attempts does not wait for the database');
  assert.ok(writer.pending <= 20);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await writer.close(100);
  await pool.end();
  assert.ok(counts.failed >= 1, 'the failed writes are counted');
  assert.equal(counts.written, 0);
  assert.equal(counts.dropped, 1000, 'every record is accounted for as dropped');
  assert.equal(
    lines.filter((l) => l.startsWith('cannot write to the invocation log')).length,
    1,
    lines.join('\n'),
  );
  assert.equal(lines.filter((l) => l.startsWith('invocation log buffer full')).length, 1, lines.join('\n'));
});
