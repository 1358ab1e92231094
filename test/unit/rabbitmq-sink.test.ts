import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isWalhookError } from '../../src/core/errors.js';
import { triggerDefinition } from '../../src/server/console/views.js';
import { RoutingKeyTemplate, routingKeyProblem, routingWord } from '../../src/sinks/rabbitmq/routing-key.js';
import type { RabbitmqTarget } from '../../src/sinks/rabbitmq/target.js';
import { sinkTarget } from '../../src/sinks/registry.js';
import { parseConfig } from '../helpers/config.js';

const FILE = 'walhook.yaml';

function withTrigger(...lines: string[]): string {
  return `source:\n  connection: postgres://walhook@localhost/app\ntriggers:\n  - name: orders\n    table: orders\n    operations: [insert]\n${lines.map((line) => `    ${line}\n`).join('')}`;
}

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

test('a name is one routing word: a dot, a space or a wildcard cannot add or match words', () => {
  assert.equal(routingWord('orders'), 'orders');
  assert.equal(routingWord('Order_Lines-2'), 'Order_Lines-2');
  assert.equal(routingWord('Odd.Name'), 'Odd%2EName');
  assert.equal(routingWord('My Schema'), 'My%20Schema');
  assert.equal(routingWord('a*b#c'), 'a%2Ab%23c');
  assert.equal(routingWord('100%'), '100%25');
  assert.equal(routingWord('café'), 'caf%C3%A9');
});

test('any name escapes to safe characters without a dot and decodes back to it', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), (name) => {
      const word = routingWord(name);
      assert.match(word, /^[A-Za-z0-9_%-]+$/);
      assert.equal(decodeURIComponent(word), name);
    }),
  );
});

test('the default template renders schema, table and the lower-case operation, three words', () => {
  const template = new RoutingKeyTemplate('{schema}.{table}.{op}');
  assert.equal(template.render({ schema: 'public', name: 'orders' }, 'INSERT'), 'public.orders.insert');
  assert.equal(template.render({ schema: 'public', name: 'orders' }, 'TRUNCATE'), 'public.orders.truncate');
  const odd = template.render({ schema: 'a.b', name: 'c.d' }, 'DELETE');
  assert.equal(odd, 'a%2Eb.c%2Ed.delete');
  assert.equal(odd.split('.').length, 3);
  assert.equal(new RoutingKeyTemplate('cdc.{table}').render({ schema: 's', name: 't' }, 'UPDATE'), 'cdc.t');
});

test('templates are checked: known placeholders only, 255 bytes at most', () => {
  assert.equal(routingKeyProblem('{schema}.{table}.{op}'), null);
  assert.equal(routingKeyProblem('fixed'), null);
  assert.equal(routingKeyProblem(''), null, 'the empty key routes too (a fanout-like binding)');
  assert.equal(
    routingKeyProblem('{schema}.{tabel}'),
    'unknown placeholder {tabel} (expected {schema}, {table} or {op})',
  );
  assert.equal(routingKeyProblem('a}b'), '{ and } only around {schema}, {table} and {op}');
  assert.equal(routingKeyProblem('x'.repeat(256)), 'longer than 255 bytes, the most AMQP carries');
});

test('a RabbitMQ sink gets its defaults, a target and the retry until confirmed', () => {
  const config = parseConfig(
    withTrigger('sink: { type: rabbitmq, urls: ["amqp://u:p@r1/vh", "amqps://r2:5671"] }'),
    FILE,
    {},
  );
  const [trigger] = config.triggers;
  assert.ok(trigger);
  assert.deepEqual(trigger.sink, {
    type: 'rabbitmq',
    urls: ['amqp://u:p@r1/vh', 'amqps://r2:5671'],
    exchange: 'walhook',
    declare: true,
    routing_key: '{schema}.{table}.{op}',
    ack_timeout_sec: 5,
  });
  const target = sinkTarget(trigger) as RabbitmqTarget;
  assert.equal(target.type, 'rabbitmq');
  assert.equal(target.ackTimeoutMs, 5000);
  assert.equal(target.tls, null);
  assert.equal(target.retry.numRetries, Number.POSITIVE_INFINITY);
  assert.equal(target.retry.timeoutSec, 5);
  assert.equal(
    target.routingKey.render({ schema: 'public', name: 'orders' }, 'INSERT'),
    'public.orders.insert',
  );
});

test('RabbitMQ keys are refused with the reason and the key', () => {
  invalid(withTrigger('sink: { type: rabbitmq }'), 'triggers[0].sink.urls: required');
  for (const url of ['http://r1', 'amqp://r1?heartbeat=1', 'r1:5672', 'amqp://']) {
    invalid(
      withTrigger(`sink: { type: rabbitmq, urls: ["${url}"] }`),
      'triggers[0].sink.urls[0]: expected amqp://[user:password@]host[:port][/vhost] or amqps://…',
    );
  }
  invalid(
    withTrigger('sink: { type: rabbitmq, urls: [amqp://a, amqp://a] }'),
    'triggers[0].sink.urls[1]: duplicate URL "amqp://a" (also urls[0])',
  );
  invalid(
    withTrigger('sink: { type: rabbitmq, urls: [amqp://a], exchange: "a b" }'),
    'triggers[0].sink.exchange: expected an exchange name: letters, digits, -, _, . and :',
  );
  invalid(
    withTrigger('sink: { type: rabbitmq, urls: [amqp://a], exchange: amq.topic }'),
    'triggers[0].sink.exchange: amq.* names are reserved by RabbitMQ; set declare: false to publish to one that exists',
  );
  invalid(
    withTrigger('sink: { type: rabbitmq, urls: [amqp://a], routing_key: "{schema}.{tabel}" }'),
    'triggers[0].sink.routing_key: unknown placeholder {tabel} (expected {schema}, {table} or {op})',
  );
  invalid(
    withTrigger('sink: { type: rabbitmq, urls: [amqp://a], tls: { ca_file: /ca.pem } }'),
    'triggers[0].sink.tls: only with amqps:// URLs; make every URL amqps://',
  );
  invalid(
    withTrigger('sink: { type: rabbitmq, urls: [amqps://a], tls: { cert_file: /c.pem } }'),
    'triggers[0].sink.tls: set cert_file and key_file together (the client certificate and its private key)',
  );
  invalid(
    withTrigger('sink: { type: rabbitmq, urls: [amqp://a], ack_timeout_sec: 0 }'),
    'triggers[0].sink.ack_timeout_sec: must be > 0',
  );
  invalid(
    withTrigger('sink: { type: rabbitmq, urls: [amqp://a] }', 'retry: { num_retries: 1, timeout_sec: 3 }'),
    'triggers[0].retry.timeout_sec: not for a rabbitmq sink: a publish waits sink.ack_timeout_sec for its confirm',
  );
});

test("the console shows a RabbitMQ sink's URLs without their passwords", () => {
  const [trigger] = parseConfig(
    withTrigger('sink: { type: rabbitmq, urls: ["amqp://walhook:s3cret@r1/prod", "amqp://r2"] }'),
    FILE,
    {},
  ).triggers;
  assert.ok(trigger);
  const shown = triggerDefinition(trigger) as { sink: { urls: string[]; exchange: string } };
  assert.deepEqual(shown.sink.urls, ['amqp://***@r1/prod', 'amqp://r2']);
  assert.equal(shown.sink.exchange, 'walhook');
  assert.ok(!JSON.stringify(shown).includes('s3cret'));
});
