import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { type Database, lsnValue, startDatabase } from '../helpers/database.js';
import { type Delivery, type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { WalhookProcess } from '../helpers/walhook.js';

const ADMIN_TOKEN = randomBytes(24).toString('base64url');
const WRONG_TOKEN = randomBytes(24).toString('base64url');
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const ADMIN_ACTIONS = ['/dead-letters/redeliver', '/dead-letters/purge', '/pause', '/resume'];

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess;
/** The receiver answers /signed with 503 until this is set. */
let signedUp = false;

const config = (slot: string, withToken: boolean) => `
source:
  connection: \${DATABASE_URL}
  slot: ${slot}
  publication: ${slot}
server:
  host: 127.0.0.1
  port: \${PORT}
${withToken ? `  admin_token: \${ADMIN_TOKEN}\n` : ''}triggers:
  - name: signed
    table: orders
    operations: [insert]
    webhook: \${RECEIVER}/signed
    secret: \${WEBHOOK_SECRET}
  - name: doomed
    table: doomed
    operations: [insert]
    webhook: \${RECEIVER}/doomed
  - name: watched
    table: watched
    operations: [insert]
    webhook: \${RECEIVER}/watched
`;

before(async () => {
  // Status updates go out every third of wal_sender_timeout: a pause shows its effect on the slot sooner.
  db = await startDatabase('admin_api', { settings: { wal_sender_timeout: '6s' } });
  for (const table of ['orders', 'doomed', 'watched']) {
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
  }
  receiver = await startReceiver((delivery) => {
    if (delivery.path === '/signed') return signedUp ? 200 : 503;
    if (delivery.path === '/doomed') return 503;
    return 200;
  });
  walhook = await WalhookProcess.start(config('admin_api_test', true), {
    DATABASE_URL: db.url,
    RECEIVER: receiver.url,
    ADMIN_TOKEN,
    WEBHOOK_SECRET: SECRET,
  });
});

after(async () => {
  await walhook?.stop();
  await receiver?.close();
  await db?.close();
});

async function call(
  path: string,
  options: { body?: string | object; token?: string | null; method?: string } = {},
) {
  const token = options.token === undefined ? ADMIN_TOKEN : options.token;
  const res = await fetch(`http://127.0.0.1:${walhook.port}${path}`, {
    method: options.method ?? 'POST',
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    ...(options.body !== undefined && {
      body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    }),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: answers are arbitrary JSON
  let json: any = null;
  if (res.headers.get('content-type') === 'application/json') json = JSON.parse(text);
  return { status: res.status, headers: res.headers, text, json };
}

async function deadLetters(trigger: string): Promise<{ id: string; attempts: number }[]> {
  const { rows } = await db.query<{ id: string; attempts: number }>(
    'SELECT id, attempts FROM walhook.dead_letters WHERE trigger = $1 ORDER BY lsn, id',
    [trigger],
  );
  return rows;
}

async function waitForDeadLetters(trigger: string, count: number) {
  await waitUntil(
    async () => walhook.assertAlive() && (await deadLetters(trigger).catch(() => [])).length >= count,
    `${count} dead letters of ${trigger}`,
  );
  return deadLetters(trigger);
}

function webhookHeaders(delivery: Delivery): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(delivery.headers)) {
    if (name.startsWith('webhook-') && typeof value === 'string') headers[name] = value;
  }
  return headers;
}

async function currentLsn(): Promise<bigint> {
  const { rows } = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return lsnValue(rows[0]?.lsn as string);
}

test('admin actions answer 401 without the token or with a wrong one; read-only endpoints need none', async () => {
  for (const path of ADMIN_ACTIONS) {
    const missing = await call(path, { token: null, body: { all: true } });
    assert.equal(missing.status, 401, path);
    assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.match(missing.json.error, /^missing bearer token/);
    const wrong = await call(path, { token: WRONG_TOKEN, body: { all: true } });
    assert.equal(wrong.status, 401, path);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /^Bearer .*invalid_token/);
    assert.match(wrong.json.error, /^wrong token/);
  }
  // A token of another length is refused the same way (the comparison is over digests).
  assert.equal((await call('/pause', { token: 'short' })).status, 401);
  // Any method but GET and HEAD is an admin action, a read-only path included.
  assert.equal((await call('/status', { token: null })).status, 401);
  for (const path of ['/healthz', '/readyz', '/status', '/metrics']) {
    const res = await fetch(`http://127.0.0.1:${walhook.port}${path}`);
    assert.equal(res.status, 200, path);
  }
  const status = await call('/status', { method: 'GET', token: null });
  assert.deepEqual([status.json.paused, status.json.paused_by], [false, []], 'nothing was paused');

  // One warning per client and reason a minute, without what was sent.
  const refusals = walhook.logs.filter((l) => l.msg === 'admin request refused');
  assert.deepEqual(
    refusals.map((l) => [l.level, l.reason, l.remote]),
    [
      ['warn', 'missing bearer token', '127.0.0.1'],
      ['warn', 'wrong token', '127.0.0.1'],
    ],
  );
  const printed = JSON.stringify(walhook.logs) + walhook.stderr;
  assert.ok(!printed.includes(WRONG_TOKEN) && !printed.includes(ADMIN_TOKEN), 'no token in the logs');
});

