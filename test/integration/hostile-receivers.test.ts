import assert from 'node:assert/strict';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { type LogLine, WalhookProcess } from '../helpers/walhook.js';

const ROWS = 10;
const SLOT = 'hostile_receivers_test';
/** Every hostile trigger's attempt timeout: each misbehaviour must end within it. */
const TIMEOUT_SEC = 1;
/** How often a slow receiver sends its next byte: five of them take longer than the timeout. */
const DRIBBLE_MS = 250;

/** What a receiver does once a request's head arrived; each writes raw bytes to the socket. */
const BEHAVIOURS: Record<string, (socket: Socket) => void> = {
  // A 500 whose chunked body never ends: walhook reads 128 KiB at most, then drops the connection.
  endless_body: (socket) => {
    socket.write('HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: chunked\r\n\r\n');
    const chunk = `4000\r\n${'x'.repeat(0x4000)}\r\n`;
    const pump = () => {
      while (!socket.destroyed && socket.write(chunk));
    };
    socket.on('drain', pump);
    pump();
  },
  slow_status_line: (socket) => dribble(socket, 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'),
  slow_headers: (socket) => {
    socket.write('HTTP/1.1 200 OK\r\n');
    dribble(socket, 'x-slow: 1\r\ncontent-length: 0\r\n\r\n');
  },
  slow_body: (socket) => {
    socket.write('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 1000\r\n\r\n');
    dribble(socket, 'busy'.repeat(250));
  },
  // The answer stands though its body never ends: a 200 is a delivery, cut off at the timeout.
  never_ending_200: (socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nok'),
  redirect_loop: (socket) =>
    // One request per connection is all this receiver reads, so it says so.
    socket.end(
      'HTTP/1.1 302 Found\r\nlocation: /redirect_loop\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
    ),
  huge_headers: (socket) => socket.end(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(64 * 1024)}\r\n\r\n`),
  closes_mid_headers: (socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-le'),
  closes_mid_body: (socket) =>
    socket.end('HTTP/1.1 500 Internal Server Error\r\ncontent-length: 100\r\n\r\npartial'),
  not_http: (socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n'),
};

/** Sends `text` one byte per DRIBBLE_MS, for as long as the connection lives. */
function dribble(socket: Socket, text: string): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (sent < text.length && !socket.destroyed) socket.write(text[sent++] as string);
  }, DRIBBLE_MS);
  socket.on('close', () => clearInterval(timer));
}

/** A raw TCP receiver that reads each request's head and misbehaves as its path says; counts requests. */
async function hostileReceiver() {
  const requests = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      // Everything after the head (the body) is read and ignored, so the client is never held up sending.
      socket.resume();
      const path = (head.split(' ')[1] ?? '/').slice(1);
      requests.set(path, (requests.get(path) ?? 0) + 1);
      BEHAVIOURS[path]?.(socket);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: (path: string) => requests.get(path) ?? 0,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let db: Database;
let healthy: Receiver;
let hostile: Awaited<ReturnType<typeof hostileReceiver>>;
let walhook: WalhookProcess | undefined;

before(async () => {
  db = await startDatabase('hostile');
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
  healthy = await startReceiver(() => 200);
  hostile = await hostileReceiver();
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await healthy?.close();
  await hostile?.close();
  await db?.close();
});

test('misbehaving receivers are bounded, retried and dead-lettered while a healthy trigger gets everything', async () => {
  const hostileTriggers = Object.keys(BEHAVIOURS)
    .map(
      (name) => `  - name: ${name}
    table: orders
    operations: [insert]
    webhook: ${hostile.url}/${name}
    retry: { num_retries: 1, interval_sec: 0.05, max_interval_sec: 0.1, timeout_sec: ${TIMEOUT_SEC} }
`,
    )
    .join('');
  walhook = await WalhookProcess.start(
    `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: healthy
    table: orders
    operations: [insert]
    webhook: ${healthy.url}/healthy
${hostileTriggers}`,
    { DATABASE_URL: db.url, LOG_LEVEL: 'info' },
  );
  for (let id = 1; id <= ROWS; id++)
    await db.query('INSERT INTO orders VALUES ($1, $2)', [id, `order ${id}`]);

  const failing = Object.keys(BEHAVIOURS).filter((name) => name !== 'never_ending_200');
  const letters = async () =>
    (
      await db.query<{
        trigger: string;
        attempts: number;
        last_status: number | null;
        last_error: string;
        response_snippet: string | null;
      }>('SELECT trigger, attempts, last_status, last_error, response_snippet FROM walhook.dead_letters')
    ).rows;
  await waitUntil(
    async () => (await letters().catch(() => [])).length >= ROWS * failing.length,
    `${ROWS * failing.length} dead letters`,
    60_000,
  );
  await healthy.waitFor(ROWS, '/healthy');
  await db.waitForConfirmed(SLOT);

  const expected: Record<string, { status: number | null; error: RegExp }> = {
    endless_body: { status: 500, error: /^http: HTTP 500$/ },
    slow_status_line: { status: null, error: /^timeout: no response within 1s$/ },
    slow_headers: { status: null, error: /^timeout: no response within 1s$/ },
    slow_body: { status: 503, error: /^http: HTTP 503$/ },
    redirect_loop: { status: 302, error: /^http: HTTP 302$/ },
    huge_headers: { status: null, error: /^network: UND_ERR_HEADERS_OVERFLOW: / },
    closes_mid_headers: { status: null, error: /^network: UND_ERR_SOCKET: other side closed$/ },
    closes_mid_body: { status: 500, error: /^http: HTTP 500$/ },
    not_http: { status: null, error: /^network: Response does not match the HTTP\/1\.1 protocol/ },
  };
  const rows = await letters();
  assert.equal(rows.length, ROWS * failing.length, 'one dead letter per failing event, no more');
  for (const row of rows) {
    const want = expected[row.trigger];
    assert.ok(want, `a dead letter of ${row.trigger}`);
    assert.equal(row.attempts, 2, `${row.trigger}: the first attempt and its one retry`);
    assert.equal(row.last_status, want.status, row.trigger);
    assert.match(row.last_error, want.error, row.trigger);
  }
  const endless = rows.find((row) => row.trigger === 'endless_body');
  assert.equal(endless?.response_snippet?.length, 4096, 'the first 4 KiB of the endless body are kept');
  assert.match(rows.find((row) => row.trigger === 'slow_body')?.response_snippet ?? '', /^(busy)*b?u?s?$/);

  for (const name of failing) {
    assert.equal(hostile.requests(name), 2 * ROWS, `${name}: two requests per event, redirects not followed`);
    const failures: LogLine[] = walhook.logs.filter(
      (l) => l.code === 'WALHOOK_ERR_DELIVERY_FAILED' && l.trigger === name,
    );
    assert.equal(failures.length, ROWS, `${name}: each final failure logged`);
    assert.match(
      `${failures[0]?.error?.type}: ${failures[0]?.error?.message}`,
      expected[name]?.error as RegExp,
    );
  }
  assert.equal(
    hostile.requests('never_ending_200'),
    ROWS,
    'a 200 is delivered even when its body never ends',
  );
  assert.deepEqual(
    healthy.at('/healthy').map((d) => d.body.event.data.new.id),
    Array.from({ length: ROWS }, (_, i) => i + 1),
    'the healthy trigger received every event, once',
  );
  assert.ok(walhook.assertAlive());
  assert.equal(await walhook.stop(), 0, 'a graceful stop: nothing left stuck in flight');
  walhook = undefined;
});
