import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { createLogger } from '../../src/core/logger.js';
import { RepeatLimiter } from '../../src/core/rate-limit.js';
import { type Database, startDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/embedded-postgres.js';
import { waitUntil } from '../helpers/receiver.js';
import { type LogLine, WalhookProcess } from '../helpers/walhook.js';

/** A logger from `createLogger` writing to memory, on a clock the test moves. */
function memoryLogger(env: NodeJS.ProcessEnv = {}) {
  const output: string[] = [];
  let now = 1_000_000;
  const logger = createLogger(env, {
    // A stream, as pino-pretty pipes into its destination; written synchronously all the same.
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        output.push(chunk.toString('utf8'));
        done();
      },
    }),
    now: () => now,
  });
  return {
    logger,
    output,
    lines: (): LogLine[] => output.map((text) => JSON.parse(text)),
    advance: (ms: number) => {
      now += ms;
    },
  };
}

test('the limiter lets one occurrence per key and interval through and counts the rest', () => {
  let now = 0;
  const limiter = new RepeatLimiter(1000, () => now);
  assert.equal(limiter.take('a'), 0);
  assert.equal(limiter.take('a'), null);
  assert.equal(limiter.take('b'), 0, 'keys are independent');
  now = 999;
  assert.equal(limiter.take('a'), null);
  now = 1000;
  assert.equal(limiter.take('a'), 2, 'the next one let through counts those held back');
  assert.equal(limiter.take('a'), null);
  now = 5000;
  assert.equal(limiter.take('a'), 1);
  assert.equal(limiter.take('b'), 0);
});

test('the limiter forgets quiet keys once it tracks many, and keeps the busy ones', () => {
  let now = 0;
  const limiter = new RepeatLimiter(1000, () => now);
  limiter.take('busy');
  limiter.take('busy');
  for (let i = 0; i < 1023; i++) limiter.take(`old-${i}`);
  now = 1500;
  limiter.take('busy');
  limiter.take('busy');
  assert.equal(limiter.take('new'), 0, 'past 1024 keys the quiet ones are dropped');
  assert.equal(limiter.take('old-1'), 0, 'a forgotten key starts afresh');
  now = 2500;
  assert.equal(limiter.take('busy'), 1, 'the busy key kept its count');
});

test('a repeated error (same code and trigger) is written at error once per interval', () => {
  const { logger, lines, advance } = memoryLogger();
  const sink = logger.child({ stage: 'sink' });
  for (let i = 0; i < 3; i++)
    sink.error({ code: 'WALHOOK_ERR_DELIVERY_FAILED', trigger: 'a', n: i }, 'failed');
  sink.error({ code: 'WALHOOK_ERR_DELIVERY_FAILED', trigger: 'b' }, 'failed');
  sink.error({ trigger: 'a' }, 'another message');
  // The 60 seconds docs/logs.md promises: still held back just before, written at error from then.
  advance(59_999);
  sink.error({ code: 'WALHOOK_ERR_DELIVERY_FAILED', trigger: 'a', n: 3 }, 'failed');
  advance(1);
  sink.error({ code: 'WALHOOK_ERR_DELIVERY_FAILED', trigger: 'a', n: 4 }, 'failed');
  sink.error(new Error('no fields'));
  sink.error('just %s', 'text');
  assert.deepEqual(
    lines().map((l) => [l.level, l.trigger, l.n, l.rate_limited, l.suppressed, l.msg]),
    [
      ['error', 'a', 0, undefined, undefined, 'failed'],
      ['warn', 'a', 1, true, undefined, 'failed'],
      ['warn', 'a', 2, true, undefined, 'failed'],
      ['error', 'b', undefined, undefined, undefined, 'failed'],
      ['error', 'a', undefined, undefined, undefined, 'another message'],
      ['warn', 'a', 3, true, undefined, 'failed'],
      ['error', 'a', 4, undefined, 3, 'failed'],
      ['error', undefined, undefined, undefined, undefined, 'no fields'],
      ['error', undefined, undefined, undefined, undefined, 'just text'],
    ],
  );
  assert.equal(lines()[0]?.stage, 'sink');
});

