import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfigs } from '../../src/config/load.js';
import { type ErrorCode, isWalhookError } from '../../src/core/errors.js';
import { userAgent } from '../../src/core/version.js';
import { parseConfig } from '../helpers/config.js';

const FILE = 'walhook.yaml';

const MINIMAL = `
source:
  connection: postgres://walhook@localhost/app
triggers:
  - name: orders_paid
    table: orders
    operations: [insert]
    webhook: http://127.0.0.1:3000/hooks/orders
`;

/** MINIMAL with extra keys appended to its only trigger. */
function withTrigger(...lines: string[]): string {
  return `${MINIMAL}${lines.map((line) => `    ${line}\n`).join('')}`;
}

function rejects(text: string, code: ErrorCode, message: string, env: NodeJS.ProcessEnv = {}): void {
  assert.throws(
    () => parseConfig(text, FILE, env),
    (err: unknown) => {
      assert.ok(isWalhookError(err, code), `expected ${code}, got ${String(err)}`);
      assert.equal(err.message, message);
      return true;
    },
  );
}

test('applies every default to a minimal file', () => {
  assert.deepEqual(parseConfig(MINIMAL, FILE, {}), {
    source: {
      connection: 'postgres://walhook@localhost/app',
      slot: 'walhook',
      publication: 'walhook',
      on_slot_lost: 'fail',
      toast: 'fetch',
      replica_identity: 'keep',
      session_variables: 'off',
      publication_check_sec: 30,
      heartbeat_sec: 30,
      max_retained_wal: 1024 ** 3,
      manage_publication: true,
    },
    server: {
      host: '127.0.0.1',
      port: 9187,
      ready_max_lag_sec: 60,
      console: { recent: 1000, debug_filters: false },
    },
    shutdown_grace_sec: 10,
    // In the folder of the file (here the working directory, which parseConfig's callers start from).
    metadata_store: join(process.cwd(), 'walhook-metadata.json'),
    user_agent: userAgent(),
    dead_letter: { table: 'walhook.dead_letters' },
    max_in_flight_events: 10_000,
    max_in_flight_bytes: 64 * 1024 * 1024,
    triggers: [
      {
        name: 'orders_paid',
        table: { schema: 'public', name: 'orders' },
        tableText: 'orders',
        operations: ['insert'],
        enable_manual: false,
        skip_unchanged_updates: false,
        trigger_on_replication: true,
        payload_format: 'walhook',
        ordering: 'row',
        concurrency: 64,
        sink: {
          type: 'webhook',
          url: 'http://127.0.0.1:3000/hooks/orders',
          secrets: [],
          batch: { max_events: 1, max_wait_ms: 50 },
        },
      },
    ],
    pipeline: 'default',
  });
});

