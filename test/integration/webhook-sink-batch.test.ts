import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../helpers/random.js';
import { answer, event, type Received, receiver, sinkWithLogs, until } from '../helpers/sink-harness.js';

type BatchedEvent = Received['json'];

function eventsOf(req: Received): BatchedEvent[] {
  const events = (JSON.parse(req.body) as { events: BatchedEvent[] }).events;
  assert.ok(Array.isArray(events), 'a batch body is {"events": [...]}');
  return events;
}

test('events leave in batches of max_events, each event as its own body, in order', async (t) => {
  const server = await receiver((_req, res) => answer(res, 200));
  const { sink } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const batch = { maxEvents: 100, maxWaitMs: 20 };
  const events = Array.from({ length: 250 }, () => event(server.url, { ordering: 'trigger', batch }));
  for (const ev of events) sink.submit(ev);
  assert.equal(await sink.drain(10_000), true);

  assert.deepEqual(
    server.requests.map((req) => eventsOf(req).length),
    [100, 100, 50],
  );
  const received = server.requests.flatMap(eventsOf);
  assert.deepEqual(
    received,
    events.map((ev) => JSON.parse(ev.body(0))),
  );
  assert.ok(events.every((ev) => ev.settledWith === 'delivered'));
  assert.equal(sink.inFlight, 0);
  assert.equal(sink.inFlightBytes, 0);
});

test('a lone event leaves after max_wait_ms in a batch of one', async (t) => {
  const server = await receiver((_req, res) => answer(res, 200));
  const { sink } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const started = performance.now();
  const ev = event(server.url, { batch: { maxEvents: 100, maxWaitMs: 150 } });
  sink.submit(ev);
  assert.equal(await ev.outcome, 'delivered');
  assert.ok(performance.now() - started >= 140, 'left before max_wait_ms');
  assert.equal(server.requests.length, 1);
  assert.deepEqual(eventsOf(server.requests[0] as Received), [JSON.parse(ev.body(0))]);
});

test('row ordering: batches run in parallel, yet a row never has two batches out and keeps its order', async (t) => {
  const random = seededRandom(6);
  let active = 0;
  let maxActive = 0;
  let rowOverlaps = 0;
  const activeRows = new Map<string, number>();
  const server = await receiver((req, res) => {
    const rows = new Set(eventsOf(req).map((ev) => ev.key));
    for (const row of rows) {
      if (activeRows.has(row)) rowOverlaps++;
      activeRows.set(row, (activeRows.get(row) ?? 0) + 1);
    }
    maxActive = Math.max(maxActive, ++active);
    setTimeout(
      () => {
        for (const row of rows) activeRows.delete(row);
        active--;
        answer(res, 200);
      },
      Math.floor(random() * 15),
    );
  });
  const { sink } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const batch = { maxEvents: 7, maxWaitMs: 5 };
  const events = Array.from({ length: 600 }, (_, i) =>
    event(server.url, { key: `row-${i % 40}`, concurrency: 8, batch }),
  );
  for (const ev of events) sink.submit(ev);
  assert.equal(await sink.drain(20_000), true);

  const received = server.requests.flatMap(eventsOf);
  assert.equal(received.length, events.length);
  for (let k = 0; k < 40; k++) {
    const key = `row-${k}`;
    assert.deepEqual(
      received.filter((ev) => ev.key === key).map((ev) => ev.id),
      events.filter((ev) => ev.orderingKey === key).map((ev) => ev.id),
      `order of ${key}`,
    );
  }
  assert.equal(rowOverlaps, 0, 'a row was in two batches in flight at once');
  assert.ok(maxActive > 1, 'batches never ran in parallel');
  assert.ok(maxActive <= 8, `more than the concurrency cap in flight: ${maxActive}`);
});

test('a failing batch is retried whole and each event then becomes its own dead letter', async (t) => {
  const server = await receiver((_req, res) => answer(res, 503, 'down'));
  const { sink, deadLetters, attemptInfos, lines } = sinkWithLogs();
  t.after(() => Promise.all([sink.close(), server.close()]));

  const batch = { maxEvents: 3, maxWaitMs: 10 };
  const retry = { numRetries: 2, intervalSec: 0.01 };
  const events = Array.from({ length: 3 }, () => event(server.url, { ordering: 'none', batch, retry }));
  for (const ev of events) sink.submit(ev);
  await until(() => events.every((ev) => ev.settledWith !== undefined));

  assert.ok(events.every((ev) => ev.settledWith === 'failed'));
  assert.deepEqual(
    server.requests.map((req) => eventsOf(req).map((ev) => ev.delivery_info.current_retry)),
    [
      [0, 0, 0],
      [1, 1, 1],
      [2, 2, 2],
    ],
  );
  assert.deepEqual(
    attemptInfos.map((info) => info.outcome),
    ['retry', 'retry', 'failed'],
  );
  assert.deepEqual(
    deadLetters.map(({ event: ev, failure }) => [ev.id, failure.attempts, JSON.parse(failure.body)]),
    events.map((ev) => [ev.id, 3, { events: [JSON.parse(ev.body(2))] }]),
  );
  const failure = lines().find((line) => line.msg === 'webhook delivery failed after 3 attempts');
  assert.equal(failure?.events, 3);
  assert.equal(failure?.event_id, events[0]?.id);
});

test('close drops the batches still gathering without settling them', async (t) => {
  const server = await receiver((_req, res) => answer(res, 200));
  const { sink } = sinkWithLogs();
  t.after(() => server.close());

  const ev = event(server.url, { batch: { maxEvents: 10, maxWaitMs: 60_000 } });
  sink.submit(ev);
  await sink.close();
  assert.equal(ev.settledWith, undefined);
  assert.equal(server.requests.length, 0);
});
