import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

/** walhook's role here may only connect over TLS (pg_hba hostnossl … reject). */
const ROLE = 'walhook_tls';
const PASSWORD = 'tls-secret-pw';

let pki: TestPki;
let db: Database;
let receiver: Receiver;
let delivered = 0;

before(async () => {
  pki = makeTestPki();
  db = await startDatabase('tls', { ssl: { ...pki.server, tlsOnly: [ROLE] } });
  await db.query(`CREATE ROLE ${ROLE} LOGIN SUPERUSER PASSWORD '${PASSWORD}'`);
  await db.query('CREATE TABLE events (id int PRIMARY KEY, note text)');
  receiver = await startReceiver();
});

after(async () => {
  await receiver?.close();
  await db?.close();
});

/** The URL for walhook's role at `host`, with `query` (libpq parameters) appended. */
function url(host: 'localhost' | '127.0.0.1', query = ''): string {
  return `postgres://${ROLE}:${PASSWORD}@${host}:${db.server.port}/tls${query}`;
}

function config(sslKeys: Record<string, string> = {}): string {
  const keys = Object.entries(sslKeys)
    .map(([key, value]) => `\n  ${key}: ${value}`)
    .join('');
  return `
source:
  connection: \${DATABASE_URL}
  slot: tls_test
  publication: tls_test${keys}
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: events
    table: events
    operations: [insert]
    webhook: \${RECEIVER}/events
`;
}

/** Runs walhook with `yaml`, inserts a row and waits for its delivery. */
async function delivers(yaml: string, databaseUrl: string): Promise<WalhookProcess> {
  const walhook = await WalhookProcess.start(yaml, { DATABASE_URL: databaseUrl, RECEIVER: receiver.url });
  const id = ++delivered;
  await db.query('INSERT INTO events VALUES ($1, $2)', [id, `row ${id}`]);
  const deliveries = await receiver.waitFor(id, '/events');
  assert.equal(deliveries.at(-1)?.body.event.data.new.id, id, walhook.tail());
  return walhook;
}

/** `walhook run` that must stop by itself with one line naming the certificate problem. */
async function refused(yaml: string, databaseUrl: string, expected: RegExp): Promise<void> {
  const path = await writeConfig(yaml);
  const result = await runCli(
    ['run', '--config', path],
    { DATABASE_URL: databaseUrl, RECEIVER: receiver.url, PORT: '0' },
    60_000,
  );
  assert.equal(result.code, 2, `exit 2, not retries: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  assert.match(lines[0] as string, expected);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(!(result.stdout + result.stderr).includes(PASSWORD), 'the password is never printed');
  const logs = result.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
  assert.ok(!logs.some((l) => /retrying/.test(l.msg)), 'not retried');
  assert.ok(logs.some((l) => l.code === 'WALHOOK_ERR_SOURCE_TLS' && l.level === 'error'));
}

const NOT_VERIFIED =
  /^walhook: Postgres at localhost:\d+ \(sslmode=verify-full\): the server's certificate does not verify: unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); set source\.sslrootcert/;

test('the server refuses a plain connection for walhook role', async () => {
  const client = new pg.Client({ connectionString: url('127.0.0.1', '?sslmode=disable') });
  await assert.rejects(client.connect(), /pg_hba\.conf rejects connection .*no encryption/);
});

test('verify-full without the CA: walhook stops with one line naming the certificate problem (exit 2)', async () => {
  await refused(config({ sslmode: 'verify-full' }), url('localhost'), NOT_VERIFIED);
});

test('verify-full with another CA as sslrootcert: the same one line, exit 2', async () => {
  await refused(
    config({ sslmode: 'verify-full', sslrootcert: join(pki.dir, 'other-ca.crt') }),
    url('localhost'),
    NOT_VERIFIED,
  );
});

test('an sslrootcert that does not exist: one line naming the file, exit 2', async () => {
  const missing = join(pki.dir, 'missing-ca.crt');
  await refused(
    config({ sslmode: 'verify-full', sslrootcert: missing }),
    url('localhost'),
    new RegExp(
      `^walhook: Postgres at localhost:\\d+ \\(sslmode=verify-full\\): cannot read source\\.sslrootcert ${missing}: ENOENT$`,
    ),
  );
});

test('validate reports the unverified certificate as an error and passes with the CA', async () => {
  const env = { DATABASE_URL: url('localhost'), RECEIVER: receiver.url, PORT: '0' };
  const without = await runCli(
    ['validate', '--config', await writeConfig(config({ sslmode: 'verify-full' }))],
    env,
  );
  assert.equal(without.code, 2, without.stdout + without.stderr);
  assert.match(
    without.stdout,
    /^error +Postgres at localhost:\d+ \(sslmode=verify-full\): the server's certificate does not verify/m,
  );
  const withCa = await runCli(
    [
      'validate',
      '--config',
      await writeConfig(config({ sslmode: 'verify-full', sslrootcert: pki.ca.certFile })),
    ],
    env,
  );
  assert.equal(withCa.code, 0, withCa.stdout + withCa.stderr);
  assert.match(withCa.stdout, /^ok +wal_level is logical$/m);
});

test('verify-full with the CA (config keys, host localhost): delivered, and every walhook connection is encrypted', async () => {
  const yaml = config({ sslmode: 'verify-full', sslrootcert: pki.ca.certFile });
  const walhook = await delivers(yaml, url('localhost'));
  try {
    type Connection = { application_name: string; backend_type: string; ssl: boolean };
    let rows: Connection[] = [];
    await waitUntil(async () => {
      rows = (
        await db.query<Connection>(
          `SELECT a.application_name, a.backend_type, s.ssl FROM pg_stat_activity a
               JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.usename = $1`,
          [ROLE],
        )
      ).rows;
      const names = new Set(rows.map((r) => r.application_name));
      return ['walhook', 'walhook-lock', 'walhook-lookups', 'walhook-monitor'].every((n) => names.has(n));
    }, "walhook's connections to show in pg_stat_activity");
    assert.ok(
      rows.every((r) => r.ssl),
      `every connection encrypted: ${JSON.stringify(rows)}`,
    );
    const replication = await db.query(
      `SELECT r.application_name, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s ON s.pid = r.pid`,
    );
    assert.deepEqual(replication.rows, [{ application_name: 'walhook', ssl: true }]);
    const listed = await runCli(['dlq', 'list', '--config', await writeConfig(yaml)], {
      DATABASE_URL: url('localhost'),
      RECEIVER: receiver.url,
      PORT: '0',
    });
    assert.equal(listed.code, 0, listed.stdout + listed.stderr);
  } finally {
    assert.equal(await walhook.stop(), 0);
  }
});

test('verify-full with the CA in the URL, host 127.0.0.1 (the certificate has both names): delivered', async () => {
  const query = `?sslmode=verify-full&sslrootcert=${encodeURIComponent(pki.ca.certFile)}`;
  const walhook = await delivers(config(), url('127.0.0.1', query));
  assert.equal(await walhook.stop(), 0);
});

test('sslmode=require without a CA encrypts without verifying: delivered', async () => {
  const walhook = await delivers(config({ sslmode: 'require' }), url('127.0.0.1'));
  try {
    const replication = await db.query(
      `SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s ON s.pid = r.pid WHERE r.application_name = 'walhook'`,
    );
    assert.deepEqual(replication.rows, [{ ssl: true }]);
  } finally {
    assert.equal(await walhook.stop(), 0);
  }
});