test('without server.admin_token every admin action answers 401 saying how to enable them', async () => {
  const open = await WalhookProcess.start(
    config('admin_api_open', false),
    { DATABASE_URL: db.url, RECEIVER: receiver.url, WEBHOOK_SECRET: SECRET },
    { waitReady: false },
  );
  try {
    await waitUntil(
      async () => (await fetch(`http://127.0.0.1:${open.port}/healthz`).catch(() => null))?.status === 200,
      'the second process to answer',
    );
    for (const path of ADMIN_ACTIONS) {
      for (const authorization of [null, `Bearer ${ADMIN_TOKEN}`]) {
        const res = await fetch(`http://127.0.0.1:${open.port}${path}`, {
          method: 'POST',
          headers: authorization === null ? {} : { authorization },
          body: '{"all":true}',
        });
        assert.equal(res.status, 401, path);
        assert.match(((await res.json()) as { error: string }).error, /set server\.admin_token/);
      }
    }
  } finally {
    await open.stop();
    await db.query("SELECT pg_drop_replication_slot('admin_api_open')").catch(() => {});
  }
});

test('malformed admin requests: 404, 405, 400 and 413, all JSON', async () => {
  const unknown = await call('/nowhere');
  assert.equal(unknown.status, 404);
  assert.match(unknown.json.error, /no endpoint \/nowhere/);
  const postStatus = await call('/status');
  assert.deepEqual([postStatus.status, postStatus.headers.get('allow')], [405, 'GET, HEAD']);
  const getPause = await call('/pause', { method: 'GET', token: null });
  assert.deepEqual([getPause.status, getPause.headers.get('allow')], [405, 'POST']);
  const deletePurge = await call('/dead-letters/purge', { method: 'DELETE' });
  assert.deepEqual([deletePurge.status, deletePurge.headers.get('allow')], [405, 'POST']);

  const broken = await call('/dead-letters/redeliver', { body: '{"trigger": ' });
  assert.deepEqual(
    [broken.status, broken.json.error],
    [400, 'request body is not valid JSON: unexpected end of input at position 12'],
  );
  for (const body of [{}, { all: true, id: 'x' }, { trigger: 'signed', tirgger: 'x' }, { all: false }, []]) {
    const res = await call('/dead-letters/purge', { body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.json.error, /^invalid request body: /);
  }
  const noPipeline = await call('/pause', { body: { pipeline: 'nope' } });
  assert.equal(noPipeline.status, 400);
  assert.match(noPipeline.json.error, /pipeline "nope" is not in the config \(pipelines: default\)/);

  const large = await call('/dead-letters/purge', { body: { trigger: 'x'.repeat(70 * 1024) } });
  assert.equal(large.status, 413);
  assert.match(large.json.error, /larger than 65536 bytes/);
  walhook.assertAlive();
});

test('redeliver over HTTP: kept while the receiver fails, then delivered signed and removed', async () => {
  // Two transactions, so the letters' LSN order is their insertion order.
  await db.query('INSERT INTO orders VALUES (1)');
  await db.query('INSERT INTO orders VALUES (2)');
  const letters = await waitForDeadLetters('signed', 2);
  const [first, second] = letters as [{ id: string; attempts: number }, { id: string; attempts: number }];

  const stillDown = await call('/dead-letters/redeliver', { body: { id: first.id } });
  assert.equal(stillDown.status, 200);
  assert.deepEqual(stillDown.json, {
    redelivered: 0,
    kept: 1,
    results: [{ id: first.id, trigger: 'signed', outcome: 'kept', status: 503, reason: 'HTTP 503' }],
  });
  assert.deepEqual(
    (await deadLetters('signed')).map((l) => l.attempts),
    [first.attempts + 1, second.attempts],
    'the failed attempt is recorded',
  );

  signedUp = true;
  const before = receiver.at('/signed').length;
  const recovered = await call('/dead-letters/redeliver', { body: { trigger: 'signed' } });
  assert.equal(recovered.status, 200);
  assert.deepEqual(recovered.json, {
    redelivered: 2,
    kept: 0,
    results: [first, second].map((l) => ({ id: l.id, trigger: 'signed', outcome: 'delivered', status: 200 })),
  });
  assert.deepEqual(await deadLetters('signed'), []);
  const redelivered = receiver.at('/signed').slice(before);
  assert.deepEqual(
    redelivered.map((d) => d.body.id),
    [first.id, second.id],
  );
  for (const delivery of redelivered) {
    assert.equal(delivery.headers['webhook-id'], delivery.body.id);
    assert.doesNotThrow(() => new Webhook(SECRET).verify(delivery.raw, webhookHeaders(delivery)));
    assert.throws(() =>
      new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(
        delivery.raw,
        webhookHeaders(delivery),
      ),
    );
  }
  const missing = await call('/dead-letters/redeliver', { body: { id: first.id } });
  assert.equal(missing.status, 404);
  assert.match(missing.json.error, /no dead letter with id/);
  // The store changed outside the pipeline: /status counts again soon.
  await waitUntil(
    async () => (await call('/status', { method: 'GET', token: null })).json.dead_letters === 0,
    '/status to count no dead letters',
  );
});

test('purge over HTTP removes the selected letters', async () => {
  await db.query('INSERT INTO doomed VALUES (1), (2), (3)');
  const letters = await waitForDeadLetters('doomed', 3);
  const one = await call('/dead-letters/purge', { body: { id: letters[0]?.id } });
  assert.deepEqual([one.status, one.json], [200, { purged: 1 }]);
  const rest = await call('/dead-letters/purge', { body: { all: true } });
  assert.deepEqual([rest.status, rest.json], [200, { purged: 2 }]);
  assert.deepEqual(await deadLetters('doomed'), []);
  assert.equal((await call('/dead-letters/purge', { body: { id: letters[0]?.id } })).status, 404);
});

test('pause stops reading and holds the slot before what was written meanwhile; resume delivers it', async () => {
  await db.query('INSERT INTO watched VALUES (1)');
  await receiver.waitFor(1, '/watched');
  await db.waitForConfirmed('admin_api_test');

  const paused = await call('/pause');
  assert.deepEqual([paused.status, paused.json], [200, { paused: true, pipelines: ['default'] }]);
  const status = await call('/status', { method: 'GET', token: null });
  assert.deepEqual([status.json.paused, status.json.paused_by], [true, ['operator']]);
  const readyz = await fetch(`http://127.0.0.1:${walhook.port}/readyz`);
  assert.deepEqual([readyz.status, await readyz.text()], [200, 'ready: paused by operator\n']);
  const metrics = await (await fetch(`http://127.0.0.1:${walhook.port}/metrics`)).text();
  assert.match(metrics, /^walhook_operator_paused\{pipeline="default"\} 1$/m);

  const beforeInsert = await currentLsn();
  const insertedAt = new Date();
  await db.query('INSERT INTO watched VALUES (2)');
  // Postgres sent the change, and walhook confirmed a position to it since: reading, it would have
  // delivered the row and confirmed past it.
  await waitUntil(async () => {
    const { rows } = await db.query<{ sent: string; reply: Date | null }>(
      "SELECT sent_lsn::text AS sent, reply_time AS reply FROM pg_stat_replication WHERE application_name = 'walhook'",
    );
    const row = rows[0];
    return (
      row !== undefined && lsnValue(row.sent) > beforeInsert && row.reply !== null && row.reply > insertedAt
    );
  }, 'the change sent and a status update from walhook after it');
  assert.equal(receiver.at('/watched').length, 1, 'nothing delivered while paused');
  const held = await db.confirmedLsn('admin_api_test');
  assert.ok(lsnValue(held as string) <= beforeInsert, `confirmed ${held} stays before the paused insert`);

  const resumed = await call('/resume');
  assert.deepEqual([resumed.status, resumed.json], [200, { paused: false, pipelines: ['default'] }]);
  const [, late] = await receiver.waitFor(2, '/watched');
  assert.equal(late?.body.event.data.new.id, 2);
  await db.waitForConfirmed('admin_api_test');
  const after = await call('/status', { method: 'GET', token: null });
  assert.deepEqual([after.json.paused, after.json.paused_by], [false, []]);
  assert.ok(
    walhook.logs.some((l) => l.msg === 'admin request' && l.path === '/pause' && l.status === 200),
    'admin actions are logged',
  );
});
