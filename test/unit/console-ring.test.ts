import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TriggerConfig } from '../../src/config/schema.js';
import type { DeliveryEvent } from '../../src/core/delivery-event.js';
import { isLoopback } from '../../src/server/console/console.js';
import { RecentDeliveries } from '../../src/server/console/recent-deliveries.js';
import { BUCKET_MS, Throughput, windowTotals } from '../../src/server/console/throughput.js';
import { invocationDetail, triggerDefinition } from '../../src/server/console/views.js';
import type { SentAttempt } from '../../src/sinks/engine-hooks.js';
import type { AttemptResult } from '../../src/sinks/plugin.js';
import type { WebhookTarget } from '../../src/sinks/webhook/target.js';

const target: WebhookTarget = {
  type: 'webhook',
  trigger: 'orders',
  url: 'https://user:pa55word@hooks.example/in?token=abcdef123&x=1',
  headers: { Authorization: 'Bearer header-secret-1234', 'X-Api-Key': 'key-value-5678', 'X-Plain': 'yes1' },
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

function event(n: number, trigger = 'orders'): DeliveryEvent<WebhookTarget> {
  return {
    id: `event-${n}`,
    target: { ...target, trigger },
    orderingKey: String(n),
    op: 'INSERT',
    table: 'public.orders',
    relation: { schema: 'public', name: 'orders' },
    commitLsn: BigInt(0x1000 + n),
    body: () => `{"n":${n}}`,
    bytes: 10,
    settle: () => {},
  };
}

function sent(outcome: SentAttempt['outcome'], options: Partial<SentAttempt> & Partial<AttemptResult> = {}) {
  const status = options.status === undefined ? (outcome === 'delivered' ? 200 : 500) : options.status;
  const result: AttemptResult = {
    status,
    durationMs: 12.345,
    responseSnippet: options.responseSnippet ?? 'ok',
    ...(outcome !== 'delivered' && { error: { type: 'http', message: `HTTP ${status}` } }),
    ...(options.responseHeaders && { responseHeaders: options.responseHeaders }),
  };
  return {
    at: options.at ?? new Date(),
    currentRetry: options.currentRetry ?? 0,
    outcome,
    body: options.body ?? '{"n":0}',
    headers: options.headers ?? { traceparent: '00-abc-def-01' },
    result,
  } satisfies SentAttempt;
}

test('the ring keeps the last `capacity` events, newest first, and finds them by id', () => {
  const ring = new RecentDeliveries(3);
  for (let n = 1; n <= 5; n++) ring.attempt([event(n)], sent('delivered'));
  assert.equal(ring.size, 3);
  const ids = ring.list({ limit: 10 }).map((i) => i.eventId);
  assert.deepEqual(ids, ['event-5', 'event-4', 'event-3']);
  assert.equal(ring.get('event-2'), undefined, 'the oldest left the ring');
  assert.equal(ring.get('event-4')?.status, 'ok');
  assert.deepEqual(
    ring.list({ limit: 2 }).map((i) => i.eventId),
    ['event-5', 'event-4'],
  );
  assert.deepEqual(
    ring.list({ eventId: 'event-3', limit: 10 }).map((i) => i.eventId),
    ['event-3'],
  );
  assert.deepEqual(ring.list({ eventId: 'event-1', limit: 10 }), []);
});

test('an event retried after another moves back to the top; status follows its last attempt', () => {
  const ring = new RecentDeliveries(10);
  ring.attempt([event(1)], sent('retry'));
  ring.attempt([event(2, 'other')], sent('delivered'));
  assert.equal(ring.get('event-1')?.status, 'pending');
  ring.attempt([event(1)], sent('failed', { currentRetry: 1 }));
  const failed = ring.get('event-1');
  assert.equal(failed?.status, 'failed');
  assert.equal(failed?.attemptCount, 2);
  assert.deepEqual(
    failed?.attempts.map((a) => [a.attempt, a.status, a.error]),
    [
      [1, 500, 'http: HTTP 500'],
      [2, 500, 'http: HTTP 500'],
    ],
  );
  assert.deepEqual(
    ring.list({ limit: 10 }).map((i) => i.eventId),
    ['event-1', 'event-2'],
    'ordered by latest attempt',
  );
  assert.deepEqual(
    ring.list({ status: 'failed', limit: 10 }).map((i) => i.eventId),
    ['event-1'],
  );
  assert.deepEqual(
    ring.list({ trigger: 'other', limit: 10 }).map((i) => i.eventId),
    ['event-2'],
  );
});

test('the list goes by when latest attempts started, not by when they were recorded', () => {
  const ring = new RecentDeliveries(10);
  const at = (ms: number) => new Date(1_700_000_000_000 + ms);
  ring.attempt([event(1)], sent('retry', { at: at(0) }));
  ring.attempt([event(2)], sent('delivered', { at: at(10) }));
  ring.attempt([event(1)], sent('delivered', { at: at(30), currentRetry: 1 }));
  // A slow attempt started before event 1's retry and ended after it.
  ring.attempt([event(3)], sent('delivered', { at: at(20) }));
  const order = ['event-1', 'event-3', 'event-2'];
  assert.deepEqual(
    ring.list({ limit: 10 }).map((i) => i.eventId),
    order,
  );
  assert.deepEqual(
    ring.list({ limit: 10 }).map((i) => i.eventId),
    order,
    'the same when read again',
  );
  assert.deepEqual(
    ring.list({ limit: 2 }).map((i) => i.eventId),
    order.slice(0, 2),
    'the limit keeps the newest',
  );
  assert.deepEqual(
    ring.get('event-1')?.attempts.map((a) => a.attempt),
    [1, 2],
  );
});

test('only the latest attempts are kept, the count of all of them too', () => {
  const MAX_ATTEMPTS_KEPT = 10;
  const ring = new RecentDeliveries(2);
  const total = MAX_ATTEMPTS_KEPT + 5;
  for (let retry = 0; retry < total; retry++)
    ring.attempt([event(1)], sent('retry', { currentRetry: retry }));
  const invocation = ring.get('event-1');
  assert.equal(invocation?.attemptCount, total);
  assert.equal(invocation?.attempts.length, MAX_ATTEMPTS_KEPT);
  assert.equal(invocation?.attempts[0]?.attempt, total - MAX_ATTEMPTS_KEPT + 1);
});

test('a batch is recorded once per event with the same request; a large body is cut, with its size', () => {
  const MAX_BODY_CHARS = 64 * 1024;
  const ring = new RecentDeliveries(10);
  const body = `{"events":[${'"x",'.repeat(MAX_BODY_CHARS / 2)}"é"]}`;
  ring.attempt([event(1), event(2)], sent('delivered', { body }));
  const [one, two] = [ring.get('event-1'), ring.get('event-2')];
  assert.equal(one?.attempts[0], two?.attempts[0], 'one kept attempt for both');
  const kept = one?.attempts[0]?.body ?? '';
  assert.ok(kept.startsWith(body.slice(0, MAX_BODY_CHARS)));
  assert.ok(kept.endsWith(`(truncated, ${Buffer.byteLength(body)} bytes)`), kept.slice(-60));
  assert.ok(kept.length < MAX_BODY_CHARS + 100);
  const small = '{"n":3}';
  ring.attempt([event(3)], sent('delivered', { body: small }));
  assert.equal(ring.get('event-3')?.attempts[0]?.body, small, 'kept as sent');
});

test('past the character budget the oldest events go, the newest stays', () => {
  const ring = new RecentDeliveries(100, 1000);
  for (let n = 1; n <= 10; n++) ring.attempt([event(n)], sent('delivered', { body: 'x'.repeat(300) }));
  const ids = ring.list({ limit: 100 }).map((i) => i.eventId);
  assert.deepEqual(ids, ['event-10', 'event-9', 'event-8']);
  ring.attempt([event(11)], sent('delivered', { body: 'y'.repeat(5000) }));
  assert.deepEqual(
    ring.list({ limit: 100 }).map((i) => i.eventId),
    ['event-11'],
  );
});

test('the detail masks configured header values, authorization, the signature and URL credentials', () => {
  const ring = new RecentDeliveries(5);
  ring.attempt(
    [event(1)],
    sent('failed', {
      headers: { traceparent: '00-t-s-01', 'webhook-id': 'event-1', 'webhook-signature': 'v1,c2lnbmF0dXJl' },
      responseSnippet: 'you sent key-value-5678 and Bearer header-secret-1234',
      responseHeaders: {
        'content-type': 'text/plain',
        'set-cookie': ['session=abc'],
        'x-echo': 'key-value-5678',
      },
    }),
  );
  const detail = invocationDetail(ring.get('event-1') as never, 'walhook/test');
  const [attempt] = detail.attempts;
  assert.equal(detail.attempt_count, 1);
  assert.equal(attempt?.request.url, 'https://hooks.example/in?token=***&x=1');
  assert.deepEqual(attempt?.request.headers, {
    authorization: '***',
    'x-api-key': '***',
    'x-plain': '***',
    'content-type': 'application/json',
    'user-agent': 'walhook/test',
    traceparent: '00-t-s-01',
    'webhook-id': 'event-1',
    'webhook-signature': '***',
  });
  assert.equal(attempt?.response.body, 'you sent *** and ***');
  assert.deepEqual(attempt?.response.headers, {
    'content-type': 'text/plain',
    'set-cookie': '***',
    'x-echo': '***',
  });
  assert.equal(attempt?.error, 'http: HTTP 500');
});

test('a trigger definition keeps its shape with secrets, header values and URL credentials masked', () => {
  const trigger = {
    name: 'orders',
    table: { schema: 'public', name: 'orders' },
    tableText: 'orders',
    operations: ['insert'],
    sink: {
      type: 'webhook',
      url: 'https://user:pw@hooks.example/in',
      headers: { Authorization: 'Bearer x-very-secret' },
      secrets: ['whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0'],
    },
    where: { new: { id: { _gt: 10n }, big: { _lt: 2n ** 70n } } },
    enable_manual: false,
    ordering: 'row',
    concurrency: 4,
  } as unknown as TriggerConfig;
  const shown = triggerDefinition(trigger);
  assert.deepEqual(shown, {
    name: 'orders',
    table: 'public.orders',
    operations: ['insert'],
    webhook: 'https://hooks.example/in',
    headers: { Authorization: '***' },
    secrets: ['***'],
    where: { new: { id: { _gt: 10 }, big: { _lt: '1180591620717411303424' } } },
    enable_manual: false,
    ordering: 'row',
    concurrency: 4,
  });
  const text = JSON.stringify(shown);
  for (const secret of ['whsec_', 'x-very-secret', 'pw@']) assert.ok(!text.includes(secret), secret);
});

test("a broker sink's definition is shown with the credentials of its URLs masked", () => {
  const trigger = {
    name: 'orders',
    table: { schema: 'public', name: 'orders' },
    tableText: 'orders',
    operations: ['insert'],
    sink: { type: 'redis', url: 'redis://walhook:s3cret-pass@cache:6379/0', fields: ['id', 'payload'] },
  } as unknown as TriggerConfig;
  assert.deepEqual(triggerDefinition(trigger), {
    name: 'orders',
    table: 'public.orders',
    operations: ['insert'],
    sink: { type: 'redis', url: 'redis://***@cache:6379/0', fields: ['id', 'payload'] },
  });
});

test('throughput buckets count what settled between readings, over the last 10 minutes', () => {
  const start = 1_000_000 * BUCKET_MS;
  const series = new Throughput(start, 7, 1);
  series.observe(start + 1000, 10, 1);
  series.observe(start + 4000, 12, 2);
  series.observe(start + BUCKET_MS * 2 + 10, 15, 2);
  const points = series.points(start + BUCKET_MS * 2 + 20);
  assert.deepEqual(points, [
    { at: new Date(start).toISOString(), delivered: 5, failed: 1 },
    { at: new Date(start + BUCKET_MS).toISOString(), delivered: 0, failed: 0 },
    { at: new Date(start + 2 * BUCKET_MS).toISOString(), delivered: 3, failed: 0 },
  ]);
  assert.deepEqual(windowTotals(points), { delivered: 8, failed: 1, failureRatio: 1 / 9 });
  assert.deepEqual(windowTotals([]), { delivered: 0, failed: 0, failureRatio: 0 });

  // Ten minutes on, the window holds 120 buckets and the old ones are gone, even where slots are reused.
  const WINDOW_BUCKETS = (10 * 60 * 1000) / BUCKET_MS;
  const later = start + BUCKET_MS * (WINDOW_BUCKETS + 2);
  series.observe(later, 16, 2);
  const window = series.points(later);
  assert.equal(window.length, WINDOW_BUCKETS);
  assert.deepEqual(windowTotals(window), { delivered: 1, failed: 0, failureRatio: 0 });
  assert.equal(window.at(-1)?.at, new Date(later).toISOString());
});

test('loopback hosts are 127.0.0.0/8, ::1 and localhost', () => {
  for (const host of [
    '127.0.0.1',
    '127.3.2.1',
    'localhost',
    'LOCALHOST',
    '::1',
    '[::1]',
    '::ffff:127.0.0.1',
  ]) {
    assert.ok(isLoopback(host), host);
  }
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1', 'localhost.example']) {
    assert.ok(!isLoopback(host), host);
  }
});