test('errors about different tables are different keys', () => {
  const { logger, lines } = memoryLogger();
  for (const table of ['public.a', 'public.b', 'public.a']) {
    logger.error({ code: 'WALHOOK_ERR_TABLE_UNPUBLISHED', table }, 'table left the publication');
  }
  assert.deepEqual(
    lines().map((l) => [l.table, l.level]),
    [
      ['public.a', 'error'],
      ['public.b', 'error'],
      ['public.a', 'warn'],
    ],
  );
});

test('a rate-limited error that was given as an error keeps its serialized err', () => {
  const { logger, lines } = memoryLogger();
  logger.error(new Error('database down'));
  logger.error(new Error('database down'));
  const [first, second] = lines();
  assert.equal(first?.err?.message, 'database down');
  assert.equal(second?.level, 'warn');
  assert.equal(second?.err?.message, 'database down');
  assert.equal(second?.msg, 'database down');
});

test('createLogger redacts keys, errors, bindings and message text', () => {
  const { logger, output } = memoryLogger({ LOG_LEVEL: 'debug' });
  const child = logger.child({ connection: 'postgres://app:b1nd-s3cret@db/app' });
  child.info({ headers: { Authorization: 'Bearer h3ader-s3cret' }, source: { password: 'k3y-s3cret' } }, 'x');
  const err = Object.assign(new Error('connect to postgres://app:msg-s3cret@db/app failed'), {
    input: 'host=db password=kv-s3cret',
    secret: 'prop-s3cret',
  });
  child.warn({ err }, 'cannot connect to postgres://app:text-s3cret@db/app');
  child.debug('webhook https://user:url-s3cret@hooks.example.com/x?token=query-s3cret');
  const text = output.join('');
  assert.ok(!text.includes('s3cret'), text);
  assert.match(text, /postgres:\/\/app:\*\*\*@db\/app/);
  assert.match(text, /"headers":"\*\*\*"/);
});

test('LOG_FORMAT=pretty writes human lines, still redacted; LOG_LEVEL filters', () => {
  const { logger, output } = memoryLogger({ LOG_FORMAT: 'pretty', LOG_LEVEL: 'warn' });
  logger.info('hidden');
  logger.warn({ trigger: 'orders', url: 'postgres://u:pr3tty-s3cret@h/db' }, 'delivery attempt');
  const text = output.join('');
  assert.doesNotMatch(text, /hidden/);
  assert.match(text, /WARN.*delivery attempt/);
  assert.match(text, /trigger: "orders"/);
  assert.ok(!text.startsWith('{'), 'not JSON');
  assert.ok(!text.includes('pr3tty-s3cret'));
});

test('an unknown LOG_FORMAT or LOG_LEVEL says so and falls back', () => {
  const { lines } = memoryLogger({ LOG_FORMAT: 'xml', LOG_LEVEL: 'loud' });
  assert.deepEqual(
    lines().map((l) => [l.level, l.msg]),
    [
      ['warn', 'unknown LOG_LEVEL; using info'],
      ['warn', 'unknown LOG_FORMAT; using json'],
    ],
  );
});

const DB_PASSWORD = 'Pg-pa55-7c1e9d';
const HOOK_TOKEN = 'hook-tok-4b8f2a';
const API_KEY = 'api-key-93e0c6';
const URL_PASSWORD = 'url-pa55-d27b14';
const SECRETS = [DB_PASSWORD, HOOK_TOKEN, API_KEY, URL_PASSWORD];

/** A TCP forwarder to Postgres that refuses connections until `open`: the database "unreachable". */
async function lateProxy(targetPort: number) {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const server = createTcpServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  return {
    port,
    open: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        if (server.listening) server.close(() => resolve());
        else resolve();
      }),
  };
}

