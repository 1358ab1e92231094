import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, sleep, startReceiver, waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess } from '../helpers/walhook.js';

/*
 * Live trigger changes (docs/reload.md): a running walhook re-reads its config on SIGHUP, POST /reload
 * or `walhook reload`, and applies added, removed and changed triggers at a point in the stream while
 * a writer keeps inserting, without reconnecting the slot.
 */

const ADMIN_TOKEN = 'reload-test-admin-token-0123';
let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess | undefined;

const hook = (name: string, table: string, path = name) => `
  - name: ${name}
    table: ${table}
    operations: [insert]
    webhook: \${RECEIVER}/${path}`;

const config = (triggers: string, slot = 'reload_test') => `
source:
  connection: \${DATABASE_URL}
  slot: ${slot}
  publication: reload_test
  heartbeat_sec: 0
server:
  host: 127.0.0.1
  port: \${PORT}
  admin_token: ${ADMIN_TOKEN}
triggers:${triggers}
`;

const V1 = config(
  hook('keep', 'public.items') + hook('gone', 'public.items') + hook('edit', 'public.items', 'edit-v1'),
);
const V2 = config(
  hook('keep', 'public.items') + hook('edit', 'public.items', 'edit-v2') + hook('added', 'public.extra'),
);

const ENV = () => ({ DATABASE_URL: db.url, RECEIVER: receiver.url });

/** A row written by the writer, with when its insert started and when its commit returned. */
interface Written {
  table: 'items' | 'extra';
  id: number;
  started: number;
  committed: number;
}

