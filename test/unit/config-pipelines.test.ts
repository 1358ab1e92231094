import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigs, parseConfigs } from '../../src/config/load.js';
import { isWalhookError } from '../../src/core/errors.js';
import { parseConfig } from '../helpers/config.js';

const FILE = 'walhook.yaml';

const SINGLE = `
source:
  connection: postgres://walhook@localhost/app
triggers:
  - name: orders_paid
    table: orders
    operations: [insert]
    webhook: http://127.0.0.1:3000/hooks/orders
`;

const TWO = `
server: { port: 9300 }
shutdown_grace_sec: 3
pipelines:
  - name: orders
    source:
      connection: postgres://walhook@localhost/app
      slot: walhook_orders
      publication: walhook_orders
    max_in_flight_events: 500
    triggers:
      - name: orders_paid
        table: orders
        operations: [insert]
        webhook: http://127.0.0.1:3000/hooks/orders
        where: { new: { id: { _gt: 9007199254740993 } } }
  - name: audit
    source:
      connection: postgres://walhook@localhost/app
      slot: walhook_audit
      publication: walhook_audit
    dead_letter: { file: /var/lib/walhook/audit.jsonl }
    triggers:
      - name: audit_all
        table: audit_log
        operations: [insert, update, delete]
        webhook: http://127.0.0.1:3001/hooks/audit
`;

function invalid(text: string, message: string): void {
  assert.throws(
    () => parseConfigs(text, FILE, {}),
    (err: unknown) => {
      assert.ok(isWalhookError(err, 'WALHOOK_ERR_CONFIG_INVALID'), String(err));
      assert.equal(err.message, `${FILE}: ${message}`);
      return true;
    },
  );
}

test('the single-pipeline form is one pipeline named default', () => {
  const configs = parseConfigs(SINGLE, FILE, {});
  assert.equal(configs.length, 1);
  assert.equal(configs[0]?.pipeline, 'default');
  assert.deepEqual(configs[0], parseConfig(SINGLE, FILE, {}));
  assert.ok(Object.isFrozen(configs));
});

test('pipelines: one config each, with the shared settings and their own defaults', () => {
  const [orders, audit, ...rest] = parseConfigs(TWO, FILE, {});
  assert.equal(rest.length, 0);
  assert.ok(orders && audit);
  assert.equal(orders.pipeline, 'orders');
  assert.equal(audit.pipeline, 'audit');
  for (const config of [orders, audit]) {
    assert.deepEqual(config.server, {
      host: '127.0.0.1',
      port: 9300,
      ready_max_lag_sec: 60,
      console: { recent: 1000, debug_filters: false },
    });
    assert.equal(config.shutdown_grace_sec, 3);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.source));
    assert.equal('name' in config, false);
  }
  assert.equal(orders.source.slot, 'walhook_orders');
  assert.equal(orders.max_in_flight_events, 500);
  assert.equal(audit.max_in_flight_events, 10_000);
  assert.deepEqual(orders.dead_letter, { table: 'walhook.dead_letters' });
  assert.deepEqual(audit.dead_letter, { file: '/var/lib/walhook/audit.jsonl' });
  assert.equal(audit.source.heartbeat_sec, 30);
  assert.deepEqual(
    orders.triggers.map((t) => t.name),
    ['orders_paid'],
  );
  // A where literal keeps every digit in a pipeline as at the top level.
  assert.deepEqual(orders.triggers[0]?.where, { new: { id: { _gt: 9007199254740993n } } });
});

test('loadConfigs reads a file of several pipelines', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walhook-pipelines-'));
  try {
    const path = join(dir, 'walhook.yaml');
    await writeFile(path, TWO);
    assert.deepEqual(
      (await loadConfigs(path, {})).map((c) => c.pipeline),
      ['orders', 'audit'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('per-pipeline keys at the top level are refused next to pipelines', () => {
  for (const [key, value] of [
    ['source', '{ connection: postgres://x@y/z }'],
    ['triggers', '[]'],
    ['dead_letter', '{ file: x.jsonl }'],
    ['max_in_flight_events', '5'],
    ['max_in_flight_bytes', '4096'],
  ]) {
    invalid(
      `${TWO}${key}: ${value}\n`,
      `${key}: not allowed at the top level with pipelines: set it in each pipeline`,
    );
  }
});

test('errors name the key path inside the pipeline', () => {
  invalid(
    TWO.replace('webhook: http://127.0.0.1:3001/hooks/audit', 'webhok: http://127.0.0.1:3001/hooks/audit'),
    'pipelines[1].triggers[0].webhok: unknown key (expected one of name, table, operations, columns, where, payload_columns, enable_manual, skip_unchanged_updates, trigger_on_replication, payload_format, webhook, sink, headers, secret, tls, user_agent, retry, ordering, concurrency, batch, request_transform)',
  );
  invalid(
    TWO.replace('webhook: http://127.0.0.1:3001/hooks/audit', 'sink: { type: nats }'),
    'pipelines[1].triggers[0].sink.servers: required',
  );
  invalid(
    TWO.replace('max_in_flight_events: 500', 'max_in_flight_events: 0'),
    'pipelines[0].max_in_flight_events: must be >= 1',
  );
  invalid(
    TWO.replace('  - name: audit', '  - name: Audit'),
    `pipelines[1].name: expected a lower-case identifier: a-z, 0-9 and _, not starting with a digit, at most 63 characters`,
  );
  invalid(TWO.replace('  - name: audit\n', '  - \n'), 'pipelines[1].name: required');
  invalid(
    TWO.replace('    dead_letter:', '    colour: blue\n    dead_letter:'),
    'pipelines[1].colour: unknown key (expected one of name, source, dead_letter, invocation_log, max_in_flight_events, max_in_flight_bytes, triggers)',
  );
  invalid('server: { port: 9300 }\npipelines: []\n', 'pipelines: must not be empty');
  invalid('pipelines: {}\n', 'pipelines: expected a list, got a mapping');
});

test('names, slots and trigger names are unique across pipelines', () => {
  invalid(
    TWO.replace('  - name: audit', '  - name: orders'),
    'pipelines[1].name: duplicate pipeline name "orders" (also pipelines[0].name)',
  );
  invalid(
    TWO.replace('slot: walhook_audit', 'slot: walhook_orders'),
    'pipelines[1].source.slot: duplicate slot "walhook_orders" (also pipelines[0].source.slot)',
  );
  // Both on the default slot.
  invalid(
    TWO.replace('      slot: walhook_orders\n', '').replace('      slot: walhook_audit\n', ''),
    'pipelines[1].source.slot: duplicate slot "walhook" (also pipelines[0].source.slot)',
  );
  invalid(
    TWO.replace('- name: audit_all', '- name: orders_paid'),
    'pipelines[1].triggers[0].name: duplicate trigger name "orders_paid" (also pipelines[0].triggers[0].name)',
  );
});
