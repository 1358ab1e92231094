import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { importHasura } from '../../src/config/hasura/import-config.js';
import { readHasuraMetadata } from '../../src/config/hasura/metadata-read.js';
import { parseConfigs } from '../../src/config/load.js';
import { isWalhookError } from '../../src/core/errors.js';
import { ROOT } from '../helpers/walhook.js';

const FOLDER = 'test/fixtures/hasura/metadata';
const TABLES = `${FOLDER}/databases/default/tables`;
const ENV = {
  PG_DATABASE_URL: 'postgres://walhook@localhost/app',
  BASE_URL: 'http://127.0.0.1:3000',
  ORDERS_API_KEY: '0123',
  ORDERS_DELETED_WEBHOOK: 'http://127.0.0.1:3000/deleted',
  LINE_SECRET: 'line-secret',
};

function run(source?: string) {
  return importHasura(readHasuraMetadata(join(ROOT, FOLDER)), {
    path: FOLDER,
    source,
    hasuraVersion: 'v2.48.1',
  });
}

test('the import report: one line per trigger, skipped sources, the tables that need REPLICA IDENTITY FULL', () => {
  const result = run();
  const at = (table: string, source = 'default') => `(source ${source}, table ${table})`;
  assert.deepEqual(result.lines, [
    `trigger order_created ${at('orders')}: mapped with a note: cleanup_config: accepted; walhook keeps no event log, and its invocation_log (if on) is pruned by the pipeline's invocation_log.retention: 168h, not per trigger`,
    `trigger order_status_changed ${at('orders')}: mapped`,
    `trigger order_deleted ${at('orders')}: mapped`,
    `trigger order_line_changed ${at('sales."Order Lines"')}: mapped`,
    'table orders (source default) needs REPLICA IDENTITY FULL for skip_unchanged_updates and whole old rows; its owner runs: ALTER TABLE "public"."orders" REPLICA IDENTITY FULL;',
    'table sales."Order Lines" (source default) needs REPLICA IDENTITY FULL for skip_unchanged_updates and whole old rows; its owner runs: ALTER TABLE "sales"."Order Lines" REPLICA IDENTITY FULL;',
    `trigger page_view_recorded ${at('page_views', 'analytics')}: mapped`,
    `trigger signup_enriched ${at('signups', 'analytics')}: mapped`,
    `trigger signup_scored ${at('signups', 'analytics')}: not supported: response_transform: an event trigger does nothing with the answer it gets besides its status, so walhook has nothing to transform; remove it`,
    `trigger report_ready ${at('dbo.reports', 'reporting')}: not supported: source reporting is skipped (kind mssql: walhook reads Postgres sources only)`,
  ]);
  assert.equal(result.complete, false);
});

test('several Postgres sources: one pipeline each, without the triggers that could not be mapped', () => {
  const config = parse(run().yaml as string);
  assert.deepEqual(
    config.pipelines.map((p: { name: string; source: unknown; triggers: { name: string }[] }) => [
      p.name,
      p.source,
      p.triggers.map((t) => t.name),
    ]),
    [
      [
        'default',
        { connection: `\${PG_DATABASE_URL}`, slot: 'walhook_default', publication: 'walhook_default' },
        ['order_created', 'order_status_changed', 'order_deleted', 'order_line_changed'],
      ],
      [
        'analytics',
        {
          connection: 'postgresql://analyst:p%40ss%20word@analytics.internal:5433/analytics',
          slot: 'walhook_analytics',
          publication: 'walhook_analytics',
        },
        ['page_view_recorded', 'signup_enriched'],
      ],
    ],
  );
});

test('--source: the single-pipeline form, complete, and a config walhook loads as it is', () => {
  const result = run('default');
  assert.equal(result.complete, true);
  assert.match(
    result.yaml as string,
    /^# walhook config imported from the Hasura metadata at .* source default/,
  );
  const [config] = parseConfigs(result.yaml as string, 'imported.yaml', ENV);
  assert.equal(config?.source.connection, ENV.PG_DATABASE_URL);
  const created = config?.triggers.find((t) => t.name === 'order_created');
  assert.deepEqual(created?.sink.type === 'webhook' && created.sink.headers, {
    'X-Api-Key': '0123',
    'X-Source': 'hasura',
  });
  assert.throws(
    () => run('reporting'),
    /import-hasura: --source reporting: kind mssql: walhook reads Postgres sources only/,
  );
  assert.throws(
    () => run('nope'),
    /--source nope: no such source in the metadata \(its sources: default, analytics, reporting\)/,
  );
});

