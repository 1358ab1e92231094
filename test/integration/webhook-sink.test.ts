import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  answer,
  CUSTOM,
  closedPort,
  event,
  receiver,
  SECRET,
  sinkWithLogs,
  type TestEvent,
  USER_AGENT,
  until,
} from '../helpers/sink-harness.js';

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
  assert.equal(line.level, 20, 'a delivered attempt is logged at debug');
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
  const { sink, raw, lines, attempts, attemptInfos, deadLetters } = sinkWithLogs();
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
  assert.deepEqual(
    attempts().map((line) => line.level),
    [40, 40, 20],
    'failed attempts at warn, the delivered one at debug',
  );
  assert.deepEqual(
    attemptInfos.map((info) => [info.trigger, info.outcome, info.status, info.errorType]),
    [
      ['orders_hook', 'retry', 500, 'http'],
      ['orders_hook', 'retry', 500, 'http'],
      ['orders_hook', 'delivered', 200, null],
    ],
  );
  assert.ok(attemptInfos.every((info) => typeof info.durationMs === 'number' && info.durationMs >= 0));
  assert.equal(deadLetters.length, 0);
  assert.equal(server.connections(), 1, 'the connection was not reused');
  assert.equal(lines().filter((line) => line.level >= 50).length, 0);
  assertNoSecrets(raw);
});

test('a receiver that always fails settles failed after numRetries + 1 attempts', async (t) => {
  const server = await receiver((_req, res) => answer(res, 503, 'down for maintenance'));
  const { sink, raw, lines, attempts, deadLetters } = sinkWithLogs();
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
  assert.equal(errors[0]?.final_status, false);

  const [dead, ...moreDead] = deadLetters;
  assert.equal(moreDead.length, 0);
  assert.ok(dead);
  assert.equal(dead.event, ev);
  assert.equal(dead.settledBefore, false);
  assert.equal(dead.failure.attempts, 3);
  assert.equal(dead.failure.lastStatus, 503);
  assert.deepEqual(dead.failure.lastError, { type: 'http', message: 'HTTP 503' });
  assert.equal(dead.failure.responseSnippet, 'down for maintenance');
  assert.equal(dead.failure.body, ev.body(2));
  assert.ok(dead.failure.firstAttemptAt <= dead.failure.lastAttemptAt);
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
  const { sink } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), slow.close(), fast.close()]));

  sink.submit(event(slow.url, { trigger: 'slow', key: 'same', concurrency: 1 }));
  const ev = event(fast.url, { trigger: 'fast', key: 'same', concurrency: 1 });
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

test('Retry-After on a 429 replaces a much shorter backoff', async (t) => {
  const server = await receiver((_req, res) => {
    if (server.requests.length === 1) res.writeHead(429, { 'retry-after': '1' }).end('slow down');
    else answer(res, 200);
  });
  const { sink, attempts } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const ev = event(server.url, { retry: { numRetries: 3, intervalSec: 0.01, backoff: 'exponential' } });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'delivered');
  const [first, second] = server.requests;
  assert.ok(first && second);
  assert.ok(second.at - first.at >= 950, `retried after ${second.at - first.at} ms`);
  assert.equal(attempts()[0]?.retry_in_ms, 1000);
  assert.equal(attempts()[1]?.retry_in_ms, undefined);
});

test('Retry-After is capped by maxIntervalSec', async (t) => {
  const server = await receiver((_req, res) => {
    if (server.requests.length === 1) res.writeHead(503, { 'retry-after': '120' }).end();
    else answer(res, 200);
  });
  const { sink, attempts } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const ev = event(server.url, {
    retry: { numRetries: 1, intervalSec: 0.01, backoff: 'exponential', maxIntervalSec: 0.2 },
  });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'delivered');
  const [first, second] = server.requests;
  assert.ok(first && second);
  const gap = second.at - first.at;
  assert.ok(gap >= 150 && gap < 1000, `retried after ${gap} ms`);
  assert.equal(attempts()[0]?.retry_in_ms, 200);
});

