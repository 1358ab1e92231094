import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shownMaxRetries } from '../../src/core/delivery-event.js';
import { isWalhookError } from '../../src/core/errors.js';
import type { NatsTarget } from '../../src/sinks/nats/target.js';
import { sinkTarget } from '../../src/sinks/registry.js';
import type { WebhookTarget } from '../../src/sinks/webhook/target.js';
import { parseConfig } from '../helpers/config.js';

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
  assert.ok(trigger);
  assert.equal(trigger.retry, undefined);
  // Without a retry block a publish is retried until acknowledged; the payload shows max_retries 0.
  const { retry } = sinkTarget(trigger);
  assert.deepEqual(retry, {
    numRetries: Number.POSITIVE_INFINITY,
    intervalSec: 0.1,
    backoff: 'exponential',
    maxIntervalSec: 5,
    finalStatuses: [],
    retryAfter: 'throttling',
    timeoutSec: 5,
  });
  assert.equal(shownMaxRetries(retry), 0);
});

test('a retry block on a NATS trigger is its policy, and the payload shows its max_retries', () => {
  const [trigger] = parseConfig(
    withTrigger(NATS, 'retry: { num_retries: 2, interval_sec: 0, backoff: fixed }'),
    FILE,
    {},
  ).triggers;
  assert.ok(trigger);
  const { retry } = sinkTarget(trigger);
  assert.deepEqual(retry, {
    numRetries: 2,
    intervalSec: 0,
    timeoutSec: 5,
    backoff: 'fixed',
    maxIntervalSec: 600,
    finalStatuses: [],
    retryAfter: 'throttling',
  });
  assert.equal(shownMaxRetries(retry), 2);
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
  const target = sinkTarget(trigger) as NatsTarget;
  assert.equal(target.type, 'nats');
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
  invalid(withTrigger(NATS, 'headers: { X-A: b }'), 'triggers[0].headers: only for webhook triggers');
  invalid(withTrigger(NATS, 'batch: { max_events: 10 }'), 'triggers[0].batch: only for webhook triggers');
  invalid(
    withTrigger(NATS, 'retry: { num_retries: 3, timeout_sec: 2 }'),
    'triggers[0].retry.timeout_sec: not for a nats sink: a publish waits sink.ack_timeout_sec for its acknowledgement',
  );
  invalid(
    withTrigger(NATS, 'retry: { final_statuses: [410] }'),
    'triggers[0].retry.final_statuses: not for a nats sink: a broker answers with no HTTP status',
  );
});

test('a bad sink is reported with its key path', () => {
  invalid(
    withTrigger('sink: { type: nats, servers: [nats://a], subjet: x }'),
    'triggers[0].sink.subjet: unknown key (expected one of type, servers, subject, stream, ack_timeout_sec)',
  );
  invalid(
    withTrigger('sink: { type: kafka, servers: [nats://a] }'),
    'triggers[0].sink.type: expected one of webhook, nats, rabbitmq, redis',
  );
  invalid(
    withTrigger('sink: { servers: [nats://a] }'),
    'triggers[0].sink.type: required (one of webhook, nats, rabbitmq, redis)',
  );
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

const HOOK = 'https://u:p@hooks.example.com/orders';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

test('a webhook sink mapping means what the shorthand means', () => {
  const keys = [
    `headers: { X-Api-Key: k3y }`,
    `secret: ${SECRET}`,
    'tls: { ca_file: /etc/walhook/ca.pem }',
    'batch: { max_events: 10 }',
  ];
  const shorthand = parseConfig(withTrigger(`webhook: ${HOOK}`, ...keys), FILE, {}).triggers[0];
  const mapping = parseConfig(
    withTrigger('sink:', '  type: webhook', `  url: ${HOOK}`, ...keys.map((key) => `  ${key}`)),
    FILE,
    {},
  ).triggers[0];
  assert.ok(shorthand && mapping);
  assert.deepEqual(mapping, shorthand);
  const target = sinkTarget(mapping) as WebhookTarget;
  assert.equal(target.type, 'webhook');
  assert.equal(target.url, 'https://hooks.example.com/orders');
  assert.deepEqual(target.headers, {
    'X-Api-Key': 'k3y',
    Authorization: `Basic ${Buffer.from('u:p').toString('base64')}`,
  });
  assert.deepEqual(target.secrets, [SECRET]);
  assert.deepEqual(target.tls, { caFile: '/etc/walhook/ca.pem' });
  assert.deepEqual(target.batch, { maxEvents: 10, maxWaitMs: 50 });
  assert.equal(shownMaxRetries(target.retry), 0);
});

test('a bad webhook sink is reported with its key path', () => {
  invalid(
    withTrigger('sink: { type: webhook, url: http://a/h, servers: [nats://a] }'),
    'triggers[0].sink.servers: unknown key (expected one of type, url, headers, secret, tls, user_agent, batch, request_transform)',
  );
  invalid(withTrigger('sink: { type: webhook }'), 'triggers[0].sink.url: required');
  invalid(
    withTrigger('sink: { type: webhook, url: ftp://a/h }'),
    'triggers[0].sink.url: expected an http or https URL',
  );
  invalid(
    withTrigger('sink: { type: webhook, url: http://a/h, tls: { ca_file: /ca.pem } }'),
    'triggers[0].sink.tls: only for an https webhook URL',
  );
  invalid(
    withTrigger('sink: { type: webhook, url: http://a/h, headers: { "Bad Name": x } }'),
    'triggers[0].sink.headers["Bad Name"]: not a valid HTTP header name',
  );
  invalid(
    withTrigger('sink: { type: webhook, url: http://a/h }', 'headers: { X-A: b }'),
    'triggers[0].headers: set it in the sink (sink.headers)',
  );
  invalid(
    withTrigger('webhook: http://a/h', 'sink: { type: webhook, url: http://a/h }'),
    'triggers[0].sink: set either webhook or sink, not both',
  );
});
