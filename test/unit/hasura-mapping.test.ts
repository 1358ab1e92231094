import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapEventTrigger } from '../../src/config/hasura/event-trigger.js';
import { sourceConnection, webhookTemplate } from '../../src/config/hasura/values.js';
import { triggerSchema } from '../../src/config/trigger-schema.js';

const ORDERS = { schema: 'public', name: 'orders' };
const VERSION = 'v2.48.1';

const BASE = {
  name: 'order_created',
  definition: { enable_manual: false, insert: { columns: '*' } },
  retry_conf: { num_retries: 0, interval_sec: 10, timeout_sec: 60 },
  webhook: 'https://hooks.example.com/orders',
};

function mapped(hasura: Record<string, unknown>, table = ORDERS) {
  const result = mapEventTrigger(hasura, table, VERSION);
  assert.equal(result.problem, null, JSON.stringify(result.problem));
  return result.trigger as Record<string, unknown>;
}

function problem(hasura: Record<string, unknown>) {
  const result = mapEventTrigger(hasura, ORDERS, VERSION);
  assert.equal(result.trigger, null);
  return result.problem;
}

test('a full Hasura trigger maps key by key, and walhook schema accepts the result', () => {
  const trigger = mapped({
    name: 'order_changed',
    definition: {
      enable_manual: true,
      insert: { columns: '*', payload: ['id', 'status'] },
      update: { columns: ['status', 'total'], payload: ['id', 'status'] },
    },
    retry_conf: { num_retries: 3, interval_sec: 5, timeout_sec: 20 },
    webhook: '{{BASE_URL}}/orders',
    headers: [
      { name: 'X-Api-Key', value_from_env: 'API_KEY' },
      { name: 'X-Source', value: 'hasura' },
    ],
    trigger_on_replication: true,
  });
  assert.deepEqual(trigger, {
    name: 'order_changed',
    table: 'orders',
    operations: ['insert', 'update'],
    columns: ['status', 'total'],
    payload_columns: ['id', 'status'],
    enable_manual: true,
    webhook: `\${BASE_URL}/orders`,
    headers: { 'X-Api-Key': `\${API_KEY}`, 'X-Source': 'hasura' },
    user_agent: 'hasura-graphql-engine/v2.48.1',
    retry: { num_retries: 3, interval_sec: 5, timeout_sec: 20, backoff: 'fixed', retry_after: 'any_status' },
    skip_unchanged_updates: true,
    trigger_on_replication: true,
    payload_format: 'hasura',
  });
  const parsed = triggerSchema.parse({ ...trigger, webhook: 'http://127.0.0.1/orders', headers: {} });
  assert.equal(parsed.skip_unchanged_updates, true);
  assert.equal(parsed.retry?.retry_after, 'any_status');
});

test('Hasura\'s defaults: retry 0/10/60, trigger_on_replication false, columns and payload "*" left out', () => {
  const trigger = mapped({
    ...BASE,
    retry_conf: undefined,
    definition: { update: { columns: '*', payload: '*' } },
  });
  assert.deepEqual(trigger.retry, {
    num_retries: 0,
    interval_sec: 10,
    timeout_sec: 60,
    backoff: 'fixed',
    retry_after: 'any_status',
  });
  assert.equal(trigger.trigger_on_replication, false);
  assert.equal(trigger.enable_manual, false);
  assert.equal('columns' in trigger, false);
  assert.equal('payload_columns' in trigger, false);
  assert.deepEqual(mapped({ ...BASE, retry_conf: { num_retries: 2, interval_sec: 1 } }).retry, {
    num_retries: 2,
    interval_sec: 1,
    timeout_sec: 60,
    backoff: 'fixed',
    retry_after: 'any_status',
  });
});

test(`webhook_from_env and URL templates become \${VAR}; literal \${ stays literal`, () => {
  assert.equal(mapped({ ...BASE, webhook: undefined, webhook_from_env: 'HOOK_URL' }).webhook, `\${HOOK_URL}`);
  assert.equal(webhookTemplate(`{{ BASE }}/a/{{PATH_1}}?q=\${x}`), `\${BASE}/a/\${PATH_1}?q=$\${x}`);
  assert.deepEqual(mapped({ ...BASE, headers: [{ name: 'X-T', value: `a\${b}` }] }).headers, {
    'X-T': `a$\${b}`,
  });
});

test('tables of any case and characters become the table string walhook parses back', () => {
  assert.equal(mapped(BASE, { schema: 'sales', name: 'Order Lines' }).table, 'sales."Order Lines"');
  assert.equal(mapped(BASE, { schema: 'public', name: 'a"b' }).table, '"a""b"');
  const parsed = triggerSchema.parse({ ...mapped(BASE, { schema: 'Sales', name: 'x.y' }), headers: {} });
  assert.deepEqual(parsed.table, { schema: 'Sales', name: 'x.y' });
});

