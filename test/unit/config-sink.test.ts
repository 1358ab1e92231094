import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { isWalhookError } from '../../src/core/errors.js';
import { deliveryTarget } from '../../src/triggers/matcher.js';

const FILE = 'walhook.yaml';

/** A file with one trigger on `orders` made of `lines`. */
function withTrigger(...lines: string[]): string {
  return `source:\n  connection: postgres://walhook@localhost/app\ntriggers:\n  - name: orders\n    table: orders\n    operations: [insert]\n${lines.map((line) => `    ${line}\n`).join('')}`;
}

const NATS = 'sink: { type: nats, servers: ["nats://127.0.0.1:4222"] }';

function invalid(text: string, message: string): void {
  assert.throws(
    () => parseConfig(text, FILE, {}),
    (err: unknown) => {
      assert.ok(isWalhookError(err, 'WALHOOK_ERR_CONFIG_INVALID'), String(err));
      assert.equal(err.message, `${FILE}: ${message}`);
      return true;
    },
  );
}

test('a NATS sink gets its defaults and no webhook', () => {
  const [trigger] = parseConfig(withTrigger(NATS), FILE, {}).triggers;
  assert.deepEqual(trigger?.sink, {
    type: 'nats',
    servers: ['nats://127.0.0.1:4222'],
    subject: 'walhook.{schema}.{table}.{op}',
    ack_timeout_sec: 5,
  });
  assert.equal(trigger?.webhook, undefined);
  // The payload's delivery_info still reads them, as for a webhook trigger with no retry block.
  assert.equal(trigger?.retry.num_retries, 0);
});

test('every key of a NATS sink', () => {
  const [trigger] = parseConfig(
    withTrigger(
      'sink:',
      '  type: nats',
      '  servers: [nats://n1:4222, nats://n2:4222, "nats://n3"]',
      '  subject: cdc.{schema}.{table}.{op}',
      '  stream: ORDERS',
      '  ack_timeout_sec: 2.5',
      'ordering: trigger',
      'concurrency: 8',
    ),
    FILE,
    {},
  ).triggers;
  assert.ok(trigger);
  const target = deliveryTarget(trigger);
  assert.ok(target.type === 'nats');
  assert.deepEqual(target.servers, ['nats://n1:4222', 'nats://n2:4222', 'nats://n3']);
  assert.equal(
    target.subject.render({ schema: 'public', name: 'orders' }, 'INSERT'),
    'cdc.public.orders.insert',
  );
  assert.equal(target.stream, 'ORDERS');
  assert.equal(target.ackTimeoutMs, 2500);
  assert.equal(target.ordering, 'trigger');
  assert.equal(target.concurrency, 8);
});

test('a trigger needs exactly one of webhook and sink', () => {
  invalid(withTrigger(), 'triggers[0].webhook: required (or a sink)');
  invalid(
    withTrigger('webhook: http://127.0.0.1:3000/hooks', NATS),
    'triggers[0].sink: set either webhook or sink, not both',
  );
});

test('keys meaningful only for webhooks are refused next to a sink', () => {
  invalid(
    withTrigger(NATS, 'retry: { num_retries: 3 }'),
    'triggers[0].retry: only for webhook triggers: a sink retries until the broker acknowledges',
  );
  invalid(withTrigger(NATS, 'headers: { X-A: b }'), 'triggers[0].headers: only for webhook triggers');
  invalid(withTrigger(NATS, 'batch: { max_events: 10 }'), 'triggers[0].batch: only for webhook triggers');
});

test('a bad sink is reported with its key path', () => {
  invalid(
    withTrigger('sink: { type: nats, servers: [nats://a], subjet: x }'),
    'triggers[0].sink.subjet: unknown key (expected one of type, servers, subject, stream, ack_timeout_sec)',
  );
  invalid(withTrigger('sink: { type: kafka, servers: [nats://a] }'), 'triggers[0].sink.type: expected nats');
  invalid(withTrigger('sink: { type: nats }'), 'triggers[0].sink.servers: required');
  invalid(withTrigger('sink: { type: nats, servers: [] }'), 'triggers[0].sink.servers: must not be empty');
  for (const server of ['http://a:4222', 'nats://user:pw@a:4222', 'nats://a:4222/path', 'a:4222']) {
    invalid(
      withTrigger(`sink: { type: nats, servers: ["${server}"] }`),
      'triggers[0].sink.servers[0]: expected nats://host or nats://host:port',
    );
  }
  invalid(
    withTrigger('sink: { type: nats, servers: [nats://a, nats://a] }'),
    'triggers[0].sink.servers[1]: duplicate server "nats://a" (also servers[0])',
  );
  invalid(
    withTrigger('sink: { type: nats, servers: [nats://a], subject: "x.{tabel}" }'),
    'triggers[0].sink.subject: unknown placeholder {tabel} (expected {schema}, {table} or {op})',
  );
  invalid(
    withTrigger('sink: { type: nats, servers: [nats://a], subject: "x.>" }'),
    'triggers[0].sink.subject: expected a NATS subject: no spaces, no * or > wildcards, { and } only around {schema}, {table}, {op}',
  );
  invalid(
    withTrigger('sink: { type: nats, servers: [nats://a], stream: "A.B" }'),
    'triggers[0].sink.stream: expected a stream name: no spaces, ., *, >, / or \\',
  );
  invalid(
    withTrigger('sink: { type: nats, servers: [nats://a], ack_timeout_sec: 0 }'),
    'triggers[0].sink.ack_timeout_sec: must be > 0',
  );
});