test('parses a file that sets every key', () => {
  const config = parseConfig(
    `
source:
  connection: postgresql://walhook:pw@db:5432/app
  slot: walhook_prod
  publication: walhook_pub
  on_slot_lost: recreate
  toast: omit
  replica_identity: full
  session_variables: hasura
  publication_check_sec: 5
  heartbeat_sec: 0
  max_retained_wal: 512MiB
  manage_publication: false
  sslmode: verify-full
  sslrootcert: /etc/walhook/ca.crt
  sslcert: /etc/walhook/client.crt
  sslkey: /etc/walhook/client.key
server:
  host: 0.0.0.0
  port: 0
  ready_max_lag_sec: 2.5
  admin_token: 0123456789abcdef-admin
  console: { recent: 50, debug_filters: true }
shutdown_grace_sec: 2.5
user_agent: myapp/2.0 (ops@example.com)
dead_letter: { file: /var/lib/walhook/dead.jsonl }
max_in_flight_events: 500
max_in_flight_bytes: 1048576
triggers:
  - name: orders-paid_2
    table: sales.orders
    operations: [insert, update, delete, truncate]
    columns: [status, amount]
    where:
      new: { status: { _eq: paid } }
    payload_columns: [status, note]
    enable_manual: true
    skip_unchanged_updates: true
    trigger_on_replication: false
    payload_format: hasura
    webhook: https://hooks.example.com/orders?x=1
    user_agent: hasura-graphql-engine/v2.48.1
    headers: { Authorization: Bearer abc, X-Trace: "on" }
    secret: [whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=]
    tls: { ca_file: /etc/walhook/hooks-ca.crt, cert_file: /etc/walhook/me.crt, key_file: /etc/walhook/me.key }
    retry:
      num_retries: 3
      interval_sec: 0
      timeout_sec: 0.5
      backoff: fixed
      max_interval_sec: 30
      final_statuses: [410, 4xx]
      retry_after: any_status
    ordering: trigger
    concurrency: 8
    batch:
      max_events: 500
      max_wait_ms: 0
`,
    FILE,
    {},
  );
  assert.deepEqual(config.source, {
    connection:
      'postgresql://walhook:pw@db:5432/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fwalhook%2Fca.crt&sslcert=%2Fetc%2Fwalhook%2Fclient.crt&sslkey=%2Fetc%2Fwalhook%2Fclient.key&uselibpqcompat=true',
    slot: 'walhook_prod',
    publication: 'walhook_pub',
    on_slot_lost: 'recreate',
    toast: 'omit',
    replica_identity: 'full',
    session_variables: 'hasura',
    publication_check_sec: 5,
    heartbeat_sec: 0,
    max_retained_wal: 512 * 1024 ** 2,
    manage_publication: false,
  });
  assert.deepEqual(config.server, {
    host: '0.0.0.0',
    port: 0,
    ready_max_lag_sec: 2.5,
    admin_token: '0123456789abcdef-admin',
    console: { recent: 50, debug_filters: true },
  });
  assert.equal(config.shutdown_grace_sec, 2.5);
  assert.equal(config.user_agent, 'myapp/2.0 (ops@example.com)');
  assert.deepEqual(config.dead_letter, { file: '/var/lib/walhook/dead.jsonl' });
  assert.equal(config.max_in_flight_events, 500);
  assert.equal(config.max_in_flight_bytes, 1048576);
  assert.deepEqual(config.triggers[0], {
    name: 'orders-paid_2',
    table: { schema: 'sales', name: 'orders' },
    tableText: 'sales.orders',
    operations: ['insert', 'update', 'delete', 'truncate'],
    columns: ['status', 'amount'],
    where: { new: { status: { _eq: 'paid' } } },
    payload_columns: ['status', 'note'],
    enable_manual: true,
    skip_unchanged_updates: true,
    trigger_on_replication: false,
    payload_format: 'hasura',
    sink: {
      type: 'webhook',
      url: 'https://hooks.example.com/orders?x=1',
      headers: { Authorization: 'Bearer abc', 'X-Trace': 'on' },
      user_agent: 'hasura-graphql-engine/v2.48.1',
      secrets: [
        'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      ],
      tls: {
        ca_file: '/etc/walhook/hooks-ca.crt',
        cert_file: '/etc/walhook/me.crt',
        key_file: '/etc/walhook/me.key',
      },
      batch: { max_events: 500, max_wait_ms: 0 },
    },
    retry: {
      num_retries: 3,
      interval_sec: 0,
      timeout_sec: 0.5,
      backoff: 'fixed',
      max_interval_sec: 30,
      final_statuses: [410, '4xx'],
      retry_after: 'any_status',
    },
    ordering: 'trigger',
    concurrency: 8,
  });
});

test('table names: bare means public, quotes keep case and odd characters, unquoted folds', () => {
  const tableOf = (text: string) => parseConfig(MINIMAL.replace('table: orders', `table: ${text}`), FILE, {});
  assert.deepEqual(tableOf('orders').triggers[0]?.table, { schema: 'public', name: 'orders' });
  assert.deepEqual(tableOf(`'"My Schema"."Odd.Name"'`).triggers[0]?.table, {
    schema: 'My Schema',
    name: 'Odd.Name',
  });
  assert.equal(tableOf(`'"My Schema"."Odd.Name"'`).triggers[0]?.tableText, '"My Schema"."Odd.Name"');
  assert.deepEqual(tableOf(`'"say ""hi"""'`).triggers[0]?.table, { schema: 'public', name: 'say "hi"' });
  assert.deepEqual(tableOf('Sales.Orders').triggers[0]?.table, { schema: 'sales', name: 'orders' });
  assert.deepEqual(tableOf('s$1.t_2').triggers[0]?.table, { schema: 's$1', name: 't_2' });
});

test('keeps integers under where exact and makes them numbers elsewhere', () => {
  const config = parseConfig(
    withTrigger('where:', '  new: { id: { _eq: 123456789012345678901 }, n: { _gt: 5 } }'),
    FILE,
    {},
  );
  assert.deepEqual(config.triggers[0]?.where, {
    new: { id: { _eq: 123456789012345678901n }, n: { _gt: 5n } },
  });
  assert.equal(typeof config.server.port, 'number');
});

test('interpolates set variables, defaults, empty defaults and escapes', () => {
  const config = parseConfig(
    `
source:
  connection: \${DATABASE_URL}
  slot: \${SLOT:-walhook_dev}
  publication: pub\${SUFFIX:-}
server:
  host: \${HOST:-}127.0.0.1
triggers:
  - name: orders
    table: orders
    operations: [insert]
    webhook: http://\${HOOK_HOST:-localhost}:3000/hooks/orders
    headers:
      Authorization: "Bearer \${HOOK_TOKEN}"
      X-Literal: "$\${NOT_A_VAR} and $\${}"
      X-Dollars: cost $5 \${EMPTY:-fallback}
# a comment may mention \${UNSET} freely
`,
    FILE,
    { DATABASE_URL: 'postgres://u:p@db/app', HOOK_TOKEN: 's3cr3t', EMPTY: '' },
  );
  assert.equal(config.source.connection, 'postgres://u:p@db/app');
  assert.equal(config.source.slot, 'walhook_dev');
  assert.equal(config.source.publication, 'pub');
  assert.equal(config.server.host, '127.0.0.1');
  const sink = config.triggers[0]?.sink;
  assert.ok(sink?.type === 'webhook');
  assert.equal(sink.url, 'http://localhost:3000/hooks/orders');
  assert.deepEqual(sink.headers, {
    Authorization: 'Bearer s3cr3t',
    'X-Literal': `\${NOT_A_VAR} and \${}`,
    'X-Dollars': 'cost $5 fallback',
  });
});

test('re-reads a plain scalar that was one reference, and nothing else', () => {
  const config = parseConfig(
    `${MINIMAL.replace('name: orders_paid', `name: \${NAME}`)}    where:
      new:
        paid:
          _eq: \${FLAG}
        id:
          _eq: \${BIG}
        note:
          _eq: \${YAMLISH}
server:
  port: \${PORT}
shutdown_grace_sec: \${GRACE:-0.5}
`,
    FILE,
    { PORT: '8080', FLAG: 'true', BIG: '123456789012345678901', YAMLISH: 'a: [b', NAME: 'orders' },
  );
  assert.equal(config.server.port, 8080);
  assert.equal(config.shutdown_grace_sec, 0.5);
  assert.deepEqual(config.triggers[0]?.where, {
    new: { paid: { _eq: true }, id: { _eq: 123456789012345678901n }, note: { _eq: 'a: [b' } },
  });
  // Read as if written in place: a bare 7 is a number, and quoting is how to keep a string.
  rejects(
    MINIMAL.replace('name: orders_paid', `name: \${NAME}`),
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: triggers[0].name: expected a string, got a number`,
    { NAME: '7' },
  );
  rejects(
    `${MINIMAL}server:\n  port: "\${PORT}"\n`,
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: server.port: expected a number, got a string`,
    { PORT: '8080' },
  );
});

test('reports invalid YAML with line and column', () => {
  rejects(
    'source:\n  connection: [postgres://x\ntriggers: []\n',
    'WALHOOK_ERR_CONFIG_YAML',
    `${FILE}:3:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`,
  );
  rejects(
    MINIMAL.replace('table: orders', 'table: "My Schema"."Odd.Name"'),
    'WALHOOK_ERR_CONFIG_YAML',
    `${FILE}:6:23: invalid YAML: Unexpected scalar at node end`,
  );
  rejects(
    `${MINIMAL}source: {}\n`,
    'WALHOOK_ERR_CONFIG_YAML',
    `${FILE}:9:1: invalid YAML: Map keys must be unique`,
  );
  rejects('a: !secret x\n', 'WALHOOK_ERR_CONFIG_YAML', `${FILE}:1:4: invalid YAML: Unresolved tag: !secret`);
});

test('a bare reference inside a flow collection is a YAML error, not a silent misread', () => {
  // `{` and `}` end a plain scalar inside `{ }` and `[ ]`, so such a reference must be quoted.
  rejects(
    `${MINIMAL}server: { port: \${PORT} }\n`,
    'WALHOOK_ERR_CONFIG_YAML',
    `${FILE}:9:18: invalid YAML: Unexpected flow-map-start at node end`,
    { PORT: '1' },
  );
});

test('reports an empty file and a top level that is not a mapping', () => {
  const empty = `${FILE}: the file is empty (expected a mapping with source and triggers)`;
  rejects('', 'WALHOOK_ERR_CONFIG_INVALID', empty);
  rejects('# only a comment\n', 'WALHOOK_ERR_CONFIG_INVALID', empty);
  rejects('- a\n', 'WALHOOK_ERR_CONFIG_INVALID', `${FILE}: expected a mapping at the top level, got a list`);
  rejects(
    'hello\n',
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: expected a mapping at the top level, got a single value`,
  );
});

test('reports unknown keys with the keys expected there', () => {
  rejects(
    `${MINIMAL}shutdown_grace: 3\n`,
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: shutdown_grace: unknown key (expected one of source, server, shutdown_grace_sec, metadata_store, user_agent, dead_letter, invocation_log, max_in_flight_events, max_in_flight_bytes, triggers)`,
  );
  rejects(
    withTrigger('colums: [status]'),
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: triggers[0].colums: unknown key (expected one of name, table, operations, columns, where, payload_columns, enable_manual, skip_unchanged_updates, trigger_on_replication, payload_format, webhook, sink, headers, secret, tls, user_agent, retry, ordering, concurrency, batch, request_transform)`,
  );
  // Named rather than the "webhook: required" it causes.
  rejects(
    MINIMAL.replace('webhook:', 'webhok:'),
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: triggers[0].webhok: unknown key (expected one of name, table, operations, columns, where, payload_columns, enable_manual, skip_unchanged_updates, trigger_on_replication, payload_format, webhook, sink, headers, secret, tls, user_agent, retry, ordering, concurrency, batch, request_transform)`,
  );
  rejects(
    withTrigger('retry: { retries: 3 }'),
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: triggers[0].retry.retries: unknown key (expected one of num_retries, interval_sec, timeout_sec, backoff, max_interval_sec, final_statuses, retry_after)`,
  );
});

test('reports missing keys, wrong types and out-of-range values', () => {
  const invalid = (text: string, message: string) =>
    rejects(text, 'WALHOOK_ERR_CONFIG_INVALID', `${FILE}: ${message}`);
  invalid(MINIMAL.replace(/source:\n.*\n/, ''), 'source.connection: required');
  invalid(MINIMAL.replace(/triggers:[\s\S]*/, ''), 'triggers: required');
  invalid(MINIMAL.replace(/triggers:[\s\S]*/, 'triggers: []'), 'triggers: must not be empty');
  invalid(
    MINIMAL.replace('    webhook: http://127.0.0.1:3000/hooks/orders\n', ''),
    'triggers[0].webhook: required (or a sink)',
  );
  invalid(`${MINIMAL}server:\n  port: nine\n`, 'server.port: expected a number, got a string');
  invalid(`${MINIMAL}server:\n  port: 70000\n`, 'server.port: must be <= 65535');
  invalid(`${MINIMAL}server:\n`, 'server: expected a mapping, got null');
  invalid(`${MINIMAL}shutdown_grace_sec: -1\n`, 'shutdown_grace_sec: must be >= 0');
  invalid(MINIMAL.replace('[insert]', 'insert'), 'triggers[0].operations: expected a list, got a string');
  invalid(withTrigger('retry: { timeout_sec: 0 }'), 'triggers[0].retry.timeout_sec: must be > 0');
  invalid(
    withTrigger('retry: { num_retries: 1.5 }'),
    'triggers[0].retry.num_retries: expected an integer, got a number',
  );
  invalid(
    withTrigger('headers: { X-Version: 2 }'),
    'triggers[0].headers.X-Version: expected a string, got a number',
  );
  invalid(
    withTrigger('headers: { "Bad Name": x }'),
    'triggers[0].headers["Bad Name"]: not a valid HTTP header name',
  );
  invalid(withTrigger('columns: []'), 'triggers[0].columns: must not be empty');
  invalid(
    `${MINIMAL}shutdown_grace_sec: 9007199254740993\n`,
    "shutdown_grace_sec: integer beyond ±9007199254740991 (only a trigger's where keeps such integers exact)",
  );
  invalid(
    MINIMAL.replace('source:\n', 'source:\n  slot: Walhook\n'),
    'source.slot: expected 1 to 63 characters among a-z, 0-9 and _',
  );
  invalid(
    MINIMAL.replace('table: orders', 'table: db.sales.orders'),
    'triggers[0].table: expected schema.table or table (identifiers, "double-quoted" for other characters or upper case)',
  );
});

test('slot safety keys: heartbeat period, retained WAL size with units, ready lag', () => {
  const sourceWith = (line: string) => MINIMAL.replace('source:\n', `source:\n  ${line}\n`);
  const retained = (value: string) => parseConfig(sourceWith(`max_retained_wal: ${value}`), FILE, {});
  assert.equal(retained('1048576').source.max_retained_wal, 1048576);
  assert.equal(retained('"2048"').source.max_retained_wal, 2048, 'a string without a unit counts bytes');
  assert.equal(retained('512B').source.max_retained_wal, 512);
  assert.equal(retained('10kB').source.max_retained_wal, 10_000);
  assert.equal(retained('"1.5 GB"').source.max_retained_wal, 1_500_000_000);
  assert.equal(retained('3MB').source.max_retained_wal, 3_000_000);
  assert.equal(retained('8KiB').source.max_retained_wal, 8192);
  assert.equal(retained('256MiB').source.max_retained_wal, 256 * 1024 ** 2);
  assert.equal(retained('2GiB').source.max_retained_wal, 2 * 1024 ** 3);
  const sizeProblem =
    'expected a byte count or a size such as 512MiB or 1GB (units B, kB, MB, GB, KiB, MiB, GiB)';
  for (const bad of ['lots', '1TB', '-5', '1.5', '5 mib', 'true', '[1]']) {
    rejects(
      sourceWith(`max_retained_wal: ${bad}`),
      'WALHOOK_ERR_CONFIG_INVALID',
      `${FILE}: source.max_retained_wal: ${sizeProblem}`,
    );
  }
  assert.equal(parseConfig(sourceWith('heartbeat_sec: 0'), FILE, {}).source.heartbeat_sec, 0);
  rejects(
    sourceWith('heartbeat_sec: -1'),
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: source.heartbeat_sec: must be >= 0`,
  );
  rejects(
    `${MINIMAL}server:\n  ready_max_lag_sec: 0\n`,
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: server.ready_max_lag_sec: must be > 0`,
  );
});

test('reports a where problem at its key path', () => {
  // The wording belongs to the where schema; the loader owns the file and path prefix.
  assert.throws(
    () => parseConfig(withTrigger('where:', '  new: { status: { _equals: paid } }'), FILE, {}),
    (err: unknown) =>
      isWalhookError(err, 'WALHOOK_ERR_CONFIG_INVALID') &&
      err.message.startsWith(`${FILE}: triggers[0].where.new.status._equals: `) &&
      !err.message.includes('\n'),
  );
});

test('reports bad operations', () => {
  const invalid = (operations: string, message: string) =>
    rejects(MINIMAL.replace('[insert]', operations), 'WALHOOK_ERR_CONFIG_INVALID', `${FILE}: ${message}`);
  invalid('[insert, upsert]', 'triggers[0].operations[1]: expected one of insert, update, delete, truncate');
  invalid('[]', 'triggers[0].operations: must not be empty');
  invalid(
    '[update, insert, update]',
    'triggers[0].operations[2]: duplicate operation "update" (also operations[0])',
  );
});

test('reports bad and duplicate trigger names and bad URLs', () => {
  rejects(
    MINIMAL.replace('name: orders_paid', 'name: orders paid'),
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: triggers[0].name: expected letters, digits, _ and - only`,
  );
  const another = (name: string) =>
    `  - name: ${name}\n    table: x\n    operations: [delete]\n    webhook: https://example.com\n`;
  rejects(
    `${MINIMAL}${another('other')}${another('orders_paid')}`,
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: triggers[2].name: duplicate trigger name "orders_paid" (also triggers[0].name)`,
  );
  for (const url of ['ftp://example.com/x', 'not a url', '/hooks/orders']) {
    rejects(
      MINIMAL.replace('http://127.0.0.1:3000/hooks/orders', url),
      'WALHOOK_ERR_CONFIG_INVALID',
      `${FILE}: triggers[0].webhook: expected an http or https URL`,
    );
  }
});

test('reports unset variables and malformed references by key path, never by value', () => {
  const text = MINIMAL.replace('postgres://walhook@localhost/app', `\${DATABASE_URL}`);
  rejects(
    text,
    'WALHOOK_ERR_CONFIG_ENV',
    `${FILE}: source.connection: environment variable DATABASE_URL is not set and has no default`,
  );
  rejects(
    withTrigger('headers:', `  Authorization: Bearer \${HOOK_TOKEN}`),
    'WALHOOK_ERR_CONFIG_ENV',
    `${FILE}: triggers[0].headers.Authorization: environment variable HOOK_TOKEN is not set and has no default`,
  );
  rejects(
    withTrigger('headers:', `  X-Key: \${KEY:-\${OTHER}}`),
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: triggers[0].headers.X-Key: invalid variable reference (expected \${NAME}, \${NAME:-default} or \${file:PATH}; write $\${ for a literal \${)`,
  );
  // An invalid value from the environment is described without being echoed.
  rejects(
    text,
    'WALHOOK_ERR_CONFIG_INVALID',
    `${FILE}: source.connection: expected a postgres:// or postgresql:// connection URL`,
    {
      DATABASE_URL: 'mysql://root:hunter2@db',
    },
  );
});

test('returns a deeply frozen config', () => {
  const config = parseConfig(withTrigger('headers: { A: b }'), FILE, {});
  const sink = config.triggers[0]?.sink;
  assert.ok(sink?.type === 'webhook' && Object.isFrozen(sink.headers));
  assert.throws(() => {
    (config.server as { port: number }).port = 1;
  }, TypeError);
  assert.throws(() => {
    (config.triggers as unknown[]).push({});
  }, TypeError);
});

test('loadConfigs reads the file and reports an unreadable one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walhook-config-'));
  try {
    const path = join(dir, 'walhook.yaml');
    await writeFile(path, MINIMAL);
    assert.equal((await loadConfigs(path, {}))[0]?.triggers[0]?.name, 'orders_paid');
    const missing = join(dir, 'missing.yaml');
    await assert.rejects(loadConfigs(missing, {}), (err: unknown) => {
      assert.ok(isWalhookError(err, 'WALHOOK_ERR_CONFIG_READ'));
      assert.equal(
        err.message,
        `${missing}: cannot read file: ENOENT: no such file or directory, open '${missing}'`,
      );
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
