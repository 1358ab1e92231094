import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FileDeadLetterStore } from '../../src/dead-letters/file-store.js';
import { PostgresDeadLetterStore } from '../../src/dead-letters/postgres-store.js';
import type { DeadLetter, DeadLetterStore } from '../../src/dead-letters/store.js';
import { type Database, startDatabase } from '../helpers/database.js';
import { ROOT } from '../helpers/walhook.js';

const DAY_MS = 86_400_000;

function letter(id: string, overrides: Partial<DeadLetter> = {}): DeadLetter {
  const at = new Date('2026-03-01T10:00:00.123Z');
  return {
    id,
    trigger: 'orders_paid',
    table: 'public.orders',
    op: 'UPDATE',
    lsn: '0/16B3748',
    // Spacing, a big integer, escapes and non-ASCII text: the body must come back byte for byte.
    body: `{"id": "${id}",  "n":9007199254740993, "s":"caf\u00e9 \\u0000 \\"q\\""}`,
    attempts: 4,
    lastStatus: 503,
    lastError: 'HTTP 503',
    responseSnippet: 'upstream down',
    firstAttemptAt: at,
    lastAttemptAt: new Date(at.getTime() + 30_000),
    deadLetteredAt: new Date(at.getTime() + 30_001),
    ...overrides,
  };
}

/** The behaviour both stores share. */
function contract(open: () => Promise<DeadLetterStore>) {
  test('init is idempotent, also when two processes start together', async () => {
    const [a, b] = [await open(), await open()];
    await Promise.all([a.init(), b.init()]);
    await a.init();
    assert.equal(await a.count(), 0);
    await Promise.all([a.close(), b.close()]);
  });

  test('add, upsert, list in LSN order with filters, remove, purge, count', async () => {
    const store = await open();
    await store.init();
    const now = Date.now();
    // 0/100 sorts before 0/A0 as text but after it as an LSN.
    const late = letter('b1', { lsn: '0/100', trigger: 'other', deadLetteredAt: new Date(now - DAY_MS) });
    const early = letter('a1', { lsn: '0/A0', deadLetteredAt: new Date(now - 10 * DAY_MS) });
    const latest = letter('c1', {
      lsn: '1/5',
      lastStatus: null,
      lastError: 'connect ECONNREFUSED',
      responseSnippet: null,
      deadLetteredAt: new Date(now - 20 * DAY_MS),
    });
    for (const item of [late, latest, early]) await store.add(item);
    assert.deepEqual(await store.list(), [early, late, latest]);
    assert.equal(await store.count(), 3);

    // A replayed change dead-lettered again replaces its record.
    const again = { ...early, attempts: 9, body: '{"id":"a1","second":true}', lastStatus: 410 };
    await store.add(again);
    assert.equal(await store.count(), 3);
    assert.deepEqual(await store.list({ id: 'a1' }), [again]);

    assert.deepEqual(await store.list({ trigger: 'orders_paid' }), [again, latest]);
    assert.deepEqual(await store.list({ olderThan: new Date(now - 5 * DAY_MS) }), [again, latest]);
    assert.deepEqual(await store.list({ trigger: 'other', olderThan: new Date(now - 5 * DAY_MS) }), []);
    assert.deepEqual(await store.list({ id: 'nope' }), []);

    assert.equal(await store.remove(['b1', 'nope']), 1);
    assert.equal(await store.remove([]), 0);
    assert.deepEqual(await store.list(), [again, latest]);

    assert.equal(await store.purge({ olderThan: new Date(now - 15 * DAY_MS) }), 1);
    assert.deepEqual(await store.list(), [again]);
    assert.equal(await store.purge({ trigger: 'other' }), 0);
    assert.equal(await store.purge({ trigger: 'orders_paid' }), 1);
    assert.equal(await store.count(), 0);
    await store.close();
  });
}

describe('Postgres store', () => {
  let db: Database;
  before(async () => {
    db = await startDatabase('dead_letter_store');
  });
  after(() => db.close());

  contract(async () => new PostgresDeadLetterStore(db.url, 'walhook.dead_letters'));

  test('writing a dead letter produces no change for a slot on a publication of other tables', async () => {
    await db.query('CREATE TABLE public.orders (id int PRIMARY KEY)');
    await db.query('CREATE PUBLICATION walhook_test FOR TABLE public.orders');
    await db.query("SELECT pg_create_logical_replication_slot('dead_letter_test', 'pgoutput')");
    const store = new PostgresDeadLetterStore(db.url, 'ops.failed_events');
    await store.init();
    await store.add(letter('x1'));
    await db.query('INSERT INTO public.orders VALUES (1)');
    await store.add(letter('x2'));

    const published = await db.query("SELECT 1 FROM pg_publication_tables WHERE tablename = 'failed_events'");
    assert.equal(published.rowCount, 0, 'in no publication');
    const { rows } = await db.query<{ data: Buffer }>(
      `SELECT data FROM pg_logical_slot_peek_binary_changes('dead_letter_test', NULL, NULL,
         'proto_version', '1', 'publication_names', 'walhook_test')`,
    );
    const relations = rows
      .filter((row) => row.data[0] === 'R'.charCodeAt(0))
      .map((row) => row.data.subarray(5).toString('latin1').split('\0').slice(0, 2).join('.'));
    const inserts = rows.filter((row) => row.data[0] === 'I'.charCodeAt(0));
    assert.deepEqual(relations, ['public.orders']);
    assert.equal(inserts.length, 1, 'only the orders insert');
    await store.close();
    await db.query("SELECT pg_drop_replication_slot('dead_letter_test')");
  });
});

