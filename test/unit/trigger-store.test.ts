import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  type StoredTrigger,
  storedTriggers,
  storeText,
  writeStore,
} from '../../src/config/hasura/trigger-store.js';
import { parseConfigs } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { MetadataContext } from '../../src/server/metadata-api/context.js';
import { MetadataError } from '../../src/server/metadata-api/errors.js';
import { exportMetadata } from '../../src/server/metadata-api/export.js';
import { createEventTrigger, deleteEventTrigger } from '../../src/server/metadata-api/trigger-ops.js';

/*
 * The metadata store (triggers created through /v1/metadata): its file format, how the loader adds its
 * triggers to their pipelines, and pg_create_event_trigger / pg_delete_event_trigger's rules, with the
 * store kept in memory (the integration test metadata-triggers.test.ts runs them in a real walhook).
 */

const FILE = `
source: { connection: postgres://localhost/app }
triggers:
  - name: from_file
    table: public.orders
    operations: [insert]
    webhook: https://example.com/file
`;

const stored = (name: string, extra: Record<string, unknown> = {}): StoredTrigger => ({
  source: 'default',
  table: { schema: 'public', name: 'orders' },
  conf: { name, definition: { insert: { columns: '*' } }, webhook: 'https://example.com/api', ...extra },
});

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'walhook-store-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the store is Hasura metadata v3 JSON; reading it back gives the same triggers', () => {
  const triggers = [stored('a'), { ...stored('b'), table: { schema: 'audit', name: 'Log' } }, stored('c')];
  const text = storeText(triggers);
  const json = JSON.parse(text);
  assert.equal(json.version, 3);
  assert.deepEqual(
    json.sources[0].tables.map((t: { table: unknown; event_triggers: { name: string }[] }) => [
      t.table,
      t.event_triggers.map((e) => e.name),
    ]),
    [
      [{ schema: 'public', name: 'orders' }, ['a', 'c']],
      [{ schema: 'audit', name: 'Log' }, ['b']],
    ],
  );
  assert.deepEqual(
    storedTriggers(text, 'store.json').map((t) => t.conf.name),
    ['a', 'c', 'b'],
  );
  assert.deepEqual(storedTriggers(null, 'store.json'), []);
});

test('writeStore replaces the file whole and leaves no temporary file behind', async () => {
  const path = join(dir, 'replace.json');
  await writeStore(path, storeText([stored('one')]));
  await writeStore(path, storeText([stored('two')]));
  assert.deepEqual(
    storedTriggers(await readFile(path, 'utf8'), path).map((t) => t.conf.name),
    ['two'],
  );
  const { readdir } = await import('node:fs/promises');
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.startsWith('replace')),
    ['replace.json'],
  );
});

test('the loader appends the store’s triggers to their pipeline, mapped with Hasura’s semantics', () => {
  const [config] = parseConfigs(FILE, 'walhook.yaml', {}, dir, storeText([stored('from_api')]));
  assert.deepEqual(
    config?.triggers.map((t) => t.name),
    ['from_file', 'from_api'],
  );
  const api = config?.triggers[1];
  assert.equal(api?.payload_format, 'hasura');
  assert.equal(config?.metadata_store, join(dir, 'walhook-metadata.json'));
});

test('the store’s problems are one line naming metadata_store and the trigger', () => {
  const load =
    (text: string, config = FILE) =>
    () =>
      parseConfigs(config, 'walhook.yaml', {}, dir, text);
  assert.throws(load(storeText([stored('from_file')])), {
    message:
      /^walhook\.yaml: metadata_store: duplicate trigger name "from_file": triggers\[0\] and event trigger from_file of walhook-metadata\.json; rename one$/,
  });
  assert.throws(load('{not json'), {
    message: /^walhook\.yaml: metadata_store: walhook-metadata\.json: not valid JSON/,
  });
  assert.throws(load(storeText([{ ...stored('x'), source: 'billing' }])), {
    message:
      /^walhook\.yaml: metadata_store: walhook-metadata\.json: source billing is no pipeline of this config \(its pipelines: default\)/,
  });
  assert.throws(load(storeText([stored('bad', { retry_conf: { num_retries: -1 } })])), {
    message:
      /metadata_store: walhook-metadata\.json: event trigger bad: retry_conf\.num_retries: expected a whole number/,
  });
  assert.throws(load(storeText([stored('needs_env', { webhook: '{{NOT_SET_ANYWHERE}}/x' })])), {
    message: /event trigger needs_env: webhook: .*NOT_SET_ANYWHERE/,
  });
});

/** A context whose store lives in memory and whose configs are loaded with it, as the reloader does. */
function memoryContext(configText = FILE) {
  let store: StoredTrigger[] = [];
  const configs: Readonly<Config>[] = [...parseConfigs(configText, 'walhook.yaml', {}, dir, storeText([]))];
  const context: MetadataContext = {
    configs,
    backfillsOf: () => null,
    redeliver: async () => {
      throw new Error('not in these tests');
    },
    changeStore: async (_why, edit) => {
      const next = edit(store);
      const loaded = parseConfigs(configText, 'walhook.yaml', {}, dir, storeText(next));
      configs.splice(0, configs.length, ...loaded);
      store = next;
    },
  };
  return { context, store: () => store };
}

