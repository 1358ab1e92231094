import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { Channel, ChannelModel } from 'amqplib';
import { eventId } from '../../src/core/event-id.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { type Database, lsnValue, startDatabase } from '../helpers/database.js';
import { freePort } from '../helpers/embedded-postgres.js';
import { bindQueue, connectTo, consume, RabbitNode, type Received, rabbitHome } from '../helpers/rabbitmq.js';
import { sleep, waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

const SLOT = 'rabbitmq_sink_test';
const QUEUE = 'everything';

let db: Database;
let home: string;
let rabbit: RabbitNode;
let client: { model: ChannelModel; channel: Channel };
let received: Received[];
let systemId: string;
let pki: TestPki;

// `nowhere` publishes to an exchange no queue is bound to: every message comes back unroutable.
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
  - name: to_rabbit
    table: items
    operations: [insert, update, delete]
    sink:
      type: rabbitmq
      urls: ["\${RABBITMQ}"]
      ack_timeout_sec: 2
  - name: odd_to_rabbit
    table: '"My Schema"."Odd.Name"'
    operations: [insert]
    sink: { type: rabbitmq, urls: ["\${RABBITMQ}"], routing_key: "odd.{schema}.{table}.{op}" }
  - name: nowhere
    table: lost
    operations: [insert]
    sink: { type: rabbitmq, urls: ["\${RABBITMQ}"], exchange: unbound }
    retry: { num_retries: 2, interval_sec: 0 }
`;

const env = () => ({ DATABASE_URL: db.url, RABBITMQ: rabbit.url });

before(async () => {
  db = await startDatabase('rabbitmq_sink');
  await db.query('CREATE TABLE items (id int PRIMARY KEY, qty int, note text)');
  await db.query('CREATE TABLE lost (id int PRIMARY KEY)');
  await db.query('CREATE SCHEMA "My Schema"');
  await db.query('CREATE TABLE "My Schema"."Odd.Name" (id int PRIMARY KEY)');
  systemId = (await db.query('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]?.id;
  home = await rabbitHome();
  pki = makeTestPki();
  rabbit = await RabbitNode.start(home, 'rabbit', {
    caFile: pki.ca.certFile,
    certFile: pki.server.certFile,
    keyFile: pki.server.keyFile,
  });
  client = await connectTo([rabbit]);
  await bindQueue(client.channel, { exchange: 'walhook', queue: QUEUE });
  received = (await consume(client.channel, QUEUE)).messages;
});

after(async () => {
  await client?.model.close().catch(() => {});
  await rabbit?.destroy();
  if (home) await rm(home, { recursive: true, force: true });
  if (pki) await rm(pki.dir, { recursive: true, force: true });
  await db?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: payload assertions read arbitrary fields
type Event = any;
const ofTrigger = (trigger: string) => received.filter((m) => m.headers.trigger === trigger);
const waitForMessages = (trigger: string, count: number, timeoutMs = 30_000) =>
  waitUntil(
    () => new Set(ofTrigger(trigger).map((m) => m.id)).size >= count,
    `${count} messages of ${trigger}`,
    timeoutMs,
  );

async function metric(walhook: WalhookProcess, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${walhook.port}/metrics`)).text();
  const match = new RegExp(`^${name}\\{[^}]*${labels}[^}]*\\} (\\S+)$`, 'm').exec(text);
  return Number(match?.[1] ?? Number.NaN);
}