test('a final status fails at once and settles only after the dead letter is stored', async (t) => {
  const gone = `gone for good ${'x'.repeat(10_000)}`;
  const server = await receiver((_req, res) => answer(res, 410, gone));
  let storedAt = 0;
  const { sink, lines, deadLetters, attemptInfos } = sinkWithLogs({
    deadLetter: async (stored) => {
      await sleep(50);
      assert.equal((stored as TestEvent).settledWith, undefined, 'settled before its dead letter was stored');
      storedAt = performance.now();
    },
  });
  t.after(() => Promise.all([sink.close(), server.close()]));

  const ev = event(server.url, { retry: { numRetries: 5, intervalSec: 0.01, finalStatuses: [410] } });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'failed');
  assert.ok(storedAt > 0);
  assert.equal(server.requests.length, 1);
  assert.deepEqual(
    attemptInfos.map((info) => [info.outcome, info.status, info.errorType]),
    [['failed', 410, 'http']],
  );

  const [dead, ...moreDead] = deadLetters;
  assert.equal(moreDead.length, 0);
  assert.ok(dead);
  assert.equal(dead.settledBefore, false);
  const { failure } = dead;
  assert.equal(failure.attempts, 1);
  assert.equal(failure.lastStatus, 410);
  assert.deepEqual(failure.lastError, { type: 'http', message: 'HTTP 410' });
  assert.equal(failure.responseSnippet, gone.slice(0, 4096));
  assert.equal(failure.body, ev.body(0));
  assert.ok(failure.firstAttemptAt instanceof Date);
  assert.equal(failure.lastAttemptAt, failure.firstAttemptAt);

  const errors = lines().filter((line) => line.level >= 50);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]?.msg, 'webhook delivery failed after 1 attempt');
  assert.equal(errors[0]?.final_status, true);
});

test('a dead-letter store that rejects is retried and the event settles after the first success', async (t) => {
  const server = await receiver((_req, res) => answer(res, 500));
  let calls = 0;
  const { sink, lines, deadLetters } = sinkWithLogs({
    deadLetter: async () => {
      if (++calls <= 2) throw new Error('dead-letter store is down');
    },
  });
  t.after(() => Promise.all([sink.close(), server.close()]));

  const ev = event(server.url);
  sink.submit(ev);
  assert.equal(await ev.outcome, 'failed');
  assert.equal(calls, 3);
  assert.deepEqual(
    deadLetters.map((call) => call.settledBefore),
    [false, false, false],
  );
  assert.equal(server.requests.length, 1, 'the webhook was called again');
  const storeErrors = lines().filter((line) => line.msg.startsWith('cannot store'));
  assert.equal(storeErrors.length, 2);
  for (const line of storeErrors) {
    assert.equal(line.level, 50);
    assert.equal(line.event_id, ev.id);
    assert.equal(typeof line.retry_in_ms, 'number');
  }
  assert.equal(sink.inFlight, 0);
});

test('close while the dead-letter store keeps failing leaves the event unsettled', async (t) => {
  const server = await receiver((_req, res) => answer(res, 500));
  const { sink, deadLetters } = sinkWithLogs({ deadLetter: () => Promise.reject(new Error('down')) });
  t.after(() => server.close());

  const ev = event(server.url);
  sink.submit(ev);
  await until(() => deadLetters.length >= 1);
  const started = Date.now();
  await sink.close();
  assert.ok(Date.now() - started < 1000);
  await sleep(50);
  assert.equal(ev.settledWith, undefined);
  assert.equal(sink.inFlight, 1);
});

test('trigger ordering sends one request at a time for the whole trigger, in submission order', async (t) => {
  let active = 0;
  let maxActive = 0;
  const server = await receiver((req, res) => {
    maxActive = Math.max(maxActive, ++active);
    const failOnce = req.json.seq % 7 === 0 && req.json.delivery_info.current_retry === 0;
    setTimeout(
      () => {
        active--;
        answer(res, failOnce ? 500 : 200);
      },
      Math.floor(Math.random() * 4),
    );
  });
  const { sink } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const events = Array.from({ length: 30 }, (_, i) =>
    event(server.url, {
      key: `row-${i}`,
      ordering: 'trigger',
      retry: { numRetries: 2, intervalSec: 0.005 },
    }),
  );
  for (const ev of events) sink.submit(ev);
  assert.equal(await sink.drain(10_000), true);
  assert.ok(events.every((ev) => ev.settledWith === 'delivered'));
  assert.equal(maxActive, 1, 'two requests of one trigger overlapped');
  const ids = server.requests.map((req) => req.json.id);
  assert.ok(ids.length > events.length, 'no event was retried');
  assert.deepEqual(
    ids.filter((id, i) => id !== ids[i - 1]),
    events.map((ev) => ev.id),
    'an event was sent before an earlier one was settled',
  );
});

