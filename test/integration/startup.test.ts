import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { after, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/embedded-postgres.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

let db: Database | undefined;
let receiver: Receiver | undefined;
let walhook: WalhookProcess | undefined;
let forwarder: Server | undefined;

after(async () => {
  await walhook?.stop('SIGKILL');
  forwarder?.close();
  await receiver?.close();
  await db?.close();
});

const config = (table = 'events', extra = '') => `
source:
  connection: \${DATABASE_URL}
  slot: startup_test
  publication: startup_test
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: events
    table: ${table}
    operations: [insert, update]
    webhook: \${RECEIVER}/events
${extra}`;

test('Postgres not reachable at start: walhook logs, retries with backoff and streams once it is up', async () => {
  // walhook reaches Postgres only once its database and table exist: before that, a missing database
  // or table would be an error that stops it, not a server to wait for.
  const port = await freePort();
  receiver = await startReceiver();
  const url = `postgres://postgres:walhook@127.0.0.1:${port}/startup`;
  walhook = await WalhookProcess.start(
    config(),
    { DATABASE_URL: url, RECEIVER: receiver.url },
    { waitReady: false },
  );
  await walhook.waitForLog(
    (l) => l.msg === 'cannot prepare the source database; retrying',
    'a retry log line',
  );
  const health = await fetch(`http://127.0.0.1:${walhook.port}/healthz`);
  assert.equal(health.status, 200, 'alive while waiting');
  const ready = await fetch(`http://127.0.0.1:${walhook.port}/readyz`);
  assert.equal(ready.status, 503, 'not ready while waiting');

  db = await startDatabase('startup');
  await db.query('CREATE TABLE events (id int PRIMARY KEY, note text)');
  const target = db.server.port;
  forwarder = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => forwarder?.listen(port, '127.0.0.1', resolve));
  await walhook.ready(60_000);
  await db.query(`INSERT INTO events VALUES (1, 'after the wait')`);
  const [delivery] = await receiver.waitFor(1, '/events');
  assert.equal(delivery?.body.event.data.new.note, 'after the wait');
  assert.equal(await walhook.stop(), 0);
  walhook = undefined;
});

test('validate reports what streaming needs and exits 0 when usable', async () => {
  assert.ok(db && receiver);
  const path = await writeConfig(config('events', ''));
  const ok = await runCli(['validate', '--config', path], {
    DATABASE_URL: db.url,
    RECEIVER: receiver.url,
    PORT: '0',
  });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^ok +wal_level is logical$/m);
  assert.match(ok.stdout, /^ok +role postgres may replicate$/m);
  assert.match(ok.stdout, /^ok +triggers\[0\] \(events\): table "public"\."events" exists$/m);
});

test('validate exits 2 for a missing table and a table without replica identity, and warns about columns', async () => {
  assert.ok(db && receiver);
  await db.query('CREATE TABLE no_key (id int, note text)');
  const extra = `  - name: missing
    table: nope
    operations: [insert]
    webhook: \${RECEIVER}/nope
  - name: keyless
    table: no_key
    operations: [insert]
    webhook: \${RECEIVER}/no_key
  - name: notes
    table: events
    operations: [update]
    columns: [note]
    webhook: \${RECEIVER}/notes
`;
  const path = await writeConfig(config('events', extra));
  const bad = await runCli(['validate', '--config', path], {
    DATABASE_URL: db.url,
    RECEIVER: receiver.url,
    PORT: '0',
  });
  assert.equal(bad.code, 2, bad.stdout + bad.stderr);
  assert.match(
    bad.stdout,
    /^error +triggers\[1\] \(missing\): table "public"\."nope" does not exist; create it, or set the trigger's table: to an existing table$/m,
  );
  assert.match(bad.stdout, /^error +triggers\[2\] \(keyless\): table "public"\."no_key" has no primary key/m);
  assert.match(
    bad.stdout,
    /^warn +"public"\."events" lacks REPLICA IDENTITY FULL \(.*trigger notes: updates cannot tell whether note changed.*\); run ALTER TABLE "public"\."events" REPLICA IDENTITY FULL/m,
  );

  const run = await runCli(['run', '--config', path], {
    DATABASE_URL: db.url,
    RECEIVER: receiver.url,
    PORT: '0',
  });
  assert.equal(run.code, 2, 'run refuses to start');
  assert.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`);
  assert.match(run.stderr, /^walhook: table "public"\."nope" of trigger missing does not exist/);
});

test('validate with the database down checks the file and says the database checks were skipped', async () => {
  const path = await writeConfig(config());
  const port = await freePort();
  const result = await runCli(['validate', '--config', path], {
    DATABASE_URL: `postgres://x:y@127.0.0.1:${port}/db`,
    RECEIVER: 'http://127.0.0.1:1',
    PORT: '0',
  });
  assert.equal(result.code, 0);
  assert.match(result.stdout, /database not reachable .*database checks skipped/);
});

test('a role without the needed privileges gets one line and exit 2, not endless retries', async () => {
  assert.ok(db && receiver);
  await db.query(`CREATE ROLE weak LOGIN PASSWORD 'weak'`);
  const url = db.url.replace('postgres:walhook@', 'weak:weak@');
  const path = await writeConfig(
    config()
      .replace('slot: startup_test', 'slot: weak_slot')
      .replace('publication: startup_test', 'publication: weak_pub'),
  );
  const run = await runCli(['run', '--config', path], {
    DATABASE_URL: url,
    RECEIVER: receiver.url,
    PORT: '0',
  });
  assert.equal(run.code, 2, run.stderr);
  assert.match(
    run.stderr,
    /^walhook: the database role may not create or alter publication weak_pub: .*owner/,
  );
  assert.equal(run.stderr.trim().split('\n').length, 1);
});
