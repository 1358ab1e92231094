import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { z } from 'zod';
import type {
  AttemptInfo,
  DeliveryEvent,
  DeliveryTarget,
  OrderingMode,
  RetryPolicy,
} from '../../src/core/delivery-event.js';
import { DeliveryEngine } from '../../src/sinks/engine.js';
import type { FinalFailure, SentAttempt } from '../../src/sinks/engine-hooks.js';
import type { AttemptResult, Request, SinkPlugin } from '../../src/sinks/plugin.js';
import { DEFAULT_RETRY } from '../../src/sinks/retry-policy.js';
import { seededRandom } from '../helpers/random.js';

/** A request of the in-memory sink: the events it carries and the attempt it is. */
interface MemoryRequest extends Request {
  events: TestEvent[];
  currentRetry: number;
}

type Answer = (request: MemoryRequest) => AttemptResult | Promise<AttemptResult>;

const OK: AttemptResult = { status: 200, durationMs: 1, responseSnippet: '' };
const DOWN: AttemptResult = {
  status: 503,
  durationMs: 1,
  responseSnippet: 'down; echo s3cret-value',
  error: { type: 'http', message: 'HTTP 503' },
};
const GONE: AttemptResult = {
  ...DOWN,
  status: 410,
  error: { type: 'http', message: 'HTTP 410' },
  final: true,
};

/** A sink that keeps its requests in memory and answers each as `answer` says. */
function memorySink(answer: Answer, options: { waitHoldsSlot?: boolean } = {}) {
  const sent: MemoryRequest[] = [];
  const state = { sending: 0, maxSending: 0, closed: false };
  const plugin: SinkPlugin<DeliveryTarget, { type: 'memory' }> = {
    type: 'memory',
    settings: z.strictObject({ type: z.literal('memory') }),
    target: (trigger) => ({ type: 'memory', trigger: trigger.name, ...trigger, retry: DEFAULT_RETRY }),
    waitHoldsSlot: options.waitHoldsSlot ?? false,
    failureLog: 'each',
    secrets: () => ['s3cret-value'],
    open: () => ({
      request: (deliveries, currentRetry) => ({
        body: deliveries.map((d) => d.event.body(currentRetry)).join('\n'),
        events: deliveries.map((d) => d.event as TestEvent),
        currentRetry,
      }),
      send: async (request) => {
        const memory = request as MemoryRequest;
        sent.push(memory);
        state.maxSending = Math.max(state.maxSending, ++state.sending);
        try {
          return await answer(memory);
        } finally {
          state.sending--;
        }
      },
      close: async () => {
        state.closed = true;
      },
    }),
    probe: async () => ({ level: 'ok', message: 'in memory' }),
    probeKey: () => 'memory',
  };
  return { plugin, sent, state };
}

interface Harness {
  engine: DeliveryEngine;
  attempts: AttemptInfo[];
  recorded: SentAttempt[];
  deadLetters: { event: TestEvent; failure: FinalFailure; settledBefore: boolean }[];
}

function engineFor(
  plugin: SinkPlugin<DeliveryTarget, { type: 'memory' }>,
  deadLetter: () => Promise<void> = async () => {},
): Harness {
  const harness: Harness = {
    engine: undefined as unknown as DeliveryEngine,
    attempts: [],
    recorded: [],
    deadLetters: [],
  };
  harness.engine = new DeliveryEngine({
    logger: pino({ level: 'silent' }),
    userAgent: 'walhook-test/1.0',
    deadLetter: (event, failure) => {
      const ev = event as TestEvent;
      harness.deadLetters.push({ event: ev, failure, settledBefore: ev.settledWith !== undefined });
      return deadLetter();
    },
    onAttempt: (info) => harness.attempts.push(info),
    recorder: { attempt: (_events, attempt) => harness.recorded.push(attempt) },
    plugin: () => plugin as SinkPlugin,
  });
  return harness;
}

interface TestEvent extends DeliveryEvent {
  key: string;
  outcome: Promise<'delivered' | 'failed'>;
  settledWith: 'delivered' | 'failed' | undefined;
}

interface TargetOptions {
  trigger?: string;
  ordering?: OrderingMode;
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  batch?: { maxEvents: number; maxWaitMs: number };
}

function target(options: TargetOptions = {}): DeliveryTarget {
  return {
    type: 'memory',
    trigger: options.trigger ?? 'orders',
    ordering: options.ordering ?? 'row',
    concurrency: options.concurrency ?? 64,
    retry: { ...DEFAULT_RETRY, intervalSec: 0, backoff: 'fixed', ...options.retry },
    ...(options.batch && { batch: options.batch }),
  };
}