test('no ordering overlaps requests of the same key up to the concurrency cap', async (t) => {
  let active = 0;
  let maxActive = 0;
  const server = await receiver((_req, res) => {
    maxActive = Math.max(maxActive, ++active);
    setTimeout(() => {
      active--;
      answer(res, 200);
    }, 50);
  });
  const { sink } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const events = Array.from({ length: 12 }, () =>
    event(server.url, { key: 'same', ordering: 'none', concurrency: 4 }),
  );
  for (const ev of events) sink.submit(ev);
  assert.equal(await sink.drain(5000), true);
  assert.ok(events.every((ev) => ev.settledWith === 'delivered'));
  assert.equal(maxActive, 4);
});

test('row ordering: a row waiting to retry blocks only itself and gives its slot to other rows', async (t) => {
  const server = await receiver((req, res) => answer(res, req.json.key === 'stuck' ? 500 : 200));
  const { sink } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const options = { concurrency: 1, retry: { numRetries: 1000, intervalSec: 0.01 } };
  const stuck = event(server.url, { ...options, key: 'stuck' });
  const behind = event(server.url, { ...options, key: 'stuck' });
  sink.submit(stuck);
  sink.submit(behind);
  const others = Array.from({ length: 50 }, (_, i) => event(server.url, { ...options, key: `row-${i}` }));
  for (const ev of others) sink.submit(ev);

  // With the retry wait holding the only slot this would take 1000 × 10 ms.
  await until(() => others.every((ev) => ev.settledWith === 'delivered'), 3000);
  assert.equal(stuck.settledWith, undefined);
  assert.equal(behind.settledWith, undefined);
  assert.ok(server.requests.filter((req) => req.json.id === stuck.id).length >= 2);
  assert.equal(
    server.requests.filter((req) => req.json.id === behind.id).length,
    0,
    'the row overtook itself',
  );
  assert.equal(sink.inFlight, 2);
});

test('a connection reset is retried', async (t) => {
  const server = await receiver((_req, res) => {
    if (server.requests.length === 1) res.socket?.destroy();
    else answer(res, 200);
  });
  const { sink, attempts, attemptInfos } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const ev = event(server.url, { retry: { numRetries: 2, intervalSec: 0.01 } });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'delivered');
  assert.equal(server.requests.length, 2);
  const [reset] = attempts();
  assert.ok(reset);
  assert.equal(reset.status, null);
  assert.equal(reset.outcome, 'retry');
  assert.equal((reset.error as { type: string }).type, 'network');
  assert.deepEqual(
    attemptInfos.map((info) => info.errorType),
    ['network', null],
  );
});

test('a redirect is not followed: it is a non-2xx answer and is retried', async (t) => {
  const elsewhere = await receiver((_req, res) => answer(res, 200));
  const server = await receiver((_req, res) => {
    if (server.requests.length === 1) res.writeHead(302, { location: elsewhere.url }).end();
    else answer(res, 200);
  });
  const { sink, attempts } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close(), elsewhere.close()]));

  const ev = event(server.url, { retry: { numRetries: 1, intervalSec: 0.01 } });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'delivered');
  assert.equal(elsewhere.requests.length, 0, 'the redirect was followed');
  assert.equal(server.requests.length, 2);
  assert.deepEqual(
    attempts().map((line) => [line.status, line.outcome, line.error]),
    [
      [302, 'retry', { type: 'http', message: 'HTTP 302' }],
      [200, 'delivered', undefined],
    ],
  );
});

/** Writes `chunk` every `everyMs` until the client goes away. */
function stream(res: ServerResponse, status: number, chunk: string, everyMs: number): void {
  res.writeHead(status, { 'content-type': 'text/plain' });
  const timer = setInterval(() => res.write(chunk), everyMs);
  res.on('close', () => clearInterval(timer));
}

test('an endless fast body is cut off by the size cap and the next event of the row follows', async (t) => {
  let first = '';
  const server = await receiver((req, res) => {
    first ||= req.json.id;
    if (req.json.id === first) stream(res, 200, 'y'.repeat(64 * 1024), 1);
    else answer(res, 200);
  });
  const { sink } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const endless = event(server.url, { key: 'row', retry: { timeoutSec: 30 } });
  const next = event(server.url, { key: 'row' });
  const started = performance.now();
  sink.submit(endless);
  sink.submit(next);
  assert.equal(await endless.outcome, 'delivered');
  assert.equal(await next.outcome, 'delivered');
  assert.ok(performance.now() - started < 5000);
});

