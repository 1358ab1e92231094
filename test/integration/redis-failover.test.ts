import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { type Database, startDatabase } from '../helpers/database.js';
import { sleep } from '../helpers/receiver.js';
import {
  RedisAddress,
  RedisSentinel,
  RedisServer,
  readStream,
  waitForLength,
  waitForSync,
} from '../helpers/redis.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

const SLOT = 'redis_failover_test';
const TRANSACTIONS = 40;
const ROWS = 200;
const TOTAL = TRANSACTIONS * ROWS;

let db: Database;

/** A trigger on `table` writing to a Redis stream through `sink` (YAML flow mapping keys), with WAIT 1. */
const config = (table: string, sink: string) => `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
  - name: ${table}
    table: ${table}
    operations: [insert]
    sink: { type: redis, ${sink}, wait: { replicas: 1, timeout_ms: 500 }, ack_timeout_sec: 2 }
`;

before(async () => {
  db = await startDatabase('redis_failover');
  for (const table of ['orders', 'payments']) {
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, amount numeric, note text)`);
  }
});

after(async () => {
  await db?.close();
});

/** Inserts TOTAL rows into `table`, in TRANSACTIONS transactions a little apart. */
async function write(table: string): Promise<void> {
  for (let t = 0; t < TRANSACTIONS; t++) {
    await db.query(
      `INSERT INTO ${table} SELECT g, g * 1.5, 'row ' || g FROM generate_series($1::int, $1::int + $2::int - 1) g`,
      [t * ROWS + 1, ROWS],
    );
    await sleep(25);
  }
}

/** The events walhook logged as delivered so far. */
function deliveredBy(walhook: WalhookProcess): Set<string> {
  return new Set(
    walhook.logs
      .filter((l) => l.msg === 'delivery attempt' && l.outcome === 'delivered')
      .map((l) => l.event_id as string),
  );
}

/** Every event of `table` arrived in `stream` on `server`, once or more; the log line says how it went. */
async function assertAllArrived(server: Redis, stream: string, walhook: WalhookProcess, what: string) {
  await waitForLength(server, stream, TOTAL, 120_000);
  await db.waitForConfirmed(SLOT, 120_000);
  const entries = await readStream(server, stream);
  const ids = new Set(entries.map((entry) => entry.fields.id));
  assert.equal(ids.size, TOTAL, 'every event once or more');
  const rows = new Set(entries.map((entry) => JSON.parse(entry.fields.payload as string).event.data.new.id));
  assert.equal(rows.size, TOTAL, 'every inserted row');
  const metrics = await (await fetch(`http://127.0.0.1:${walhook.port}/metrics`)).text();
  const retries = /walhook_delivery_attempts_total\{trigger="\w+",outcome="retry"[^}]*\} (\d+)/.exec(
    metrics,
  )?.[1];
  console.log(`${what}; ${retries ?? 0} attempts retried, ${entries.length - TOTAL} entries repeated`);
}

test('WAIT 1: SIGKILL the primary mid-stream, promote the replica: nothing walhook counted as delivered is lost', async () => {
  const primary = await RedisServer.start();
  const replica = await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  const onReplica = replica.client();
  // walhook knows the primary by one address (a virtual IP, a DNS name); the failover moves it.
  const address = await RedisAddress.start(primary.port);
  const stream = 'walhook:public.orders';
  try {
    await waitForSync(onReplica);
    const walhook = await WalhookProcess.start(config('orders', `url: "${address.url}"`), {
      DATABASE_URL: db.url,
    });
    try {
      const writing = write('orders');
      await waitForLength(onReplica, stream, TOTAL / 4, 60_000);
      await primary.stop('SIGKILL');
      // Nothing can be delivered now until the address moves: let the log lines in the pipe arrive.
      await sleep(500);
      const delivered = deliveredBy(walhook);
      await onReplica.call('REPLICAOF', 'NO', 'ONE');
      const onPromoted = new Set((await readStream(onReplica, stream)).map((entry) => entry.fields.id));
      const lost = [...delivered].filter((id) => !onPromoted.has(id));
      assert.deepEqual(lost, [], 'every entry counted as delivered was on the replica');
      // The address moves to the new primary, and the old one comes back empty as its replica, so
      // that WAIT 1 can be met again.
      address.move(replica.port);
      await primary.restart(['--replicaof', '127.0.0.1', String(replica.port)]);
      await writing;
      await assertAllArrived(
        onReplica,
        stream,
        walhook,
        `redis failover: ${TOTAL} events, primary SIGKILLed with ${delivered.size} delivered, all on the promoted replica`,
      );
    } finally {
      await walhook.stop();
    }
  } finally {
    onReplica.disconnect();
    await address.close();
    await Promise.all([primary.destroy(), replica.destroy()]);
  }
});

test('sentinels: SIGKILL the master mid-stream; walhook follows the Sentinel failover and loses nothing it counted', async () => {
  const master = await RedisServer.start();
  const standby = await RedisServer.start({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  const onStandby = standby.client();
  const sentinels: RedisSentinel[] = [];
  const stream = 'walhook:public.payments';
  try {
    await waitForSync(onStandby);
    for (let i = 0; i < 3; i++) sentinels.push(await RedisSentinel.start('walhook', master.port, 2));
    // A failover needs the sentinels to know each other and the replica.
    await Promise.all(sentinels.map((s) => Promise.all([s.waitFor('+sentinel ', 2), s.waitFor('+slave ')])));
    const list = sentinels.map((s) => `"${s.url}"`).join(', ');
    const yaml = config('payments', `sentinels: [${list}], master_name: walhook`);
    // validate asks the sentinels for the master, as delivery does.
    const validated = await runCli(['validate', '--config', await writeConfig(yaml)], {
      DATABASE_URL: db.url,
      PORT: '0',
    });
    assert.match(
      validated.stdout,
      /^ok +triggers\[0\] \(payments\): Redis walhook via .* reachable, a master with 1 connected replicas$/m,
    );
    const walhook = await WalhookProcess.start(yaml, { DATABASE_URL: db.url });
    try {
      const writing = write('payments');
      await waitForLength(onStandby, stream, TOTAL / 4, 60_000);
      await master.stop('SIGKILL');
      // Sentinels wait a second before they call the master down: let the log lines in the pipe arrive.
      await sleep(500);
      const delivered = deliveredBy(walhook);
      await (sentinels[0] as RedisSentinel).waitFor('+switch-master');
      const onPromoted = new Set((await readStream(onStandby, stream)).map((entry) => entry.fields.id));
      const lost = [...delivered].filter((id) => !onPromoted.has(id));
      assert.deepEqual(lost, [], 'every entry counted as delivered was on the promoted replica');
      await master.restart(['--replicaof', '127.0.0.1', String(standby.port)]);
      await writing;
      await assertAllArrived(
        onStandby,
        stream,
        walhook,
        `redis sentinel failover: ${TOTAL} events, master SIGKILLed with ${delivered.size} delivered, all on the promoted replica`,
      );
    } finally {
      await walhook.stop();
    }
  } finally {
    onStandby.disconnect();
    await Promise.all([...sentinels.map((s) => s.destroy()), master.destroy(), standby.destroy()]);
  }
});