let nextId = 0;

function event(to: DeliveryTarget, key: string, bytes = 100): TestEvent {
  const id = `00000000-0000-4000-8000-${String(nextId++).padStart(12, '0')}`;
  let resolve!: (outcome: 'delivered' | 'failed') => void;
  const ev: TestEvent = {
    id,
    key,
    target: to,
    orderingKey: key,
    op: 'INSERT',
    table: 'public.orders',
    relation: { schema: 'public', name: 'orders' },
    commitLsn: 0x10n,
    body: (currentRetry) => JSON.stringify({ id, currentRetry }),
    bytes,
    settle: (outcome) => {
      assert.equal(ev.settledWith, undefined, `${id} settled twice`);
      ev.settledWith = outcome;
      resolve(outcome);
    },
    outcome: new Promise((r) => {
      resolve = r;
    }),
    settledWith: undefined,
  };
  return ev;
}

test('row ordering: under retries each row is sent in order and alone, rows overlap up to the cap', async () => {
  const random = seededRandom(11);
  const sendingRows = new Set<string>();
  const delivered: TestEvent[] = [];
  let rowOverlaps = 0;
  const { plugin, state } = memorySink(async ({ events: [ev], currentRetry }) => {
    const row = (ev as TestEvent).key;
    if (sendingRows.has(row)) rowOverlaps++;
    sendingRows.add(row);
    await sleep(Math.floor(random() * 3));
    sendingRows.delete(row);
    if (currentRetry === 0 && random() < 0.3) return DOWN;
    delivered.push(ev as TestEvent);
    return OK;
  });
  const { engine, attempts } = engineFor(plugin);
  const to = target({ concurrency: 4, retry: { numRetries: 20 } });
  const events = Array.from({ length: 200 }, (_, i) => event(to, `row-${i % 10}`));
  for (const ev of events) engine.submit(ev);
  assert.equal(await engine.drain(10_000), true);

  assert.ok(events.every((ev) => ev.settledWith === 'delivered'));
  assert.ok(
    attempts.some((a) => a.outcome === 'retry'),
    'no attempt was retried',
  );
  for (let row = 0; row < 10; row++) {
    assert.deepEqual(
      delivered.filter((ev) => ev.key === `row-${row}`).map((ev) => ev.id),
      events.filter((ev) => ev.key === `row-${row}`).map((ev) => ev.id),
      `order of row-${row}`,
    );
  }
  assert.equal(rowOverlaps, 0, 'a row had two requests out at once');
  assert.ok(state.maxSending > 1 && state.maxSending <= 4, `${state.maxSending} requests at once`);
  assert.equal(engine.inFlight, 0);
});

test('trigger ordering sends one request at a time in submission order, retries included', async () => {
  const { plugin, sent, state } = memorySink(({ events: [ev], currentRetry }) =>
    Number((ev as TestEvent).key) % 4 === 0 && currentRetry === 0 ? DOWN : OK,
  );
  const { engine } = engineFor(plugin);
  const to = target({ ordering: 'trigger', retry: { numRetries: 1 } });
  const events = Array.from({ length: 20 }, (_, i) => event(to, String(i)));
  for (const ev of events) engine.submit(ev);
  assert.equal(await engine.drain(5_000), true);
  assert.equal(state.maxSending, 1);
  const ids = sent.map((r) => r.events[0]?.id);
  assert.equal(ids.length, 25);
  assert.deepEqual(
    ids.filter((id, i) => id !== ids[i - 1]),
    events.map((ev) => ev.id),
  );
});

test('batches: a plugin gets up to max_events per request; a failed batch is retried whole', async () => {
  const { plugin, sent } = memorySink(({ currentRetry }) =>
    sent.length === 1 && currentRetry === 0 ? DOWN : OK,
  );
  const { engine, attempts, recorded } = engineFor(plugin);
  const to = target({ ordering: 'trigger', retry: { numRetries: 1 }, batch: { maxEvents: 3, maxWaitMs: 5 } });
  const events = Array.from({ length: 7 }, (_, i) => event(to, `row-${i}`));
  for (const ev of events) engine.submit(ev);
  assert.equal(await engine.drain(5_000), true);
  assert.deepEqual(
    sent.map((r) => [r.events.map((ev) => events.indexOf(ev)), r.currentRetry]),
    [
      [[0, 1, 2], 0],
      [[0, 1, 2], 1],
      [[3, 4, 5], 0],
      [[6], 0],
    ],
  );
  assert.deepEqual(
    attempts.map((a) => [a.events, a.outcome]),
    [
      [3, 'retry'],
      [3, 'delivered'],
      [3, 'delivered'],
      [1, 'delivered'],
    ],
  );
  assert.equal(recorded[1]?.body, sent[1]?.body, 'the recorder gets the body sent');
  assert.deepEqual(recorded[1]?.headers, {}, 'a request without headers is recorded with none');
  assert.ok(events.every((ev) => ev.settledWith === 'delivered'));
});