async function refused(promise: Promise<unknown>, code: string, error: RegExp, path?: string) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof MetadataError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, error);
    if (path !== undefined) assert.equal(err.path, path);
    return true;
  });
}

const createArgs = (name: string, more: Record<string, unknown> = {}) => ({
  name,
  table: { schema: 'public', name: 'orders' },
  webhook: 'https://example.com/created',
  insert: { columns: '*' },
  ...more,
});

test('pg_create_event_trigger: created, then already-exists; replace changes it, not its table', async () => {
  const { context, store } = memoryContext();
  assert.deepEqual(await createEventTrigger(createArgs('api'), context), { message: 'success' });
  assert.deepEqual(
    context.configs[0]?.triggers.map((t) => t.name),
    ['from_file', 'api'],
  );
  assert.deepEqual(store()[0]?.conf, {
    name: 'api',
    definition: { insert: { columns: '*' }, enable_manual: false },
    webhook: 'https://example.com/created',
  });
  await refused(
    createEventTrigger(createArgs('api'), context),
    'already-exists',
    /^Event trigger with name "api" already exists$/,
    '$.args',
  );
  await createEventTrigger(createArgs('api', { replace: true, webhook: 'https://example.com/v2' }), context);
  assert.equal(store()[0]?.conf.webhook, 'https://example.com/v2');
  await refused(
    createEventTrigger(createArgs('api', { replace: true, table: 'other' }), context),
    'not-supported',
    /cannot replace table or schema for trigger/,
  );
  await refused(
    createEventTrigger(createArgs('never', { replace: true }), context),
    'not-exists',
    /event trigger "never" does not exist/,
  );
});

test('pg_create_event_trigger: a config file trigger is not the API’s to replace; bad input is refused whole', async () => {
  const { context, store } = memoryContext();
  await refused(createEventTrigger(createArgs('from_file'), context), 'already-exists', /"from_file"/);
  await refused(
    createEventTrigger(createArgs('from_file', { replace: true }), context),
    'not-supported',
    /defined in walhook's config file .*change it there and reload walhook/,
  );
  await refused(
    createEventTrigger(createArgs('nohook', { webhook: undefined }), context),
    'invalid-configuration',
    /event trigger nohook: webhook/,
  );
  await refused(
    createEventTrigger({ ...createArgs('x'), colour: 'blue' }, context),
    'parse-failed',
    /colour/,
  );
  assert.deepEqual(store(), []);
});

test('pg_delete_event_trigger: removes a created trigger; a file trigger or an unknown name is refused', async () => {
  const { context, store } = memoryContext();
  await createEventTrigger(createArgs('api'), context);
  assert.deepEqual(await deleteEventTrigger({ name: 'api' }, context), { message: 'success' });
  assert.deepEqual(store(), []);
  assert.deepEqual(
    context.configs[0]?.triggers.map((t) => t.name),
    ['from_file'],
  );
  await refused(
    deleteEventTrigger({ name: 'api' }, context),
    'not-exists',
    /event trigger "api" does not exist/,
  );
  await refused(deleteEventTrigger({ name: 'from_file' }, context), 'not-supported', /config file/);
});

test('with several pipelines a trigger is created in the pipeline its source names', async () => {
  const several = `
pipelines:
  - name: shop
    source: { connection: postgres://localhost/shop, slot: shop }
    triggers: [{ name: s, table: orders, operations: [insert], webhook: https://example.com/s }]
  - name: crm
    source: { connection: postgres://localhost/crm, slot: crm }
    triggers: [{ name: c, table: people, operations: [insert], webhook: https://example.com/c }]
`;
  const { context, store } = memoryContext(several);
  await refused(
    createEventTrigger(createArgs('x'), context),
    'not-supported',
    /source "default" stands for all 2 pipelines .*\(shop, crm\)/,
    '$.args.source',
  );
  await createEventTrigger(createArgs('x', { source: 'crm' }), context);
  assert.equal(store()[0]?.source, 'crm');
  assert.deepEqual(
    context.configs.map((c) => c.triggers.map((t) => t.name)),
    [['s'], ['c', 'x']],
  );
});

test('export_metadata shows a created trigger as it was given, header values masked', async () => {
  const path = join(dir, 'export.json');
  await writeFile(
    path,
    storeText([
      stored('api', {
        headers: [
          { name: 'X-Key', value: 'secret' },
          { name: 'X-Env', value_from_env: 'KEY' },
        ],
        request_transform: { version: 2, template_engine: 'Kriti', method: 'PUT' },
      }),
    ]),
  );
  const [config] = parseConfigs(`metadata_store: ${path}\n${FILE}`, 'walhook.yaml', { KEY: 'k' }, dir);
  const context = memoryContext().context;
  const exported = (await exportMetadata({}, { ...context, configs: [config as Readonly<Config>] })) as {
    sources: { tables: { event_triggers: Record<string, unknown>[] }[] }[];
  };
  const triggers = exported.sources[0]?.tables[0]?.event_triggers ?? [];
  assert.deepEqual(
    triggers.map((t) => t.name),
    ['from_file', 'api'],
  );
  assert.deepEqual(triggers[1]?.headers, [
    { name: 'X-Key', value: '<masked>' },
    { name: 'X-Env', value_from_env: 'KEY' },
  ]);
  assert.deepEqual(triggers[1]?.request_transform, { version: 2, template_engine: 'Kriti', method: 'PUT' });
});