/** Inserts into items and extra, one transaction each, until stopped. */
function startWriter() {
  const written: Written[] = [];
  const client = new pg.Client({ connectionString: db.url });
  let running = true;
  const done = (async () => {
    await client.connect();
    for (let i = 0; running; i++) {
      const table = i % 2 === 0 ? 'items' : 'extra';
      const started = Date.now();
      const { rows } = await client.query<{ id: number }>(`INSERT INTO ${table} DEFAULT VALUES RETURNING id`);
      written.push({ table, id: rows[0]?.id as number, started, committed: Date.now() });
      await sleep(5);
    }
    await client.end();
  })();
  return {
    written,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** The row ids delivered at `path` (each at least once). */
const idsAt = (path: string) => receiver.accepted(`/${path}`).map((d) => d.body.event.data.new.id as number);

const configPath = () => walhook?.child.spawnargs.at(-1) as string;

async function metric(name: string): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${walhook?.port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .join('\n');
}

async function status() {
  return (await fetch(`http://127.0.0.1:${walhook?.port}/status`)).json() as Promise<{
    last_reload?: { result: string; error: string | null; added?: string[]; in_effect?: boolean };
    triggers: { name: string }[];
  }>;
}

before(async () => {
  db = await startDatabase('reload_test');
  receiver = await startReceiver();
  await db.query(`
    CREATE TABLE items (id serial PRIMARY KEY, at timestamptz DEFAULT now());
    CREATE TABLE extra (id serial PRIMARY KEY, at timestamptz DEFAULT now());`);
  walhook = await WalhookProcess.start(V1, ENV());
});

after(async () => {
  if (process.env.RELOAD_TEST_LOGS)
    await writeFile(process.env.RELOAD_TEST_LOGS, JSON.stringify(walhook?.logs));
  await walhook?.stop('SIGKILL');
  await receiver?.close();
  await db?.close();
});

test('SIGHUP under a steady writer: added, removed and changed triggers take effect at one point, nothing lost', async () => {
  const writer = startWriter();
  await waitUntil(() => idsAt('keep').length >= 20, '20 deliveries before the reload');
  await writeFile(configPath(), V2);
  const reloadStarted = Date.now();
  walhook?.child.kill('SIGHUP');
  const reloaded = await walhook?.waitForLog((l) => l.msg === 'config reloaded', 'the reload');
  const reloadDone = Date.now();
  assert.equal(
    reloaded?.in_effect,
    true,
    `the stream reached the reload point within the wait: ${JSON.stringify(walhook?.logs.filter((l) => /reload|publication/.test(l.msg ?? '')))}`,
  );
  assert.deepEqual([reloaded?.added, reloaded?.removed, reloaded?.changed], [['added'], ['gone'], ['edit']]);
  await sleep(1500);
  await writer.stop();
  const { written } = writer;
  const items = written.filter((w) => w.table === 'items');
  const extra = written.filter((w) => w.table === 'extra');
  const before = (w: Written) => w.committed < reloadStarted;
  const afterReload = (w: Written) => w.started > reloadDone;
  assert.ok(items.filter(afterReload).length >= 20, 'rows written after the reload');

  // Every row reaches the unchanged trigger (at least once).
  await waitUntil(() => new Set(idsAt('keep')).size >= items.length, 'every items row at /keep');
  // Nothing failed, so nothing was replayed: at least once is exactly once here.
  assert.equal(idsAt('keep').length, new Set(idsAt('keep')).size, 'a row delivered twice at /keep');
  // Every extra row committed after the reload reaches the added trigger.
  const added = () => new Set(idsAt('added'));
  await waitUntil(() => extra.filter(afterReload).every((w) => added().has(w.id)), 'extra rows at /added');
  for (const w of extra.filter(before))
    assert.ok(!added().has(w.id), `extra ${w.id} from before the reload at /added`);
  // The removed trigger got every row from before the reload, none from after it.
  const gone = new Set(idsAt('gone'));
  for (const w of items.filter(before)) assert.ok(gone.has(w.id), `items ${w.id} missing at /gone`);
  for (const w of items.filter(afterReload))
    assert.ok(!gone.has(w.id), `items ${w.id} after the reload at /gone`);
  // The changed trigger: each row under exactly one definition, old before the point, new after it.
  await waitUntil(
    () => new Set([...idsAt('edit-v1'), ...idsAt('edit-v2')]).size >= items.length,
    'every items row at /edit-v1 or /edit-v2',
  );
  const v1 = new Set(idsAt('edit-v1'));
  const v2 = new Set(idsAt('edit-v2'));
  for (const w of items) assert.ok(!(v1.has(w.id) && v2.has(w.id)), `items ${w.id} under both definitions`);
  for (const w of items.filter(before)) assert.ok(v1.has(w.id), `items ${w.id} not under the old definition`);
  for (const w of items.filter(afterReload))
    assert.ok(v2.has(w.id), `items ${w.id} not under the new definition`);
  // The old definition's rows all come before the new one's in the stream.
  const lastOld = Math.max(...v1);
  const firstNew = Math.min(...v2);
  assert.ok(lastOld < firstNew, `old definition up to ${lastOld}, new from ${firstNew}`);

  // The slot was not reconnected.
  assert.equal(walhook?.logs.filter((l) => l.msg === 'replication started').length, 1);
  assert.match(await metric('walhook_replication_reconnects_total'), /\} 0\b/);
  assert.match(await metric('walhook_config_reloads_total'), /result="ok"\} 1\b/);
  const report = await status();
  assert.equal(report.last_reload?.result, 'ok');
  assert.deepEqual(
    report.triggers.map((t) => t.name),
    ['keep', 'edit', 'added'],
  );
});

test('a config that fails validation is refused with one line; the old one keeps delivering', async () => {
  await writeFile(configPath(), V2.replace('operations: [insert]', 'operations: [insert]\n    bogus_key: 1'));
  walhook?.child.kill('SIGHUP');
  const refused = await walhook?.waitForLog((l) => l.msg?.startsWith('config reload refused'), 'the refusal');
  assert.match(refused?.msg, /bogus_key/);
  assert.match(await metric('walhook_config_reloads_total'), /result="failed"\} 1\b/);
  const report = await status();
  assert.equal(report.last_reload?.result, 'failed');
  assert.match(report.last_reload?.error ?? '', /bogus_key/);
  const shown = await runCli(['status', '--url', `http://127.0.0.1:${walhook?.port}`]);
  assert.match(shown.stdout, /last reload {3}failed .* ago: .*bogus_key/);
  const { rows } = await db.query<{ id: number }>('INSERT INTO extra DEFAULT VALUES RETURNING id');
  await waitUntil(() => idsAt('added').includes(rows[0]?.id as number), 'the running config to deliver');
});

