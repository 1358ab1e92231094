import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { jsonValueText } from '../../src/commands/demo/json-text.js';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

/*
 * Hasura's event-trigger semantics as trigger options, all on one slot: Retry-After on any status,
 * fixed intervals, no-op updates skipped, whole old rows, origin filtering and the User-Agent.
 */

let db: Database;
let receiver: Receiver;
let answering: Answering;
let walhook: WalhookProcess | undefined;
let configPath: string;

interface Attempt {
  path: string;
  at: number;
}

/** Answers each path's attempts in turn from its script ([status, Retry-After]); past its end, 200. */
async function startAnswering(scripts: Record<string, [number, string?][]>) {
  const attempts: Attempt[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '/';
      const count = attempts.filter((a) => a.path === path).length;
      attempts.push({ path, at: Date.now() });
      const [status, retryAfter] = scripts[path]?.[count] ?? [200];
      res.writeHead(status, retryAfter === undefined ? {} : { 'retry-after': retryAfter }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Seconds between the attempts at `path`, once it has `count` of them. */
    async gaps(path: string, count: number): Promise<number[]> {
      const times = () => attempts.filter((a) => a.path === path).map((a) => a.at);
      await waitUntil(() => times().length >= count, `${count} attempts at ${path}`);
      const at = times();
      return at.slice(1).map((t, i) => (t - (at[i] as number)) / 1000);
    },
    count: (path: string) => attempts.filter((a) => a.path === path).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
type Answering = Awaited<ReturnType<typeof startAnswering>>;

/** A trigger posting to the receiver, or with `answering` to the server that scripts its answers. */
const hook = (name: string, table: string, ops: string, extra = '', answering = false) => `
  - name: ${name}
    table: ${table}
    operations: ${ops}
    webhook: ${answering ? `\${ANSWERING}` : `\${RECEIVER}`}/${name}${extra}`;

function config(): string {
  return `
source:
  connection: \${DATABASE_URL}
  slot: hasura_semantics
  publication: hasura_semantics
server:
  host: 127.0.0.1
  port: \${PORT}
user_agent: ops-hooks/1
triggers:${[
    hook(
      'retry_after_any',
      'retries',
      '[insert]',
      '\n    retry: { num_retries: 2, interval_sec: 30, backoff: fixed, retry_after: any_status }',
      true,
    ),
    hook(
      'retry_after_stops',
      'retries',
      '[insert]',
      '\n    retry: { num_retries: 1, interval_sec: 0, backoff: fixed, retry_after: any_status }',
      true,
    ),
    hook(
      'fixed_interval',
      'retries',
      '[insert]',
      '\n    retry: { num_retries: 3, interval_sec: 1, backoff: fixed }',
      true,
    ),
    hook('skip_full', 'full_rows', '[update, delete]', '\n    skip_unchanged_updates: true'),
    hook('whole_old', 'full_rows', '[update, delete]'),
    hook('skip_keyed', 'keyed_rows', '[update]', '\n    skip_unchanged_updates: true'),
    hook('repl_on', 'replicated', '[insert]', '\n    trigger_on_replication: true'),
    hook('repl_off', 'replicated', '[insert]', '\n    trigger_on_replication: false'),
    hook('ua_global', 'agents', '[insert]'),
    hook('ua_trigger', 'agents', '[insert]', '\n    user_agent: hasura-graphql-engine/v2.48.1'),
    hook(
      'ua_header',
      'agents',
      '[insert]',
      '\n    user_agent: never-sent/1\n    headers: { User-Agent: from-headers/3 }',
    ),
  ].join('')}
  - name: ua_sink
    table: agents
    operations: [insert]
    sink: { type: webhook, url: "\${RECEIVER}/ua_sink", user_agent: sink-agent/4 }
`;
}

const ENV = () => ({ DATABASE_URL: db.url, RECEIVER: receiver.url, ANSWERING: answering.url });

before(async () => {
  db = await startDatabase('hasurasem');
  receiver = await startReceiver();
  answering = await startAnswering({
    '/retry_after_any': [[500, '2']],
    '/retry_after_stops': [
      [500, '1'],
      [500, '1'],
    ],
    '/fixed_interval': [
      [500, '5'],
      [404, '5'],
    ],
  });
  await db.query(`
    CREATE TABLE retries (id int PRIMARY KEY);
    CREATE TABLE full_rows (id int PRIMARY KEY, status text, note text);
    ALTER TABLE full_rows REPLICA IDENTITY FULL;
    CREATE TABLE keyed_rows (id int PRIMARY KEY, note text);
    CREATE TABLE replicated (id int PRIMARY KEY, note text);
    CREATE TABLE agents (id int PRIMARY KEY);
    INSERT INTO full_rows VALUES (1, 'paid', 'x');
    INSERT INTO keyed_rows VALUES (1, 'x');`);
  configPath = await writeConfig(config());
  walhook = await WalhookProcess.start(config(), ENV());
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await receiver?.close();
  await answering?.close();
  await db?.close();
});

test('retry_after: any_status waits the Retry-After of a 500, not the interval; attempts stop at num_retries', async () => {
  await db.query('INSERT INTO retries VALUES (1)');
  const [waited] = await answering.gaps('/retry_after_any', 2);
  assert.ok(
    waited !== undefined && waited >= 1.9 && waited < 6,
    `waited ${waited}s: Retry-After is 2, interval 30`,
  );
  // Retry-After 1 on each 500: one retry after about a second (not interval_sec 0), then no more.
  const [stopped] = await answering.gaps('/retry_after_stops', 2);
  assert.ok(stopped !== undefined && stopped >= 0.9 && stopped < 5, `waited ${stopped}s`);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(answering.count('/retry_after_stops'), 2, 'num_retries: 1 is one retry');
});

test('by default a Retry-After on a 500 or 404 is not for us: fixed intervals of interval_sec', async () => {
  const gaps = await answering.gaps('/fixed_interval', 3);
  for (const gap of gaps)
    assert.ok(gap >= 0.9 && gap < 3, `gaps ${gaps.join(', ')}s: interval 1, Retry-After 5`);
});

test('skip_unchanged_updates on a REPLICA IDENTITY FULL table: a no-op update does not fire; old is the whole row', async () => {
  const before = await db.query<{ j: string }>('SELECT row_to_json(r)::text AS j FROM full_rows r');
  await db.query(`UPDATE full_rows SET status = status, note = note WHERE id = 1`);
  await db.query(`UPDATE full_rows SET note = 'y' WHERE id = 1`);
  const after = await db.query<{ j: string }>('SELECT row_to_json(r)::text AS j FROM full_rows r');
  await db.query('DELETE FROM full_rows WHERE id = 1');
  const all = await receiver.waitFor(3, '/whole_old');
  const skipped = await receiver.waitFor(2, '/skip_full');
  assert.deepEqual(
    skipped.map((d) => [d.body.event.op, d.body.event.data.new?.note ?? null]),
    [
      ['UPDATE', 'y'],
      ['DELETE', null],
    ],
  );
  // Whole old rows for update and delete, exactly as row_to_json renders them.
  const old = all.map((d) => jsonValueText(d.raw, ['event', 'data', 'old']));
  assert.deepEqual(old, [before.rows[0]?.j, before.rows[0]?.j, after.rows[0]?.j]);
  await waitForFiltered('skip_full', 'unchanged', 1);
});

test('skip_unchanged_updates without REPLICA IDENTITY FULL: a warning at start and in validate, and updates fire', async () => {
  const line = walhook?.logs.find(
    (l) => l.msg === 'table lacks REPLICA IDENTITY FULL' && l.table === '"public"."keyed_rows"',
  );
  assert.equal(line?.level, 'warn');
  assert.ok(
    line?.reasons.includes(
      'trigger skip_keyed: skip_unchanged_updates cannot compare old values, so every update fires',
    ),
  );
  assert.equal(line?.statement, 'ALTER TABLE "public"."keyed_rows" REPLICA IDENTITY FULL');
  assert.ok(
    !walhook?.logs.some((l) => l.table === '"public"."full_rows"' && l.level === 'warn'),
    'the FULL table needs nothing',
  );
  await db.query(`UPDATE keyed_rows SET note = note WHERE id = 1`);
  const [fired] = await receiver.waitFor(1, '/skip_keyed');
  assert.equal(fired?.body.event.op, 'UPDATE', 'never miss a change it cannot compare');

  const result = await runCli(['validate', '--config', configPath], { ...ENV(), PORT: '0' });
  const found = result.stdout.split('\n').find((l) => l.includes('"public"."keyed_rows" lacks'));
  assert.match(
    found ?? result.stdout,
    /^warn +"public"\."keyed_rows" lacks REPLICA IDENTITY FULL \(trigger skip_keyed: skip_unchanged_updates cannot compare old values, so every update fires; .*\); run ALTER TABLE "public"\."keyed_rows" REPLICA IDENTITY FULL or set source\.replica_identity: full$/,
  );
});

test('trigger_on_replication: false skips changes applied under a replication origin; true delivers them', async () => {
  const session = new pg.Client({ connectionString: db.url });
  await session.connect();
  try {
    await session.query(`SELECT pg_replication_origin_create('upstream')`);
    await session.query(`SELECT pg_replication_origin_session_setup('upstream')`);
    await session.query(`INSERT INTO replicated VALUES (1, 'from upstream')`);
    await session.query('SELECT pg_replication_origin_session_reset()');
  } finally {
    await session.end();
  }
  await db.query(`INSERT INTO replicated VALUES (2, 'local')`);
  const on = await receiver.waitFor(2, '/repl_on');
  const off = await receiver.waitFor(1, '/repl_off');
  assert.deepEqual(
    on.map((d) => d.body.event.data.new.id),
    [1, 2],
  );
  // Transactions are routed in commit order: by the time the local row arrived, the other was filtered.
  assert.deepEqual(
    off.map((d) => d.body.event.data.new.id),
    [2],
  );
  await waitForFiltered('repl_off', 'origin', 1);
});

test('User-Agent: the global one, a trigger’s, a sink’s, and a User-Agent header over both', async () => {
  await db.query('INSERT INTO agents VALUES (1)');
  const agent = async (name: string) => (await receiver.waitFor(1, `/${name}`))[0]?.headers['user-agent'];
  assert.equal(await agent('ua_global'), 'ops-hooks/1');
  assert.equal(await agent('ua_trigger'), 'hasura-graphql-engine/v2.48.1');
  assert.equal(await agent('ua_header'), 'from-headers/3');
  assert.equal(await agent('ua_sink'), 'sink-agent/4');
});

/** Waits until walhook counted `count` changes of `trigger` filtered for `reason`. */
async function waitForFiltered(trigger: string, reason: string, count: number): Promise<void> {
  const series = `walhook_events_filtered_total{trigger="${trigger}",reason="${reason}"} ${count}`;
  const deadline = Date.now() + 10_000;
  let text = '';
  while (!text.includes(series)) {
    if (Date.now() > deadline) assert.fail(`no ${series} in /metrics`);
    text = await (await fetch(`http://127.0.0.1:${walhook?.port}/metrics`)).text();
  }
}
