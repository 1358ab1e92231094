import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { POSTGRES_EPOCH_MICROS, parseLsn } from '../../src/core/lsn.js';
import type { PgoutputMessage, Relation } from '../../src/source/change.js';
import { decodePgoutput } from '../../src/source/pgoutput-decoder.js';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from '../helpers/embedded-postgres.js';

type Decoded = { rowLsn: bigint; message: PgoutputMessage };
type Row = (string | null)[];

let server: EmbeddedPostgresHandle | undefined;
let client: pg.Client;
let decoded: Decoded[];
const startedAt = Date.now();
// Random base64 does not compress, so the value is stored out of line and an update elsewhere leaves it unchanged.
const bigText = randomBytes(9000).toString('base64');
const oids: Record<string, number> = {};
const columns: Record<string, string[]> = {};
const snapshots: Record<string, Row> = {};
let insertXid = 0;

// Unparsed values are each type's output function, which pgoutput sends too; `col::text` is not always that
// (booleans cast to 'true' but are output as 't').
const rawText = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

async function rowAsText(table: string, where: string): Promise<Row> {
  const list = (columns[table] ?? []).map((c) => pg.escapeIdentifier(c)).join(', ');
  const text = `SELECT ${list} FROM ${table} WHERE ${where}`;
  const result = await client.query<Row>({ text, rowMode: 'array', types: rawText });
  assert.equal(result.rows.length, 1);
  return result.rows[0] as Row;
}