test('walhook reload: a key that needs a restart is refused naming it; a trigger change is applied', async () => {
  await writeFile(configPath(), config(hook('keep', 'public.items'), 'other_slot'));
  const env = { ...ENV(), PORT: String(walhook?.port) };
  const refused = await runCli(['reload', '--config', configPath()], env);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stdout, /restart to change source\.slot/);

  await writeFile(configPath(), config(hook('keep', 'public.items')));
  const applied = await runCli(['reload', '--config', configPath()], env);
  assert.equal(applied.code, 0, applied.stderr + applied.stdout);
  assert.match(applied.stdout, /removed edit, added/);
  const { rows } = await db.query<{ id: number }>('INSERT INTO items DEFAULT VALUES RETURNING id');
  await waitUntil(() => idsAt('keep').includes(rows[0]?.id as number), 'keep to deliver after the reload');
  await sleep(300);
  assert.ok(!idsAt('edit-v2').includes(rows[0]?.id as number), 'a removed trigger delivered');

  // Without the admin token the endpoint answers 401, like the other admin actions.
  const anonymous = await fetch(`http://127.0.0.1:${walhook?.port}/reload`, { method: 'POST' });
  assert.equal(anonymous.status, 401);
});

test('the Hasura metadata is read again: its triggers are added and removed like the file’s own', async () => {
  const metadataPath = join(dirname(configPath()), 'hasura.json');
  const metadata = (triggers: object[]) =>
    writeFile(
      metadataPath,
      JSON.stringify({
        version: 2,
        tables: [{ table: { schema: 'public', name: 'items' }, event_triggers: triggers }],
      }),
    );
  const fromHasura = {
    name: 'from_hasura',
    definition: { enable_manual: false, insert: { columns: '*' } },
    retry_conf: { num_retries: 1, interval_sec: 1, timeout_sec: 10 },
    webhook: `${receiver.url}/from_hasura`,
  };
  await metadata([fromHasura]);
  const text = config(hook('keep', 'public.items')).replace(
    'triggers:',
    'hasura: {metadata: ./hasura.json}\ntriggers:',
  );
  await writeFile(configPath(), text);
  const env = { ...ENV(), PORT: String(walhook?.port) };
  const added = await runCli(['reload', '--config', configPath()], env);
  assert.equal(added.code, 0, added.stderr + added.stdout);
  assert.match(added.stdout, /added from_hasura/);
  const first = await db.query<{ id: number }>('INSERT INTO items DEFAULT VALUES RETURNING id');
  await waitUntil(() => idsAt('from_hasura').includes(first.rows[0]?.id as number), 'the Hasura trigger');

  await metadata([]);
  const removed = await runCli(['reload', '--config', configPath()], env);
  assert.equal(removed.code, 0, removed.stderr + removed.stdout);
  assert.match(removed.stdout, /removed from_hasura/);
  const second = await db.query<{ id: number }>('INSERT INTO items DEFAULT VALUES RETURNING id');
  await waitUntil(() => idsAt('keep').includes(second.rows[0]?.id as number), 'keep after the reload');
  await sleep(300);
  assert.ok(
    !idsAt('from_hasura').includes(second.rows[0]?.id as number),
    'a removed Hasura trigger delivered',
  );
});

test('manage_publication: false: a trigger on a table the publication lacks is refused with the statement to run', async () => {
  await db.query('CREATE PUBLICATION reload_owned FOR TABLE items');
  const owned = (triggers: string) =>
    config(triggers, 'reload_test_owned').replace(
      'publication: reload_test',
      'publication: reload_owned\n  manage_publication: false',
    );
  const second = await WalhookProcess.start(owned(hook('owned_keep', 'public.items')), ENV());
  try {
    await writeFile(
      second.child.spawnargs.at(-1) as string,
      owned(hook('owned_keep', 'public.items') + hook('owned_extra', 'public.extra')),
    );
    second.child.kill('SIGHUP');
    const refused = await second.waitForLog((l) => l.msg?.startsWith('config reload refused'), 'the refusal');
    assert.match(refused.msg, /ALTER PUBLICATION "reload_owned" ADD TABLE "public"\."extra"/);
    const { rows } = await db.query<{ id: number }>('INSERT INTO items DEFAULT VALUES RETURNING id');
    await waitUntil(
      () => idsAt('owned_keep').includes(rows[0]?.id as number),
      'the running config to deliver',
    );
  } finally {
    await second.stop('SIGKILL');
  }
});