test('a final answer is dead-lettered at once, a retryable one after num_retries, each event alone', async () => {
  const { plugin } = memorySink(({ events: [ev] }) => (ev?.target.trigger === 'final' ? GONE : DOWN));
  const { engine, attempts, deadLetters } = engineFor(plugin);
  const final = event(target({ trigger: 'final', retry: { numRetries: 5 } }), 'a');
  const batch = { maxEvents: 2, maxWaitMs: 1 };
  const flaky = [1, 2].map(() => event(target({ trigger: 'flaky', retry: { numRetries: 2 }, batch }), 'b'));
  engine.submit(final);
  for (const ev of flaky) engine.submit(ev);
  assert.equal(await final.outcome, 'failed');
  assert.deepEqual(await Promise.all(flaky.map((ev) => ev.outcome)), ['failed', 'failed']);

  assert.deepEqual(
    attempts.map((a) => [a.trigger, a.outcome, a.events]),
    [
      ['final', 'failed', 1],
      ['flaky', 'retry', 2],
      ['flaky', 'retry', 2],
      ['flaky', 'failed', 2],
    ],
  );
  assert.deepEqual(
    deadLetters.map(({ event: ev, failure, settledBefore }) => [
      ev.id,
      failure.attempts,
      failure.lastStatus,
      failure.lastError,
      failure.body,
      failure.responseSnippet,
      settledBefore,
    ]),
    [
      [final.id, 1, 410, GONE.error, final.body(0), 'down; echo ***', false],
      // The body a batch's event alone would have had on its last attempt.
      ...flaky.map((ev) => [ev.id, 3, 503, DOWN.error, ev.body(2), 'down; echo ***', false]),
    ],
  );
  assert.equal(engine.inFlight, 0);
});

test('a dead-letter store that refuses is retried until it accepts; only then does the event settle', async () => {
  const { plugin } = memorySink(() => DOWN);
  let calls = 0;
  const { engine, deadLetters } = engineFor(plugin, async () => {
    if (++calls <= 2) throw new Error('the store is down');
  });
  const ev = event(target(), 'a');
  engine.submit(ev);
  assert.equal(await ev.outcome, 'failed');
  assert.equal(calls, 3);
  assert.deepEqual(
    deadLetters.map((d) => d.settledBefore),
    [false, false, false],
  );
  assert.equal(engine.inFlight, 0);
});

test('drain waits for what was submitted before it; close leaves what is pending unsettled and counted', async () => {
  const { plugin, sent, state } = memorySink(({ events: [ev] }) =>
    ev?.key === 'hang' ? new Promise<AttemptResult>(() => {}) : ev?.key === 'down' ? DOWN : OK,
  );
  const { engine } = engineFor(plugin);
  assert.equal(await engine.drain(10), true);
  const early = event(target(), 'a');
  engine.submit(early);
  const drainedEarly = engine.drain(5_000);
  const hanging = event(target(), 'hang');
  const behind = event(target(), 'hang');
  const waiting = event(target({ retry: { numRetries: 3, intervalSec: 30 } }), 'down');
  for (const ev of [hanging, behind, waiting]) engine.submit(ev);
  assert.equal(await drainedEarly, true, 'drain waited for events submitted after it');
  await until(() => sent.length === 3);
  assert.equal(await engine.drain(50), false);

  const drainedLate = engine.drain(60_000);
  const started = Date.now();
  await engine.close();
  assert.ok(Date.now() - started < 1000, 'close waited for a retry interval');
  assert.equal(await drainedLate, false);
  assert.ok(state.closed, 'the transport was closed');
  engine.submit(event(target(), 'after'));
  await sleep(20);
  assert.deepEqual(
    [hanging, behind, waiting].map((ev) => ev.settledWith),
    [undefined, undefined, undefined],
  );
  assert.equal(engine.inFlight, 3, 'what close dropped stays counted; nothing after close is');
  assert.equal(sent.length, 3);
  assert.equal(await engine.drain(10), false);
});