/** Answers 500 on /failing and 401 on /refused, echoing the request headers as an echo server would. */
async function echoingReceiver() {
  const requests: IncomingMessage[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(req);
    req.resume();
    req.on('end', () => {
      res.writeHead(req.url === '/refused' ? 401 : 500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'nope', echo: req.headers }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let db: Database | undefined;
let walhook: WalhookProcess | undefined;
after(async () => {
  await walhook?.stop('SIGKILL');
  await db?.close();
});

test('no secret reaches stdout or stderr: database down, then failing and refusing receivers', async (t) => {
  db = await startDatabase('logs_test');
  await db.query(`CREATE ROLE hook_owner LOGIN SUPERUSER PASSWORD '${DB_PASSWORD}'`);
  await db.query('CREATE TABLE items (id int PRIMARY KEY)');
  await db.query('ALTER TABLE items OWNER TO hook_owner');
  const proxy = await lateProxy(db.server.port);
  const receiver = await echoingReceiver();
  t.after(() => Promise.all([proxy.close(), receiver.close()]));

  const retry = 'retry: { num_retries: 1, interval_sec: 0.05, timeout_sec: 5 }';
  const config = `
source:
  connection: \${DATABASE_URL}
  slot: logs_test
  publication: logs_test
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: failing
    table: items
    operations: [insert]
    webhook: http://hooks:\${URL_PASSWORD}@127.0.0.1:${receiver.port}/failing
    headers: { Authorization: "Bearer \${HOOK_TOKEN}", X-Api-Key: "\${API_KEY}" }
    ${retry}
  - name: refused
    table: items
    operations: [insert]
    webhook: http://127.0.0.1:${receiver.port}/refused
    headers: { Authorization: "Bearer \${HOOK_TOKEN}" }
    ${retry}
`;
  walhook = await WalhookProcess.start(
    config,
    {
      DATABASE_URL: `postgres://hook_owner:${DB_PASSWORD}@127.0.0.1:${proxy.port}/logs_test`,
      HOOK_TOKEN,
      API_KEY,
      URL_PASSWORD,
    },
    { waitReady: false },
  );
  await walhook.waitForLog(
    (l) => l.msg === 'cannot prepare the source database; retrying',
    'walhook to find the database unreachable',
  );
  await proxy.open();
  await walhook.ready(60_000);

  const EVENTS = 3;
  for (let id = 1; id <= EVENTS; id++) await db.query('INSERT INTO items VALUES ($1)', [id]);
  const failures = () => walhook?.logs.filter((l) => l.code === 'WALHOOK_ERR_DELIVERY_FAILED') ?? [];
  await waitUntil(() => failures().length === 2 * EVENTS, 'every event dead-lettered', 60_000);
  await db.waitForConfirmed('logs_test');
  assert.equal(await walhook.stop(), 0);

  const { logs, stderr } = walhook;
  walhook = undefined;
  const everything = `${JSON.stringify(logs)}\n${stderr}`;
  for (const secret of SECRETS) assert.ok(!everything.includes(secret), `${secret} was written`);

  // The secrets were in play: the receiver got them, and echoed them back in every response.
  const sent = receiver.requests.map((req) => req.headers.authorization);
  assert.ok(sent.length >= 4 * EVENTS && sent.every((value) => value === `Bearer ${HOOK_TOKEN}`));
  const attempts = logs.filter((l) => l.msg === 'delivery attempt');
  assert.equal(attempts.length, 4 * EVENTS);
  assert.ok(
    attempts.every((l) => /"authorization":"\*\*\*"/.test(l.response)),
    'echo masked',
  );

  // Error level only once per code and trigger; the repeats are warnings, one line per event still.
  const errorsOf = (trigger: string, match: (l: LogLine) => boolean) =>
    logs.filter((l) => l.trigger === trigger && match(l)).map((l) => l.level);
  const deadLetter = (l: LogLine) => l.code === 'WALHOOK_ERR_DELIVERY_FAILED';
  for (const trigger of ['failing', 'refused']) {
    assert.deepEqual(errorsOf(trigger, deadLetter), ['error', 'warn', 'warn'], trigger);
  }
  const refusedAttempt = (l: LogLine) => l.msg === 'delivery attempt';
  const refusedLevels = errorsOf('refused', refusedAttempt);
  assert.equal(refusedLevels[0], 'error', 'a 401 is an error');
  assert.ok(refusedLevels.slice(1).every((level) => level === 'warn'));
  assert.ok(
    errorsOf('failing', refusedAttempt).every((level) => level === 'warn'),
    'a 500 is a warning',
  );
});