test('an endless slow body is cut off by the timeout and the sink moves on', async (t) => {
  let first = '';
  const server = await receiver((req, res) => {
    first ||= req.json.id;
    if (req.json.id === first) stream(res, 500, 'z', 20);
    else answer(res, 200);
  });
  const { sink, attempts, deadLetters } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const trickle = event(server.url, {
    key: 'row',
    retry: { numRetries: 1, intervalSec: 0.01, timeoutSec: 0.3 },
  });
  const next = event(server.url, { key: 'row' });
  sink.submit(trickle);
  sink.submit(next);
  assert.equal(await trickle.outcome, 'failed');
  assert.equal(await next.outcome, 'delivered');
  for (const line of attempts().slice(0, 2)) {
    assert.equal(line.status, 500);
    assert.ok((line.duration_ms as number) >= 250, `duration ${line.duration_ms}`);
    assert.ok((line.duration_ms as number) < 2000, `duration ${line.duration_ms}`);
  }
  assert.match(deadLetters[0]?.failure.responseSnippet ?? '', /^z+$/);
});

test('inFlightBytes counts the bytes of unsettled events and returns to 0', async (t) => {
  const held: ServerResponse[] = [];
  const server = await receiver((req, res) => {
    if (req.json.key === 'final') answer(res, 410);
    else held.push(res);
  });
  const { sink, deadLetters } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  assert.equal(sink.inFlightBytes, 0);
  const events = [
    event(server.url, { bytes: 100 }),
    event(server.url, { bytes: 250 }),
    event(server.url, { bytes: 4000, key: 'final', retry: { finalStatuses: ['4xx'] } }),
  ];
  for (const ev of events) sink.submit(ev);
  assert.equal(sink.inFlightBytes, 4350);
  assert.equal(await events[2]?.outcome, 'failed');
  assert.equal(deadLetters.length, 1);
  assert.equal(sink.inFlightBytes, 350);
  await until(() => held.length === 2);
  for (const res of held) answer(res, 200);
  assert.equal(await sink.drain(5000), true);
  assert.equal(sink.inFlightBytes, 0);
  assert.equal(sink.inFlight, 0);
});

function assertNoSecrets(raw: string[]): void {
  for (const line of raw) {
    assert.ok(!line.includes(SECRET) && !line.includes('s3cr3t'), `secret in log: ${line}`);
    assert.ok(!line.includes(CUSTOM), `header value in log: ${line}`);
  }
}

test('each attempt sends a traceparent of the event trace, its own span, named by its log line', async (t) => {
  const server = await receiver((_req, res) => answer(res, server.requests.length === 1 ? 500 : 200));
  const { sink, attempts } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const ev = event(server.url, { retry: { numRetries: 1, intervalSec: 0 } });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'delivered');
  const traceId = ev.id.replaceAll('-', '');
  const sent = server.requests.map((req) => String(req.headers.traceparent));
  for (const header of sent) assert.match(header, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  assert.notEqual(sent[0], sent[1], 'each attempt is its own span');
  assert.deepEqual(
    attempts().map((line) => `00-${line.trace_id}-${line.span_id}-01`),
    sent,
    'the log line of each attempt names the span its request carried',
  );
});

test('a failed attempt logs a short single-line excerpt of the response without header values', async (t) => {
  // An echoing receiver sends the credentials back; they must not reach the log through the excerpt.
  const server = await receiver((req, res) =>
    answer(res, 500, `error\n  echo: ${JSON.stringify(req.headers)}\n${'detail '.repeat(100)}`),
  );
  const { sink, raw, attempts, lines } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const ev = event(server.url);
  sink.submit(ev);
  assert.equal(await ev.outcome, 'failed');
  const [line] = attempts();
  const excerpt = line?.response as string;
  assert.ok(excerpt.startsWith('error echo: {'), excerpt);
  assert.ok(excerpt.length <= 200, `${excerpt.length} characters`);
  assert.ok(!/[\r\n]/.test(excerpt));
  assert.match(excerpt, /"authorization":"\*\*\*"/);
  const failure = lines().find((l) => l.code === 'WALHOOK_ERR_DELIVERY_FAILED');
  assert.equal(failure?.response, excerpt);
  assert.equal(failure?.trace_id, ev.id.replaceAll('-', ''));
  assertNoSecrets(raw);
});

test('an attempt refused with 401 or 403 is logged at error level', async (t) => {
  const server = await receiver((_req, res) => answer(res, server.requests.length === 1 ? 401 : 403));
  const { sink, attempts } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const ev = event(server.url, { retry: { numRetries: 1, intervalSec: 0 } });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'failed');
  assert.deepEqual(
    attempts().map((line) => [line.status, line.outcome, line.level]),
    [
      [401, 'retry', 50],
      [403, 'failed', 50],
    ],
  );
});