function configError(text: string, env: NodeJS.ProcessEnv = ENV): string {
  try {
    parseConfigs(text, 'walhook.yaml', env, ROOT);
  } catch (err) {
    assert.ok(isWalhookError(err), String(err));
    assert.equal(err.exitCode, 2);
    return err.message;
  }
  throw new Error('loaded without error');
}

test("hasura: loads the triggers at start, after the file's own, and the connection unless set", () => {
  const text = `hasura: { metadata: ${FOLDER} }\nsource: { slot: hasura_unit }\ntriggers:\n  - { name: mine, table: t, operations: [insert], webhook: "http://127.0.0.1/x" }\n`;
  const [config] = parseConfigs(text, 'walhook.yaml', ENV, ROOT);
  assert.deepEqual(
    config?.triggers.map((t) => t.name),
    ['mine', 'order_created', 'order_status_changed', 'order_deleted', 'order_line_changed'],
  );
  assert.equal(config?.source.connection, ENV.PG_DATABASE_URL);
  const lines = config?.triggers.find((t) => t.name === 'order_line_changed');
  assert.equal(lines?.sink.type === 'webhook' && lines.sink.url, 'http://127.0.0.1:3000/lines');
  assert.deepEqual(lines?.table, { schema: 'sales', name: 'Order Lines' });
  const own = parseConfigs(
    `hasura: [{ metadata: ${FOLDER}, source: default, version: 2.40.0 }]\nsource: { connection: "postgres://other@h/db" }\n`,
    'walhook.yaml',
    // A connection set in the file needs none of the Hasura source's variables.
    { ...ENV, PG_DATABASE_URL: undefined },
    ROOT,
  )[0];
  assert.equal(own?.source.connection, 'postgres://other@h/db');
  assert.equal(
    own?.triggers[0]?.sink.type === 'webhook' && own.triggers[0].sink.user_agent,
    'hasura-graphql-engine/v2.40.0',
  );
});

test('hasura: problems are one line naming the file, the trigger and the key', () => {
  const key = `hasura: { metadata: ${FOLDER}`;
  assert.equal(
    configError(`${key}, source: analytics }\n`),
    `walhook.yaml: hasura.metadata: ${FOLDER}/databases/analytics/tables/public_signups.yaml: event trigger signup_scored: response_transform: an event trigger does nothing with the answer it gets besides its status, so walhook has nothing to transform; remove it (see walhook import-hasura)`,
  );
  assert.equal(
    configError(`${key}, source: reporting }\n`),
    'walhook.yaml: hasura.source: source reporting: kind mssql: walhook reads Postgres sources only',
  );
  assert.equal(
    configError(`${key}, source: nope }\n`),
    `walhook.yaml: hasura.source: no source nope in ${FOLDER} (its sources: default, analytics, reporting)`,
  );
  assert.equal(
    configError(`${key} }\n`, { ...ENV, BASE_URL: undefined }),
    `walhook.yaml: hasura.metadata: ${TABLES}/public_orders.yaml: event trigger order_created: webhook: environment variable BASE_URL is not set and has no default`,
  );
  assert.equal(
    configError(
      `${key} }\ntriggers:\n  - { name: order_deleted, table: t, operations: [insert], webhook: "http://h/x" }\n`,
    ),
    `walhook.yaml: hasura.metadata: duplicate trigger name "order_deleted": triggers[0] and event trigger order_deleted of ${TABLES}/public_orders.yaml; rename one`,
  );
  assert.equal(
    configError(`${key}, colour: red }\n`),
    'walhook.yaml: hasura.colour: unknown key (expected one of metadata, source, version)',
  );
  assert.equal(
    configError(`hasura: { metadata: nowhere }\n`),
    'walhook.yaml: hasura.metadata: nowhere: no such file or folder (expected a Hasura metadata folder or JSON export)',
  );
  assert.equal(
    configError(`${key} }\n`, { ...ENV, BASE_URL: 'not a url' }),
    `walhook.yaml: triggers[0].webhook: event trigger order_created of ${TABLES}/public_orders.yaml: expected an http or https URL`,
  );
});

test('hasura: in each pipeline, not at the top level of the pipelines form', () => {
  const pipelines = `pipelines:\n  - name: a\n    source: { slot: hasura_p }\n    hasura: { metadata: ${FOLDER} }\n`;
  const [config] = parseConfigs(pipelines, 'walhook.yaml', ENV, ROOT);
  assert.equal(config?.triggers.length, 4);
  assert.equal(
    configError(`hasura: { metadata: ${FOLDER} }\n${pipelines}`),
    'walhook.yaml: hasura: not allowed at the top level with pipelines: set it in each pipeline',
  );
});
