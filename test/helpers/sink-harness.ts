/** The delivery engine with its log lines captured, real receivers on 127.0.0.1 and webhook events to send them. */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import type { AttemptInfo, DeliveryEvent, OrderingMode, RetryPolicy } from '../../src/core/delivery-event.js';
import { DeliveryEngine } from '../../src/sinks/engine.js';
import type { FinalFailure } from '../../src/sinks/engine-hooks.js';
import type { WebhookTarget } from '../../src/sinks/webhook/target.js';

export const USER_AGENT = 'walhook-test/1.0';
export const SECRET = 'Bearer s3cr3t-t0ken-value';
export const CUSTOM = 'custom-header-value-9f2c';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  json: { id: string; key: string; seq: number; delivery_info: { current_retry: number } };
  /** When the request body was complete, from `performance.now()`. */
  at: number;
}

export type Handler = (req: Received, res: ServerResponse) => void;

/** A real receiver on an ephemeral port; each request is recorded before the handler answers. */
export async function receiver(handler: Handler) {
  const requests: Received[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const received = { headers: req.headers, body, json: JSON.parse(body), at: performance.now() };
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

export function answer(res: ServerResponse, status: number, body = ''): void {
  res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
}

/** A port nothing listens on: bound once, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export type LogLine = Record<string, unknown> & { msg: string; level: number };

export interface DeadLetterCall {
  event: DeliveryEvent;
  failure: FinalFailure;
  /** Whether the event was already settled when its dead letter was handed over. */
  settledBefore: boolean;
}

export function sinkWithLogs(options: { deadLetter?: (event: DeliveryEvent) => Promise<void> } = {}) {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const deadLetters: DeadLetterCall[] = [];
  const attemptInfos: AttemptInfo[] = [];
  const sink = new DeliveryEngine({
    logger: pino({ level: 'debug' }, stream),
    userAgent: USER_AGENT,
    deadLetter: (event, failure) => {
      deadLetters.push({ event, failure, settledBefore: (event as TestEvent).settledWith !== undefined });
      return options.deadLetter?.(event) ?? Promise.resolve();
    },
    onAttempt: (info) => attemptInfos.push(info),
  });
  const lines = () => raw.map((line) => JSON.parse(line) as LogLine);
  const attempts = () => lines().filter((line) => line.msg === 'delivery attempt');
  return { sink, raw, lines, attempts, deadLetters, attemptInfos };
}

export interface TestEvent extends DeliveryEvent<WebhookTarget> {
  outcome: Promise<'delivered' | 'failed'>;
  settledWith: 'delivered' | 'failed' | undefined;
}

let nextId = 0;

export interface EventOptions {
  retry?: Partial<RetryPolicy>;
  key?: string;
  trigger?: string;
  ordering?: OrderingMode;
  concurrency?: number;
  bytes?: number;
  batch?: { maxEvents: number; maxWaitMs: number };
}

export function event(url: string, options: EventOptions = {}) {
  const id = `00000000-0000-4000-8000-${String(nextId++).padStart(12, '0')}`;
  const key = options.key ?? id;
  const seq = nextId;
  let resolve!: (outcome: 'delivered' | 'failed') => void;
  const result: TestEvent = {
    id,
    target: {
      type: 'webhook',
      trigger: options.trigger ?? 'orders_hook',
      url,
      headers: { Authorization: SECRET, 'X-Custom': CUSTOM },
      retry: {
        numRetries: 0,
        intervalSec: 0,
        timeoutSec: 5,
        backoff: 'fixed',
        maxIntervalSec: 60,
        finalStatuses: [],
        retryAfter: 'throttling',
        ...options.retry,
      },
      ordering: options.ordering ?? 'row',
      concurrency: options.concurrency ?? 64,
      batch: options.batch ?? { maxEvents: 1, maxWaitMs: 0 },
      secrets: [],
      tls: null,
    },
    orderingKey: key,
    op: 'INSERT',
    table: 'public.orders',
    relation: { schema: 'public', name: 'orders' },
    commitLsn: 0x1_0000_00a0n,
    body: (currentRetry) => JSON.stringify({ id, key, seq, delivery_info: { current_retry: currentRetry } }),
    bytes: options.bytes ?? 100,
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

export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}