test('every key that cannot be mapped is rejected with the key and why', () => {
  assert.deepEqual(
    problem({
      ...BASE,
      request_transform: { version: 2, body: { action: 'transform', template: '{{ $body. }}' } },
    }),
    {
      key: 'request_transform.body.template',
      why: "line 1 column 11: unexpected '}}' (expected a key name after '.')",
    },
  );
  assert.equal(problem({ ...BASE, request_transform: { version: 3 } })?.key, 'request_transform.version');
  assert.equal(problem({ ...BASE, request_transform: { methd: 'GET' } })?.key, 'request_transform.methd');
  assert.equal(problem({ ...BASE, response_transform: { version: 2 } })?.key, 'response_transform');
  assert.deepEqual(problem({ ...BASE, comment: 'x' }), {
    key: 'comment',
    why: 'unknown key (expected one of name, definition, webhook, webhook_from_env, retry_conf, headers, request_transform, response_transform, cleanup_config, trigger_on_replication)',
  });
  assert.equal(
    problem({ ...BASE, definition: { insert: { columns: '*', colums: [] } } })?.key,
    'definition.insert.colums',
  );
  assert.equal(
    problem({ ...BASE, retry_conf: { num_retries: 1, interval_sec: 1, backoff: 2 } })?.key,
    'retry_conf.backoff',
  );
  assert.equal(
    problem({ ...BASE, retry_conf: { num_retries: -1, interval_sec: 1 } })?.key,
    'retry_conf.num_retries',
  );
  assert.equal(
    problem({ ...BASE, headers: [{ name: 'X', value: 'a', value_from_env: 'B' }] })?.key,
    'headers[0]',
  );
  assert.equal(problem({ ...BASE, webhook_from_env: 'X' })?.key, 'webhook_from_env');
  assert.equal(problem({ ...BASE, webhook: undefined })?.key, 'webhook');
  assert.equal(problem({ ...BASE, definition: { enable_manual: true } })?.key, 'definition');
  assert.equal(problem({ ...BASE, name: undefined })?.key, 'name');
});

test('payload lists that differ between operations are refused, with the way out', () => {
  const found = problem({
    ...BASE,
    definition: { insert: { columns: '*', payload: ['id'] }, delete: { columns: '*', payload: '*' } },
  });
  assert.equal(found?.key, 'definition.delete.payload');
  assert.match(found?.why ?? '', /differs from definition\.insert\.payload.*one payload_columns list/);
});

test('cleanup_config is accepted with a note; update and delete need old rows', () => {
  const result = mapEventTrigger(
    { ...BASE, cleanup_config: { schedule: '0 0 * * *', clear_older_than: 168 } },
    ORDERS,
    VERSION,
  );
  assert.deepEqual(result.notes, [
    "cleanup_config: accepted; walhook keeps no event log, and its invocation_log (if on) is pruned by the pipeline's invocation_log.retention: 168h, not per trigger",
  ]);
  assert.equal(result.needsOldRows, false);
  assert.equal(
    mapEventTrigger({ ...BASE, definition: { delete: { columns: '*' } } }, ORDERS, VERSION).needsOldRows,
    true,
  );
});

test('connections: a URL, from_env, connection_parameters, or a one-line problem', () => {
  const info = (database_url: unknown) => ({ connection_info: { database_url } });
  assert.deepEqual(sourceConnection(info('postgres://a@b/c')), { connection: 'postgres://a@b/c' });
  assert.deepEqual(sourceConnection(info({ from_env: 'DB_URL' })), { connection: `\${DB_URL}` });
  assert.deepEqual(
    sourceConnection(
      info({
        connection_parameters: { username: 'u', password: 'p@ss', database: 'd b', host: 'h', port: 5433 },
      }),
    ),
    { connection: 'postgresql://u:p%40ss@h:5433/d%20b' },
  );
  assert.match(
    (sourceConnection(info({ connection_parameters: { host: 'h' } })) as { problem: string }).problem,
    /^connection_parameters: expected username, database and host/,
  );
  assert.match((sourceConnection({}) as { problem: string }).problem, /database_url: expected a URL/);
});

test('request_transform maps key for key, its strings kept literal, and walhook compiles it', () => {
  const transform = {
    version: 2,
    template_engine: 'Kriti',
    method: 'PUT',
    url: '{{$base_url}}/users/{{$body.event.data.new.id}}',
    query_params: { 'k-{{$body.id}}': `cost \${{$body.event.data.new.price}}` },
    body: { action: 'transform', template: '{"id": {{$body.event.data.new.id}}}' },
  };
  const trigger = mapped({ ...BASE, request_transform: transform });
  assert.deepEqual(trigger.request_transform, {
    ...transform,
    query_params: { 'k-{{$body.id}}': `cost $\${{$body.event.data.new.price}}` },
  });
  const parsed = triggerSchema.parse({ ...trigger, webhook: 'http://h/x' });
  assert.ok(parsed.sink.type === 'webhook' && parsed.sink.request_transform?.method === 'PUT');
});