test('inserts, updates and deletes arrive as persistent messages, the event id as message id, each row in order', async () => {
  const walhook = await WalhookProcess.start(CONFIG, env());
  try {
    await db.query(`INSERT INTO items SELECT g, 0, 'row ' || g FROM generate_series(1, 50) g`);
    for (let round = 1; round <= 3; round++) {
      await db.query('UPDATE items SET qty = $1 WHERE id <= 10', [round]);
    }
    await db.query('DELETE FROM items WHERE id > 40');
    await db.query('INSERT INTO "My Schema"."Odd.Name" VALUES (1)');
    const total = 50 + 3 * 10 + 10;
    await waitForMessages('to_rabbit', total);
    await waitForMessages('odd_to_rabbit', 1);

    const messages = ofTrigger('to_rabbit');
    assert.equal(new Set(messages.map((m) => m.id)).size, total);
    for (const message of messages) {
      const event: Event = JSON.parse(message.body);
      const op = event.event.op;
      assert.equal(event.trigger.name, 'to_rabbit');
      assert.equal(event.id, eventId(systemId, lsnValue(event.source.lsn), event.source.index, 'to_rabbit'));
      assert.equal(message.id, event.id, 'message_id is the event id');
      assert.equal(message.routingKey, `public.items.${op.toLowerCase()}`);
      assert.ok(message.persistent, 'delivery mode 2');
      assert.equal(message.contentType, 'application/json');
      assert.ok(Math.abs((message.timestamp ?? 0) - Date.now() / 1000) < 120, 'timestamp: the publish time');
      assert.deepEqual(
        { table: message.headers.table, op: message.headers.op, lsn: message.headers.lsn },
        { table: 'public.items', op, lsn: event.source.lsn },
      );
      assert.match(String(message.headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      assert.deepEqual(event.delivery_info, { max_retries: 0, current_retry: 0 });
    }

    // A row's messages are queued in commit order: each waited for the previous one's confirm.
    for (let id = 1; id <= 10; id++) {
      const qtys = messages
        .map((m) => JSON.parse(m.body).event.data.new)
        .filter((row) => row?.id === id)
        .map((row) => row.qty);
      assert.deepEqual(qtys, [0, 1, 2, 3], `order of row ${id}`);
    }

    // The dot in the table's name stays inside its routing word.
    const [odd] = ofTrigger('odd_to_rabbit');
    assert.equal(odd?.routingKey, 'odd.My%20Schema.Odd%2EName.insert');
    assert.deepEqual(JSON.parse(odd?.body ?? '{}').table, { schema: 'My Schema', name: 'Odd.Name' });
  } finally {
    await walhook.stop();
  }
});

test('an unroutable message is retried, then dead-lettered with the reason; the slot moves on', async () => {
  const walhook = await WalhookProcess.start(CONFIG, env());
  try {
    await db.query('INSERT INTO lost SELECT g FROM generate_series(1, 3) g');
    const letters = async () =>
      (
        await db.query<{ id: string; trigger: string; attempts: number; last_error: string; body: string }>(
          "SELECT id, trigger, attempts, last_error, body FROM walhook.dead_letters WHERE trigger = 'nowhere' ORDER BY id",
        )
      ).rows;
    await waitUntil(async () => (await letters().catch(() => [])).length === 3, '3 dead letters');
    await db.waitForConfirmed(SLOT);
    for (const letter of await letters()) {
      assert.equal(letter.attempts, 3, 'the first publish and its two retries');
      assert.match(
        letter.last_error,
        /^network: unroutable \(312 NO_ROUTE\): no queue bound to exchange unbound takes routing key public\.lost\.insert$/,
      );
      assert.equal(JSON.parse(letter.body).id, letter.id);
    }
    assert.equal(ofTrigger('nowhere').length, 0, 'nothing reached the bound queue');
    const failures = walhook.logs.filter((l) => l.code === 'WALHOOK_ERR_DELIVERY_FAILED');
    assert.ok(
      failures.every((l) => l.msg === 'rabbitmq delivery failed after 3 attempts'),
      JSON.stringify(failures),
    );
  } finally {
    await walhook.stop();
  }
});

test('a memory alarm blocks publishing: walhook stops reading the slot, and goes on once it clears', async () => {
  const walhook = await WalhookProcess.start(CONFIG, env());
  try {
    await db.waitForConfirmed(SLOT);
    const before = ofTrigger('to_rabbit').length;
    const distinct = new Set(ofTrigger('to_rabbit').map((m) => m.id)).size;
    await rabbit.ctl('set_vm_memory_high_watermark', '0');
    await db.query(`INSERT INTO items SELECT g, 0, 'blocked' FROM generate_series(1001, 1010) g`);
    await walhook.waitForLog(
      (l) => l.msg === "a sink's broker blocks publishing; pausing replication",
      'replication paused by connection.blocked',
    );
    assert.ok(walhook.logs.some((l) => l.msg === 'RabbitMQ blocks publishing; walhook waits'));
    await sleep(500);
    const matched = await metric(walhook, 'walhook_events_matched_total', 'trigger="to_rabbit"');
    await db.query(`INSERT INTO items SELECT g, 0, 'blocked' FROM generate_series(1011, 1020) g`);
    const written = lsnValue((await db.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn);
    await sleep(3_000);
    assert.equal(await metric(walhook, 'walhook_replication_paused'), 1, 'reading is paused');
    assert.equal(
      await metric(walhook, 'walhook_events_matched_total', 'trigger="to_rabbit"'),
      matched,
      'nothing more was read from the slot',
    );
    assert.ok(
      lsnValue((await db.confirmedLsn(SLOT)) as string) < written,
      'nothing confirmed past the writes',
    );

    await rabbit.ctl('set_vm_memory_high_watermark', '0.4');
    await waitForMessages('to_rabbit', distinct + 20, 60_000);
    await db.waitForConfirmed(SLOT);
    assert.equal(await metric(walhook, 'walhook_replication_paused'), 0, 'reading again');
    const ids = ofTrigger('to_rabbit')
      .slice(before)
      .map((m) => JSON.parse(m.body).event.data.new.id);
    assert.deepEqual(
      [...new Set(ids)].sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => 1001 + i),
    );
  } finally {
    await rabbit.ctl('set_vm_memory_high_watermark', '0.4').catch(() => {});
    await walhook.stop();
  }
});

test('20,000 inserts of one transaction reach the queue, each once or more, timed', async () => {
  const walhook = await WalhookProcess.start(CONFIG, { ...env(), LOG_LEVEL: 'info' });
  try {
    await db.waitForConfirmed(SLOT);
    const distinct = new Set(ofTrigger('to_rabbit').map((m) => m.id)).size;
    const started = Date.now();
    await db.query(`INSERT INTO items SELECT g, 0, 'bulk' FROM generate_series(100001, 120000) g`);
    await waitForMessages('to_rabbit', distinct + 20_000, 120_000);
    const seconds = (Date.now() - started) / 1000;
    await db.waitForConfirmed(SLOT);
    const rows = new Set(
      ofTrigger('to_rabbit')
        .map((m) => JSON.parse(m.body).event.data.new?.id)
        .filter((id) => id > 100_000),
    );
    assert.equal(rows.size, 20_000);
    console.log(
      `rabbitmq sink: 20000 events in ${seconds.toFixed(1)} s (${Math.round(20_000 / seconds)} events/s)`,
    );
  } finally {
    await walhook.stop();
  }
});

test('walhook validate connects to a node and checks an exchange walhook does not declare', async () => {
  const validate = async (sink: string) => {
    const yaml = `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
triggers:
  - { name: orders, table: items, operations: [insert], sink: ${sink} }
`;
    const result = await runCli(['validate', '--config', await writeConfig(yaml)], { DATABASE_URL: db.url });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    return result.stdout;
  };
  const node = `amqp://127.0.0.1:${rabbit.port}`;
  assert.match(
    await validate(`{ type: rabbitmq, urls: ["${rabbit.url}"] }`),
    new RegExp(
      `^ok +triggers\\[0\\] \\(orders\\): RabbitMQ ${node} reachable; exchange walhook is declared on the first publish$`,
      'm',
    ),
  );
  assert.match(
    await validate(`{ type: rabbitmq, urls: ["${rabbit.url}"], exchange: walhook, declare: false }`),
    new RegExp(
      `^ok +triggers\\[0\\] \\(orders\\): RabbitMQ ${node} reachable, exchange walhook exists$`,
      'm',
    ),
  );
  assert.match(
    await validate(`{ type: rabbitmq, urls: ["${rabbit.url}"], exchange: missing, declare: false }`),
    new RegExp(`^warn  triggers\\[0\\] \\(orders\\): RabbitMQ ${node}: exchange missing: .*NOT_FOUND`, 'm'),
  );
  const closed = await freePort();
  assert.match(
    await validate(`{ type: rabbitmq, urls: ["amqp://127.0.0.1:${closed}", "${rabbit.url}"] }`),
    /^ok +triggers\[0\] \(orders\): RabbitMQ .* reachable/m,
    'the next node answers',
  );
  assert.match(
    await validate(`{ type: rabbitmq, urls: ["amqp://127.0.0.1:${closed}"] }`),
    new RegExp(
      `^warn  triggers\\[0\\] \\(orders\\): RabbitMQ amqp://127\\.0\\.0\\.1:${closed} not reachable: `,
      'm',
    ),
  );
});

test('amqps:// with a private CA and a client certificate: events arrive; without the certificate the node refuses', async () => {
  const url = `amqps://guest:guest@127.0.0.1:${rabbit.tlsPort}`;
  const tls = `{ ca_file: "${pki.ca.certFile}", cert_file: "${pki.client.certFile}", key_file: "${pki.client.keyFile}" }`;
  const config = `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
server:
  host: 127.0.0.1
  port: \${PORT}
shutdown_grace_sec: 2
triggers:
  - name: to_rabbit
    table: items
    operations: [insert]
    sink: { type: rabbitmq, urls: ["${url}"], tls: ${tls} }
`;
  const walhook = await WalhookProcess.start(config, { DATABASE_URL: db.url });
  try {
    await db.waitForConfirmed(SLOT);
    const distinct = new Set(ofTrigger('to_rabbit').map((m) => m.id)).size;
    await db.query(`INSERT INTO items SELECT g, 0, 'tls' FROM generate_series(2001, 2010) g`);
    await waitForMessages('to_rabbit', distinct + 10);
    const line = await walhook.waitForLog((l) => l.msg === 'connected to RabbitMQ', 'a connection');
    assert.equal(line.node, `amqps://127.0.0.1:${rabbit.tlsPort}`);
  } finally {
    await walhook.stop();
  }

  const withoutCert = `{ ca_file: "${pki.ca.certFile}" }`;
  const yaml = config.replace(`tls: ${tls}`, `tls: ${withoutCert}`);
  const result = await runCli(['validate', '--config', await writeConfig(yaml)], {
    DATABASE_URL: db.url,
    PORT: '0',
  });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(
    result.stdout,
    new RegExp(
      `^warn  triggers\\[0\\] \\(to_rabbit\\): RabbitMQ amqps://127\\.0\\.0\\.1:${rabbit.tlsPort} not reachable: `,
      'm',
    ),
  );
});