describe('file store', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'walhook-dead-letters-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));
  let n = 0;
  const freshPath = () => join(dir, `store-${++n}`, 'dead-letters.jsonl');

  describe('contract', () => {
    let path: string;
    before(() => {
      path = freshPath();
    });
    contract(async () => new FileDeadLetterStore(path));
  });

  test('a line torn by a crash is skipped and does not swallow the next record', async () => {
    const path = freshPath();
    const store = new FileDeadLetterStore(path);
    await store.init();
    await store.add(letter('t1'));
    await writeFile(path, `${await readFile(path, 'utf8')}{"id":"t2","trig`);
    await store.add(letter('t3'));
    assert.deepEqual(
      (await store.list()).map((item) => item.id),
      ['t1', 't3'],
    );
    assert.equal(await store.remove(['t1']), 1);
    assert.deepEqual(
      (await store.list()).map((item) => item.id),
      ['t3'],
    );
  });

  test('appends from several processes and rewrites in parallel lose nothing', async () => {
    const path = freshPath();
    const store = new FileDeadLetterStore(path);
    await store.init();
    const doomed = Array.from({ length: 25 }, (_, i) => letter(`doomed-${i}`, { trigger: 'doomed' }));
    for (const item of doomed) await store.add(item);

    const perWriter = 40;
    const writerScript = `
      const { FileDeadLetterStore } = await import(process.env.STORE_MODULE);
      const store = new FileDeadLetterStore(process.env.STORE_PATH);
      const at = new Date();
      for (let i = 0; i < ${perWriter}; i++) {
        const id = process.env.WRITER + '-' + i;
        await store.add({ id, trigger: process.env.WRITER, table: 'public.t', op: 'INSERT', lsn: '0/' + (i + 1).toString(16),
          body: JSON.stringify({ id }), attempts: 1, lastStatus: 500, lastError: 'HTTP 500', responseSnippet: null,
          firstAttemptAt: at, lastAttemptAt: at, deadLetteredAt: at });
      }
      await store.close();`;
    const writers = ['w1', 'w2', 'w3'].map(async (writer) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', writerScript], {
        cwd: ROOT,
        env: {
          ...process.env,
          WRITER: writer,
          STORE_PATH: path,
          STORE_MODULE: join(ROOT, 'src/dead-letters/file-store.ts'),
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      const [code] = await once(child, 'exit');
      assert.equal(code, 0, `writer ${writer}`);
    });
    // A second instance in this process appends too, while the first one rewrites letter by letter.
    const local = new FileDeadLetterStore(path);
    const localWrites = (async () => {
      for (let i = 0; i < perWriter; i++) await local.add(letter(`local-${i}`, { trigger: 'local' }));
    })();
    const rewrites = (async () => {
      for (const item of doomed) assert.equal(await store.remove([item.id]), 1);
    })();
    await Promise.all([...writers, localWrites, rewrites]);

    const letters = await store.list();
    assert.equal(letters.length, 4 * perWriter);
    assert.equal(new Set(letters.map((item) => item.id)).size, 4 * perWriter);
    assert.equal(
      letters.filter((item) => item.trigger === 'doomed').length,
      0,
      'every rewrite removed its letter',
    );
    const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
    assert.equal(lines.length, 4 * perWriter, 'no duplicated or torn lines');
    assert.deepEqual(await readdir(join(path, '..')), ['dead-letters.jsonl']);
  });

  test('a stale lock is taken over; a live one is waited for', async () => {
    const path = freshPath();
    const lock = `${path}.lock`;
    const store = new FileDeadLetterStore(path, { lockTimeoutMs: 500 });
    await store.init();

    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    await writeFile(lock, JSON.stringify({ pid: child.pid, host: hostname(), token: 'dead' }));
    await store.add(letter('after-dead-holder'));

    // A holder that stopped refreshing its lock long ago, whatever its pid now belongs to.
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), token: 'hung' }));
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(lock, hourAgo, hourAgo);
    await store.remove(['after-dead-holder']);
    await store.add(letter('after-hung-holder'));

    await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), token: 'live' }));
    await assert.rejects(store.add(letter('while-held')), /still locked by another process/);
    await rm(lock);
    await store.add(letter('after-release'));

    assert.deepEqual(
      (await store.list()).map((item) => item.id),
      ['after-hung-holder', 'after-release'],
    );
    assert.deepEqual(await readdir(join(path, '..')), ['dead-letters.jsonl']);
  });
});
