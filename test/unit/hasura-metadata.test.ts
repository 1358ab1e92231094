import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readHasuraMetadata } from '../../src/config/hasura/metadata-read.js';
import { isWalhookError } from '../../src/core/errors.js';
import { ROOT } from '../helpers/walhook.js';

const FOLDER = join(ROOT, 'test/fixtures/hasura/metadata');
const JSON_EXPORT = join(ROOT, 'test/fixtures/hasura/metadata.json');
const V2 = join(ROOT, 'test/fixtures/hasura/metadata-v2.json');

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'walhook-hasura-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function summary(path: string) {
  return readHasuraMetadata(path).sources.map((source) => ({
    name: source.name,
    kind: source.kind,
    tables: source.tables.map((t) => (t.value.table as { name: string }).name),
    triggers: source.tables.flatMap((t) =>
      ((t.value.event_triggers as { name: string }[] | undefined) ?? []).map((e) => e.name),
    ),
  }));
}

function readError(path: string): string {
  try {
    readHasuraMetadata(path);
  } catch (err) {
    assert.ok(isWalhookError(err, 'WALHOOK_ERR_HASURA_METADATA'), String(err));
    return err.message;
  }
  throw new Error(`${path} was read without error`);
}

test('a version 3 folder: databases.yaml, tables through !include, relative to the including file', () => {
  assert.deepEqual(summary(FOLDER), [
    {
      name: 'default',
      kind: 'postgres',
      tables: ['customers', 'orders', 'payments', 'Order Lines'],
      triggers: ['order_created', 'order_status_changed', 'order_deleted', 'order_line_changed'],
    },
    {
      name: 'analytics',
      kind: 'postgres',
      tables: ['page_views', 'signups', 'sessions'],
      triggers: ['page_view_recorded', 'signup_enriched', 'signup_scored'],
    },
    { name: 'reporting', kind: 'mssql', tables: ['reports'], triggers: ['report_ready'] },
  ]);
  const orders = readHasuraMetadata(FOLDER).sources[0]?.tables[1];
  assert.equal(orders?.file, 'test/fixtures/hasura/metadata/databases/default/tables/public_orders.yaml');
});

test('the JSON export of the same project reads the same', () => {
  assert.deepEqual(summary(JSON_EXPORT), summary(FOLDER));
  const folder = readHasuraMetadata(FOLDER).sources.map((s) => s.tables.map((t) => t.value));
  const json = readHasuraMetadata(JSON_EXPORT).sources.map((s) => s.tables.map((t) => t.value));
  assert.deepEqual(json, folder);
});

test("export_metadata's {resource_version, metadata} answer is unwrapped", async () => {
  const metadata = JSON.parse(await readFile(JSON_EXPORT, 'utf8'));
  const path = join(dir, 'answer.json');
  await writeFile(path, JSON.stringify({ resource_version: 42, metadata }));
  assert.deepEqual(summary(path), summary(FOLDER));
});

test('version 2: the tables of the one database, connected through HASURA_GRAPHQL_DATABASE_URL', () => {
  const metadata = readHasuraMetadata(V2);
  assert.equal(metadata.version, 2);
  assert.deepEqual(summary(V2), [
    { name: 'default', kind: 'postgres', tables: ['authors', 'books'], triggers: ['author_changed'] },
  ]);
  assert.deepEqual(metadata.sources[0]?.configuration, {
    connection_info: { database_url: { from_env: 'HASURA_GRAPHQL_DATABASE_URL' } },
  });
});

test('!include as a YAML tag as well as the quoted string the Hasura CLI writes', async () => {
  const folder = join(dir, 'tagged');
  await mkdir(join(folder, 'databases/main/tables'), { recursive: true });
  await writeFile(join(folder, 'version.yaml'), 'version: 3\n');
  await writeFile(
    join(folder, 'databases/databases.yaml'),
    '- name: main\n  kind: postgres\n  configuration:\n    connection_info:\n      database_url: postgres://a@b/c\n  tables: !include main/tables/tables.yaml\n',
  );
  await writeFile(
    join(folder, 'databases/main/tables/tables.yaml'),
    '- !include public_t.yaml\n- "!include public_u.yaml"\n',
  );
  await writeFile(join(folder, 'databases/main/tables/public_t.yaml'), 'table: {schema: public, name: t}\n');
  await writeFile(join(folder, 'databases/main/tables/public_u.yaml'), 'table: {schema: public, name: u}\n');
  assert.deepEqual(summary(folder), [{ name: 'main', kind: 'postgres', tables: ['t', 'u'], triggers: [] }]);
});

test('what cannot be read is one coded line naming the file', async () => {
  assert.match(
    readError(join(dir, 'nope')),
    /nope: no such file or folder \(expected a Hasura metadata folder or JSON export\)$/,
  );
  const empty = join(dir, 'empty');
  await mkdir(empty);
  assert.match(
    readError(empty),
    /empty\/version\.yaml: no such file \(is this a Hasura metadata folder or export\?\)$/,
  );
  await writeFile(join(empty, 'version.yaml'), 'version: 4\n');
  assert.match(readError(empty), /version\.yaml: version: expected 2 or 3$/);
  const bad = join(dir, 'bad.json');
  await writeFile(bad, '{"version": 3, ');
  assert.match(readError(bad), /bad\.json: not valid JSON: /);
  const loop = join(dir, 'loop');
  await mkdir(join(loop, 'databases'), { recursive: true });
  await writeFile(join(loop, 'version.yaml'), 'version: 3\n');
  await writeFile(join(loop, 'databases/databases.yaml'), '- name: d\n  tables: "!include t.yaml"\n');
  await writeFile(join(loop, 'databases/t.yaml'), '"!include t.yaml"\n');
  assert.match(readError(loop), /t\.yaml: !include nested more than 16 deep$/);
});