before(async () => {
  server = await startEmbeddedPostgres();
  await server.createDatabase('walhook_decoder');
  client = new pg.Client({ connectionString: server.url('walhook_decoder') });
  await client.connect();
  await client.query(`
    CREATE TYPE mood AS ENUM ('calm', 'busy');
    CREATE TABLE items (
      tenant integer, id bigint, name text NOT NULL, price numeric(10, 2), tags text[], meta jsonb,
      created_at timestamptz, active boolean, blob bytea, uid uuid, mood mood, note varchar(20),
      PRIMARY KEY (tenant, id)
    );
    CREATE TABLE audit (id integer, body text);
    ALTER TABLE audit REPLICA IDENTITY FULL;
    CREATE TABLE docs (id integer PRIMARY KEY, big text, counter integer);
    CREATE PUBLICATION pub FOR TABLE items, audit, docs;
  `);
  // Its own statement: a slot cannot be created in a transaction that has written.
  await client.query(`SELECT pg_create_logical_replication_slot('s', 'pgoutput')`);
  for (const table of ['items', 'audit', 'docs']) {
    const { rows } = await client.query<{ oid: number; names: string[] }>(
      `SELECT $1::regclass::oid AS oid, array_agg(attname::text ORDER BY attnum) AS names
       FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
      [table],
    );
    oids[table] = Number(rows[0]?.oid);
    columns[table] = rows[0]?.names ?? [];
  }

  await client.query('BEGIN');
  await client.query(`
    INSERT INTO items VALUES
      (1, 1, 'héllo 🐘 中文', 12.5, '{a,"b c"}', '{"k": [1, 2]}', '2024-02-29 12:34:56.789+00', true,
       '\\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'calm', 'short'),
      (1, 2, 'second', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
  insertXid = Number((await client.query('SELECT pg_current_xact_id()::text AS xid')).rows[0].xid);
  await client.query('COMMIT');
  snapshots.inserted1 = await rowAsText('items', 'id = 1');
  snapshots.inserted2 = await rowAsText('items', 'id = 2');

  await client.query(`UPDATE items SET name = 'renamed', price = price + 1 WHERE tenant = 1 AND id = 1`);
  snapshots.updated1 = await rowAsText('items', 'id = 1');
  await client.query('UPDATE items SET id = 20 WHERE tenant = 1 AND id = 2');
  snapshots.rekeyed = await rowAsText('items', 'id = 20');

  await client.query('BEGIN');
  await client.query(`INSERT INTO audit VALUES (1, 'first')`);
  await client.query(`UPDATE audit SET body = 'second'`);
  await client.query('DELETE FROM audit');
  await client.query('COMMIT');

  await client.query('DELETE FROM items WHERE tenant = 1 AND id = 1');
  await client.query('INSERT INTO docs VALUES (1, $1, 0)', [bigText]);
  await client.query('UPDATE docs SET counter = counter + 1 WHERE id = 1');
  await client.query('TRUNCATE items, audit RESTART IDENTITY CASCADE');
  // The non-transactional message goes first: the next commit flushes it, and peek reads only flushed WAL.
  await client.query(`SELECT pg_logical_emit_message(false, 'walhook', 'y')`);
  await client.query(`SELECT pg_logical_emit_message(true, 'walhook', 'x')`);

  const { rows } = await client.query<{ lsn: string; data: Buffer }>(
    `SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes('s', NULL, NULL,
       'proto_version', '1', 'publication_names', 'pub', 'messages', 'true')`,
  );
  decoded = rows.map((row) => ({ rowLsn: parseLsn(row.lsn), message: decodePgoutput(row.data) }));
});

after(async () => {
  await client?.end();
  await server?.stop();
});

/** The `index`-th decoded message with this tag. */
function messagesOf<T extends PgoutputMessage['tag']>(
  tag: T,
  index = 0,
): Extract<PgoutputMessage, { tag: T }> {
  const found = decoded.map((d) => d.message).filter((m) => m.tag === tag);
  const message = found[index];
  assert.ok(message, `no ${tag} message #${index}`);
  return message as Extract<PgoutputMessage, { tag: T }>;
}

function relation(table: string): Relation {
  const found = decoded.map((d) => d.message).find((m) => m.tag === 'relation' && m.relation.name === table);
  assert.ok(found?.tag === 'relation', `no Relation message for ${table}`);
  return found.relation;
}

const nulls = (n: number): Row => Array.from({ length: n }, () => null);

test('the decoded sequence follows the transactions', () => {
  assert.deepEqual(
    decoded.map((d) => d.message.tag),
    [
      ['begin', 'type', 'relation', 'insert', 'insert', 'commit'],
      ['begin', 'update', 'commit'],
      ['begin', 'update', 'commit'],
      ['begin', 'relation', 'insert', 'update', 'delete', 'commit'],
      ['begin', 'delete', 'commit'],
      ['begin', 'relation', 'insert', 'commit'],
      ['begin', 'update', 'commit'],
      // TRUNCATE invalidates the relations, so their schema (and the enum it uses) is sent again.
      ['begin', 'type', 'relation', 'relation', 'truncate', 'commit'],
      ['message'],
      ['begin', 'message', 'commit'],
    ].flat(),
  );
});

test('Begin and Commit agree on LSN and time, and match the server', () => {
  const begins = decoded.filter((d) => d.message.tag === 'begin');
  const commits = decoded.filter((d) => d.message.tag === 'commit');
  assert.equal(begins.length, commits.length);
  begins.forEach((b, i) => {
    const c = commits[i];
    assert.ok(b.message.tag === 'begin' && c?.message.tag === 'commit');
    assert.equal(c.message.commitLsn, b.message.finalLsn);
    assert.ok(c.message.endLsn > c.message.commitLsn);
    assert.equal(c.message.commitTime, b.message.commitTime);
    assert.equal(c.message.flags, 0);
    // The SQL interface reports a transaction's rows at its end LSN.
    assert.equal(c.rowLsn, c.message.endLsn);
    const commitMs = Number((c.message.commitTime + POSTGRES_EPOCH_MICROS) / 1000n);
    assert.ok(commitMs >= startedAt - 1000 && commitMs <= Date.now() + 1000, `commit time ${commitMs}`);
  });
  assert.equal(messagesOf('begin').xid, insertXid);
});

test('Relation and Type messages describe the catalog', async () => {
  const { rows } = await client.query<{ typid: number; typmod: number; key: boolean }>(
    `SELECT a.atttypid::int AS typid, a.atttypmod AS typmod,
            coalesce(a.attnum = ANY (i.indkey), false) AS key
     FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
     WHERE a.attrelid = 'items'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
  );
  assert.deepEqual(relation('items'), {
    id: oids.items,
    schema: 'public',
    name: 'items',
    replicaIdentity: 'default',
    columns: rows.map((r, i) => ({
      name: columns.items?.[i],
      typeOid: r.typid,
      typeModifier: r.typmod,
      isKey: r.key,
    })),
  });
  assert.deepEqual(
    relation('items')
      .columns.filter((c) => c.isKey)
      .map((c) => c.name),
    ['tenant', 'id'],
  );
  // Under REPLICA IDENTITY FULL every column is part of the identity.
  const audit = relation('audit');
  assert.equal(audit.replicaIdentity, 'full');
  assert.deepEqual(
    audit.columns.map((c) => [c.name, c.isKey]),
    [
      ['id', true],
      ['body', true],
    ],
  );
  const mood = (await client.query(`SELECT 'mood'::regtype::oid::int AS oid`)).rows[0].oid;
  assert.deepEqual(messagesOf('type'), { tag: 'type', typeOid: mood, schema: 'public', name: 'mood' });
});

test('Insert and Update carry the text form of every column', () => {
  assert.deepEqual(messagesOf('insert', 0), {
    tag: 'insert',
    relationId: oids.items,
    newTuple: snapshots.inserted1,
  });
  assert.deepEqual(messagesOf('insert', 1), {
    tag: 'insert',
    relationId: oids.items,
    newTuple: snapshots.inserted2,
  });
  assert.equal(snapshots.inserted1?.[2], 'héllo 🐘 中文');
  assert.deepEqual(messagesOf('update', 0), {
    tag: 'update',
    relationId: oids.items,
    keyTuple: null,
    oldTuple: null,
    newTuple: snapshots.updated1,
  });
});

test('a key change sends the old key, with the other columns null', () => {
  const width = columns.items?.length ?? 0;
  assert.deepEqual(messagesOf('update', 1), {
    tag: 'update',
    relationId: oids.items,
    keyTuple: ['1', '2', ...nulls(width - 2)],
    oldTuple: null,
    newTuple: snapshots.rekeyed,
  });
  assert.deepEqual(messagesOf('delete', 1), {
    tag: 'delete',
    relationId: oids.items,
    keyTuple: ['1', '1', ...nulls(width - 2)],
    oldTuple: null,
  });
});

test('REPLICA IDENTITY FULL sends the whole old row', () => {
  assert.deepEqual(messagesOf('insert', 2), {
    tag: 'insert',
    relationId: oids.audit,
    newTuple: ['1', 'first'],
  });
  assert.deepEqual(messagesOf('update', 2), {
    tag: 'update',
    relationId: oids.audit,
    keyTuple: null,
    oldTuple: ['1', 'first'],
    newTuple: ['1', 'second'],
  });
  assert.deepEqual(messagesOf('delete', 0), {
    tag: 'delete',
    relationId: oids.audit,
    keyTuple: null,
    oldTuple: ['1', 'second'],
  });
});

test('an unchanged TOASTed column decodes as undefined', () => {
  assert.deepEqual(messagesOf('insert', 3), {
    tag: 'insert',
    relationId: oids.docs,
    newTuple: ['1', bigText, '0'],
  });
  assert.deepEqual(messagesOf('update', 3).newTuple, ['1', undefined, '1']);
});

test('Truncate lists both tables with its options', () => {
  const truncate = messagesOf('truncate');
  assert.deepEqual(
    [...truncate.relationIds].sort((a, b) => a - b),
    [oids.items, oids.audit].sort((a, b) => (a ?? 0) - (b ?? 0)),
  );
  assert.equal(truncate.cascade, true);
  assert.equal(truncate.restartIdentity, true);
});

test('logical decoding messages, transactional or not', () => {
  const messages = decoded.filter((d) => d.message.tag === 'message');
  assert.deepEqual(
    messages.map(
      ({ message: m }) => m.tag === 'message' && [m.transactional, m.prefix, m.content.toString()],
    ),
    [
      [false, 'walhook', 'y'],
      [true, 'walhook', 'x'],
    ],
  );
  for (const { rowLsn, message } of messages) assert.equal(message.tag === 'message' && message.lsn, rowLsn);
});