test('in-flight counts: events and bytes, in all and per trigger, leave on delivery and on dead-lettering', async () => {
  const release: (() => void)[] = [];
  const { plugin } = memorySink(({ events: [ev] }) =>
    ev?.target.trigger === 'gone'
      ? GONE
      : new Promise<AttemptResult>((resolve) => release.push(() => resolve(OK))),
  );
  const { engine } = engineFor(plugin);
  const held = [event(target(), 'a', 10), event(target(), 'b', 20)];
  const gone = event(target({ trigger: 'gone' }), 'c', 5);
  for (const ev of [...held, gone]) engine.submit(ev);
  assert.deepEqual([engine.inFlight, engine.inFlightBytes], [3, 35]);
  assert.deepEqual({ ...engine.inFlightOf('orders') }, { events: 2, bytes: 30 });
  assert.deepEqual({ ...engine.inFlightOf('gone') }, { events: 1, bytes: 5 });
  assert.equal(await gone.outcome, 'failed');
  assert.deepEqual({ ...engine.inFlightOf('gone') }, { events: 0, bytes: 0 });
  assert.deepEqual([engine.inFlight, engine.inFlightBytes], [2, 30]);
  await until(() => release.length === 2);
  for (const resolve of release) resolve();
  assert.equal(await engine.drain(1_000), true);
  assert.deepEqual({ ...engine.inFlightOf('orders') }, { events: 0, bytes: 0 });
  assert.deepEqual({ ...engine.inFlightOf('no-such-trigger') }, { events: 0, bytes: 0 });
  assert.deepEqual([engine.inFlight, engine.inFlightBytes], [0, 0]);
});

for (const waitHoldsSlot of [false, true]) {
  test(`a request waiting for its retry ${waitHoldsSlot ? 'keeps' : 'gives back'} its concurrency slot`, async () => {
    const { plugin, sent } = memorySink(
      ({ events: [ev], currentRetry }) => (ev?.key === 'flaky' && currentRetry === 0 ? DOWN : OK),
      { waitHoldsSlot },
    );
    const { engine } = engineFor(plugin);
    const to = target({ concurrency: 1, retry: { numRetries: 1, intervalSec: 0.05 } });
    engine.submit(event(to, 'flaky'));
    engine.submit(event(to, 'other'));
    assert.equal(await engine.drain(2_000), true);
    assert.deepEqual(
      sent.map((r) => r.events[0]?.key),
      waitHoldsSlot ? ['flaky', 'flaky', 'other'] : ['flaky', 'other', 'flaky'],
    );
  });
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

test('reload: a retired trigger gets a new line; events of the old one finish under it', async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const { plugin, sent } = memorySink(async ({ events: [ev] }) => {
    if ((ev as TestEvent).key === 'old') await held;
    return OK;
  });
  const { engine } = engineFor(plugin);
  const before = target({ ordering: 'trigger', concurrency: 1 });
  const after = target({ ordering: 'trigger', concurrency: 1 });
  const old = event(before, 'old');
  engine.submit(old);
  engine.retire('orders');
  const renewed = event(after, 'new');
  engine.submit(renewed);
  // The new definition's line does not wait behind the old one's held request.
  assert.equal(await renewed.outcome, 'delivered');
  assert.equal(old.settledWith, undefined);
  assert.equal(engine.inFlightOf('orders').events, 1, 'the old line still counts for the trigger');
  assert.equal(sent.find((r) => r.events[0] === old)?.events[0]?.target, before);
  release();
  assert.equal(await old.outcome, 'delivered');
  assert.equal(engine.inFlightOf('orders').events, 0);
  const next = event(after, 'next');
  engine.submit(next);
  assert.equal(await next.outcome, 'delivered');
  assert.equal(engine.inFlight, 0);
});

test('pause: a paused trigger starts no attempt, its events wait in order; resume delivers them all in order', async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const { plugin, sent } = memorySink(async ({ events: [ev] }) => {
    if ((ev as TestEvent).key === 'sending') await held;
    return OK;
  });
  const { engine } = engineFor(plugin);
  const orders = target({ ordering: 'trigger' });
  const other = target({ trigger: 'other' });
  const sending = event(orders, 'sending');
  engine.submit(sending);
  await until(() => sent.length === 1);
  assert.equal(engine.pauseTrigger('orders'), true);
  assert.equal(engine.pauseTrigger('orders'), false, 'a second pause changes nothing');
  assert.equal(engine.isPaused('orders'), true);
  const queued = Array.from({ length: 5 }, (_, i) => event(orders, String(i), 10));
  for (const ev of queued) engine.submit(ev);
  // The attempt already sent finishes; another trigger is not held back.
  release();
  assert.equal(await sending.outcome, 'delivered');
  const unpaused = event(other, 'x');
  engine.submit(unpaused);
  assert.equal(await unpaused.outcome, 'delivered');
  await sleep(50);
  assert.equal(sent.length, 2, 'nothing of the paused trigger was sent');
  assert.ok(queued.every((ev) => ev.settledWith === undefined));
  assert.deepEqual({ ...engine.inFlightOf('orders') }, { events: 5, bytes: 50 }, 'still in flight');
  assert.equal(await engine.drain(100), false);

  assert.equal(engine.resumeTrigger('orders'), true);
  assert.equal(engine.resumeTrigger('orders'), false);
  assert.equal(await engine.drain(2_000), true);
  assert.deepEqual(
    sent.slice(2).map((r) => r.events[0]?.id),
    queued.map((ev) => ev.id),
    'delivered in submission order',
  );
});

