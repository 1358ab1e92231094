import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { eventId } from '../../src/core/event-id.js';
import { type Database, lsnValue, startDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/embedded-postgres.js';
import { sleep, waitUntil } from '../helpers/receiver.js';
import { RedisServer, readStream, type StoredEntry, waitForLength } from '../helpers/redis.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

const SLOT = 'redis_sink_test';
const ITEMS = 'walhook:public.items';

let db: Database;
let redis: RedisServer;
let client: Redis;
let systemId: string;

// `wrong_type` writes to a key that holds a string: every XADD is refused with WRONGTYPE. It has no
// `retry`, so only the refusal being final keeps it from retrying forever.
const CONFIG = `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
server:
  host: 127.0.0.1
  port: \${PORT}
shutdown_grace_sec: 2
triggers:
  - name: to_redis
    table: items
    operations: [insert, update, delete]
    sink:
      type: redis
      url: \${REDIS}
      ack_timeout_sec: 1
  - name: odd_to_redis
    table: '"My Schema"."Odd.Name"'
    operations: [insert]
    sink: { type: redis, url: "\${REDIS}", stream: "odd:{schema}:{table}", fields: [id, trigger, payload], maxlen: 1000 }
  - name: wrong_type
    table: taken
    operations: [insert]
    sink: { type: redis, url: "\${REDIS}", stream: "taken:{table}" }
`;

const env = () => ({ DATABASE_URL: db.url, REDIS: redis.url });

before(async () => {
  db = await startDatabase('redis_sink');
  await db.query('CREATE TABLE items (id int PRIMARY KEY, qty int, note text)');
  await db.query('CREATE TABLE taken (id int PRIMARY KEY)');
  await db.query('CREATE SCHEMA "My Schema"');
  await db.query('CREATE TABLE "My Schema"."Odd.Name" (id int PRIMARY KEY)');
  systemId = (await db.query('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]?.id;
  redis = await RedisServer.start({ aof: true });
  client = redis.client();
});

after(async () => {
  client?.disconnect();
  await redis?.destroy();
  await db?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: payload assertions read arbitrary fields
type Event = any;
const payloadOf = (entry: StoredEntry): Event => JSON.parse(entry.fields.payload as string);

/** The first entry of each event id, in stream order: what a consumer deduplicating by id keeps. */
function firstOfEach(entries: readonly StoredEntry[]): StoredEntry[] {
  const seen = new Set<string>();
  return entries.filter((entry) => {
    const id = entry.fields.id as string;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

test('inserts, updates and deletes are entries of the table stream with the event id, in row order', async () => {
  const walhook = await WalhookProcess.start(CONFIG, env());
  try {
    await db.query(`INSERT INTO items SELECT g, 0, 'row ' || g FROM generate_series(1, 50) g`);
    for (let round = 1; round <= 3; round++) {
      await db.query('UPDATE items SET qty = $1 WHERE id <= 10', [round]);
    }
    await db.query('DELETE FROM items WHERE id > 40');
    await db.query('INSERT INTO "My Schema"."Odd.Name" VALUES (1)');
    const total = 50 + 3 * 10 + 10;
    await waitForLength(client, ITEMS, total);
    await db.waitForConfirmed(SLOT);

    const entries = await readStream(client, ITEMS);
    const events = firstOfEach(entries);
    assert.equal(events.length, total, 'every event once or more');
    for (const entry of events) {
      assert.deepEqual(Object.keys(entry.fields), ['id', 'op', 'table', 'lsn', 'payload']);
      const event = payloadOf(entry);
      assert.equal(entry.fields.id, event.id);
      assert.equal(event.id, eventId(systemId, lsnValue(event.source.lsn), event.source.index, 'to_redis'));
      assert.equal(entry.fields.op, event.event.op);
      assert.equal(entry.fields.table, 'public.items');
      assert.equal(entry.fields.lsn, event.source.lsn);
      assert.equal(event.trigger.name, 'to_redis');
      assert.deepEqual(event.delivery_info, { max_retries: 0, current_retry: 0 });
    }

    // A row's events are entries in commit order: each waited for the previous one's answer.
    for (let id = 1; id <= 10; id++) {
      const qtys = events
        .map((entry) => payloadOf(entry).event.data.new)
        .filter((row) => row?.id === id)
        .map((row) => row.qty);
      assert.deepEqual(qtys, [0, 1, 2, 3], `order of row ${id}`);
    }

    const odd = await readStream(client, 'odd:My%20Schema:Odd%2EName');
    assert.equal(odd.length, 1);
    assert.deepEqual(Object.keys(odd[0]?.fields ?? {}), ['id', 'trigger', 'payload']);
    assert.equal(odd[0]?.fields.trigger, 'odd_to_redis');
    assert.deepEqual(payloadOf(odd[0] as StoredEntry).table, { schema: 'My Schema', name: 'Odd.Name' });
  } finally {
    await walhook.stop();
  }
});

test('WRONGTYPE (the key is no stream) is final: a dead letter with the reason after one attempt', async () => {
  await client.set('taken:taken', 'not a stream');
  const walhook = await WalhookProcess.start(CONFIG, env());
  try {
    await db.query('INSERT INTO taken SELECT g FROM generate_series(1, 3) g');
    const letters = async () =>
      (
        await db.query<{ id: string; trigger: string; attempts: number; last_error: string; body: string }>(
          'SELECT id, trigger, attempts, last_error, body FROM walhook.dead_letters ORDER BY id',
        )
      ).rows;
    await waitUntil(async () => (await letters().catch(() => [])).length === 3, '3 dead letters');
    await db.waitForConfirmed(SLOT);
    for (const letter of await letters()) {
      assert.equal(letter.trigger, 'wrong_type');
      assert.equal(letter.attempts, 1, 'no retry: it would be refused the same way');
      assert.match(letter.last_error, /^network: WRONGTYPE /);
      assert.equal(JSON.parse(letter.body).id, letter.id);
    }
    const failures = walhook.logs.filter((l) => l.code === 'WALHOOK_ERR_DELIVERY_FAILED');
    assert.equal(failures.length, 3);
    assert.ok(failures.every((l) => l.msg === 'redis delivery failed after 1 attempt' && l.final_status));
    assert.equal(await client.get('taken:taken'), 'not a stream', 'the key is left as it was');
  } finally {
    await walhook.stop();
  }
});

test('SIGKILL Redis mid-stream (AOF, fsync always) and restart: acknowledged entries are intact, the rest arrive', async () => {
  const before = await client.xlen(ITEMS);
  const walhook = await WalhookProcess.start(CONFIG, env());
  const transactions = 40;
  const rows = 100;
  const total = transactions * rows;
  try {
    const writing = (async () => {
      for (let t = 0; t < transactions; t++) {
        await db.query(
          `INSERT INTO items SELECT g, 0, 'kill' FROM generate_series($1::int, $1::int + $2::int - 1) g`,
          [1000 + t * rows, rows],
        );
        await sleep(20);
      }
    })();
    await waitForLength(client, ITEMS, before + 1000);
    await redis.stop('SIGKILL');
    // What walhook counted as delivered by then must survive the crash; nothing is delivered while Redis
    // is down, so waiting lets the log lines still in the pipe arrive.
    await sleep(500);
    const delivered = new Set(
      walhook.logs
        .filter((l) => l.trigger === 'to_redis' && l.msg === 'delivery attempt' && l.outcome === 'delivered')
        .map((l) => l.event_id as string),
    );
    await writing;
    const written = lsnValue((await db.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn);
    await sleep(2_000);
    const confirmed = lsnValue((await db.confirmedLsn(SLOT)) as string);
    assert.ok(confirmed < written, 'confirmed_flush_lsn stays before the changes Redis has not taken');

    await redis.restart();
    await waitForLength(client, ITEMS, before + total, 60_000);
    await db.waitForConfirmed(SLOT, 60_000);
    const entries = (await readStream(client, ITEMS)).slice(before);
    const ids = new Set(entries.map((entry) => entry.fields.id));
    assert.equal(ids.size, total, 'every event once or more');
    const missing = [...delivered].filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], 'every entry acknowledged before the kill is still there');
    const rowIds = new Set(entries.map((entry) => payloadOf(entry).event.data.new.id));
    assert.equal(rowIds.size, total, 'every inserted row');
    console.log(
      `redis sigkill: ${total} events, ${delivered.size} acknowledged before the kill, ` +
        `${entries.length - total} entries repeated by retries`,
    );
  } finally {
    await walhook.stop();
  }
});

test('validate: a master is ok; a replica, missing replicas for wait and no server are warnings', async () => {
  const replica = await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(redis.port)] });
  const closed = await freePort();
  const validate = async (sink: string) => {
    const yaml = `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
triggers:
  - name: orders
    table: items
    operations: [insert]
    sink: { type: redis, ${sink} }
`;
    const result = await runCli(['validate', '--config', await writeConfig(yaml)], { DATABASE_URL: db.url });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    return (
      result.stdout.split('\n').find((line) => line.includes('triggers[0] (orders): Redis')) ?? result.stdout
    );
  };
  try {
    assert.match(
      await validate(`url: "${redis.url}"`),
      /^ok +triggers\[0\] \(orders\): Redis redis:\/\/127\.0\.0\.1:\d+ reachable, a master$/,
    );
    assert.equal(
      await validate(`url: "${replica.url}"`),
      `warn  triggers[0] (orders): Redis ${replica.url} is a replica: it refuses every XADD (READONLY); point sink.url at the primary, or use sink.sentinels to follow failovers; until then every XADD is retried`,
    );
    assert.match(
      await validate(`url: "${redis.url}", wait: { replicas: 2 }`),
      /^warn +triggers\[0\] \(orders\): Redis \S+ has [01] connected replicas, sink.wait.replicas is 2; /,
    );
    assert.match(
      await validate(`url: "redis://:pa55word@127.0.0.1:${closed}"`),
      new RegExp(
        `^warn +triggers\\[0\\] \\(orders\\): Redis redis://127\\.0\\.0\\.1:${closed} not reachable: `,
      ),
    );
  } finally {
    await replica.destroy();
  }
});
