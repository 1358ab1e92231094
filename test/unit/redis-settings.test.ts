import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWalhookError } from '../../src/core/errors.js';
import type { RedisTarget } from '../../src/sinks/redis/target.js';
import { sinkPlugin, sinkTarget } from '../../src/sinks/registry.js';
import { parseConfig } from '../helpers/config.js';

const FILE = 'walhook.yaml';

function withTrigger(...lines: string[]): string {
  return `source:\n  connection: postgres://walhook@localhost/app\ntriggers:\n  - name: orders\n    table: orders\n    operations: [insert]\n${lines.map((line) => `    ${line}\n`).join('')}`;
}

function targetOf(...lines: string[]): RedisTarget {
  const [trigger] = parseConfig(withTrigger(...lines), FILE, {}).triggers;
  assert.ok(trigger);
  return sinkTarget(trigger) as RedisTarget;
}

function invalid(sink: string, message: string, ...more: string[]): void {
  assert.throws(
    () => parseConfig(withTrigger(`sink: ${sink}`, ...more), FILE, {}),
    (err: unknown) => {
      assert.ok(isWalhookError(err, 'WALHOOK_ERR_CONFIG_INVALID'), String(err));
      assert.equal(err.message, `${FILE}: ${message}`);
      return true;
    },
  );
}

test('a Redis sink gets its defaults, and retries until Redis takes the entry', () => {
  const target = targetOf('sink: { type: redis, url: "redis://127.0.0.1:6379" }');
  assert.equal(target.type, 'redis');
  assert.deepEqual(target.endpoint, { url: 'redis://127.0.0.1:6379' });
  assert.equal(target.stream.render({ schema: 'public', name: 'orders' }), 'walhook:public.orders');
  assert.deepEqual(target.fields, ['id', 'op', 'table', 'lsn', 'payload']);
  assert.equal(target.maxlen, null);
  assert.equal(target.wait, null);
  assert.equal(target.ackTimeoutMs, 5000);
  assert.equal(target.retry.numRetries, Number.POSITIVE_INFINITY);
  assert.equal(target.retry.timeoutSec, 5);
});

test('every key of a Redis sink', () => {
  const target = targetOf(
    'sink:',
    '  type: redis',
    '  sentinels: [redis://s1:26379, redis://s2:26379]',
    '  master_name: walhook',
    '  stream: "cdc:{table}"',
    '  maxlen: 100000',
    '  fields: [payload, trigger]',
    '  wait: { replicas: 2, timeout_ms: 250 }',
    '  ack_timeout_sec: 2',
    'retry: { num_retries: 3 }',
    'ordering: trigger',
  );
  assert.deepEqual(target.endpoint, {
    sentinels: ['redis://s1:26379', 'redis://s2:26379'],
    masterName: 'walhook',
  });
  assert.equal(target.stream.render({ schema: 'public', name: 'orders' }), 'cdc:orders');
  assert.equal(target.maxlen, 100000);
  assert.deepEqual(target.fields, ['payload', 'trigger']);
  assert.deepEqual(target.wait, { replicas: 2, timeoutMs: 250 });
  assert.equal(target.ackTimeoutMs, 2000);
  assert.equal(target.retry.numRetries, 3);
  assert.equal(target.ordering, 'trigger');
});

test('URLs: TLS, credentials and a database are taken; the password is a secret', () => {
  const url = 'rediss://walhook:s%40cret@cache.internal:6380/2';
  const target = targetOf(`sink: { type: redis, url: "${url}" }`);
  assert.deepEqual(target.endpoint, { url });
  assert.deepEqual(sinkPlugin('redis').secrets?.(target), ['s%40cret', 's@cret']);
});

test('a bad Redis sink is reported with its key path', () => {
  invalid('{ type: redis }', 'triggers[0].sink.url: required (or sentinels and master_name)');
  for (const url of ['http://a:6379', 'redis://a:6379/x', 'redis://a:6379?db=1', 'a:6379']) {
    invalid(
      `{ type: redis, url: "${url}" }`,
      'triggers[0].sink.url: expected redis://[user:password@]host[:port][/db], or rediss://… for TLS',
    );
  }
  invalid(
    '{ type: redis, url: "redis://a", sentinels: [redis://s:26379], master_name: m }',
    'triggers[0].sink.sentinels: set either url or sentinels, not both',
  );
  invalid(
    '{ type: redis, sentinels: [redis://s:26379] }',
    'triggers[0].sink.master_name: required with sentinels: the name the sentinels monitor the master by',
  );
  invalid(
    '{ type: redis, url: "redis://a", master_name: m }',
    'triggers[0].sink.master_name: only with sentinels',
  );
  invalid(
    '{ type: redis, sentinels: ["redis://u:p@s:26379"], master_name: m }',
    'triggers[0].sink.sentinels[0]: expected redis://host:port',
  );
  invalid(
    '{ type: redis, url: "redis://a", stream: "x:{op}" }',
    'triggers[0].sink.stream: unknown placeholder {op} (expected {schema} or {table})',
  );
  invalid(
    '{ type: redis, url: "redis://a", fields: [op, lsn] }',
    'triggers[0].sink.fields: must hold id or payload: the event id is how a consumer drops a repeated entry',
  );
  invalid(
    '{ type: redis, url: "redis://a", fields: [id, id] }',
    'triggers[0].sink.fields[1]: duplicate field "id" (also fields[0])',
  );
  invalid(
    '{ type: redis, url: "redis://a", wait: { replicas: 1, timeout_ms: 5000 } }',
    'triggers[0].sink.wait: timeout_ms must be below ack_timeout_sec (in ms): raise ack_timeout_sec or lower it',
  );
  invalid('{ type: redis, url: "redis://a", maxlen: 0 }', 'triggers[0].sink.maxlen: must be > 0');
  invalid(
    '{ type: redis, url: "redis://a" }',
    'triggers[0].retry.timeout_sec: not for a redis sink: an XADD waits sink.ack_timeout_sec for its answer',
    'retry: { timeout_sec: 2 }',
  );
  invalid(
    '{ type: redis, url: "redis://a" }',
    'triggers[0].headers: only for webhook triggers',
    'headers: { X-A: b }',
  );
});