test('pause: unordered events wait too, and start again in the order they were submitted', async () => {
  const { plugin, sent } = memorySink(() => OK);
  const { engine } = engineFor(plugin);
  const to = target({ ordering: 'none', concurrency: 4 });
  engine.pauseTrigger('orders');
  const events = Array.from({ length: 10 }, (_, i) => event(to, String(i)));
  for (const ev of events) engine.submit(ev);
  await sleep(30);
  assert.equal(sent.length, 0);
  engine.resumeTrigger('orders');
  assert.equal(await engine.drain(2_000), true);
  assert.deepEqual(
    sent.map((r) => r.events[0]?.id),
    events.map((ev) => ev.id),
  );
});

test('pause while retrying: the retry due during the pause waits for resume, then the event is delivered', async () => {
  const { plugin, sent } = memorySink(({ currentRetry }) => (currentRetry === 0 ? DOWN : OK));
  const { engine, attempts } = engineFor(plugin);
  const to = target({ ordering: 'trigger', retry: { numRetries: 3, intervalSec: 0.02 } });
  const first = event(to, 'a');
  const second = event(to, 'b');
  engine.submit(first);
  engine.submit(second);
  await until(() => attempts.length === 1);
  engine.pauseTrigger('orders');
  await sleep(100);
  assert.equal(sent.length, 1, 'the retry waits while paused');
  assert.equal(first.settledWith, undefined);
  engine.resumeTrigger('orders');
  assert.equal(await engine.drain(2_000), true);
  assert.deepEqual(
    sent.map((r) => [r.events[0]?.key, r.currentRetry]),
    [
      ['a', 0],
      ['a', 1],
      ['b', 0],
      ['b', 1],
    ],
  );
  assert.equal(first.settledWith, 'delivered');
  assert.equal(second.settledWith, 'delivered');
});

test('pause by name: the line of a trigger changed by a reload and its new line both wait; close ends the wait', async () => {
  const { plugin, sent, state } = memorySink(() => OK);
  const { engine } = engineFor(plugin);
  engine.pauseTrigger('orders');
  const old = event(target({ ordering: 'trigger' }), 'old');
  engine.submit(old);
  engine.retire('orders');
  const renewed = event(target({ ordering: 'trigger' }), 'new');
  engine.submit(renewed);
  await sleep(30);
  assert.equal(sent.length, 0);
  await engine.close();
  assert.equal(state.closed, true);
  await sleep(10);
  assert.equal(sent.length, 0, 'closing sends nothing that waited');
  assert.equal(old.settledWith, undefined, 'left unsettled for the replay');
});

test("blocked: a sink's sources blocking publishers show as blockedBy until every one of them lets go", async () => {
  const { plugin } = memorySink(() => OK);
  let blocked: ((source: string, reason: string | null) => void) | undefined;
  const open = plugin.open;
  plugin.open = (context) => {
    blocked = context.blocked;
    return open(context);
  };
  let changes = 0;
  const engine = new DeliveryEngine({
    logger: pino({ level: 'silent' }),
    userAgent: 'walhook-test/1.0',
    deadLetter: async () => {},
    onAttempt: () => {},
    onBlocked: () => changes++,
    plugin: () => plugin as SinkPlugin,
  });
  assert.equal(engine.blockedBy, null);
  const ev = event(target(), 'a');
  engine.submit(ev);
  assert.equal(await ev.outcome, 'delivered');
  assert.ok(blocked, 'the transport was opened with the callback');
  blocked('node-1', 'low on memory');
  blocked('node-2', 'low on disk');
  blocked('node-1', 'low on memory');
  assert.equal(engine.blockedBy, 'low on memory');
  assert.equal(changes, 2, 'a repeated notice changes nothing');
  blocked('node-1', null);
  assert.equal(engine.blockedBy, 'low on disk');
  blocked('node-2', null);
  assert.equal(engine.blockedBy, null);
  assert.equal(changes, 4);
  await engine.close();
});
