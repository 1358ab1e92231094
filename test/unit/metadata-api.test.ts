import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { z } from 'zod';
import type { Config } from '../../src/config/schema.js';
import type { MetadataContext } from '../../src/server/metadata-api/context.js';
import { MetadataError, parseArgs } from '../../src/server/metadata-api/errors.js';
import { EventLogs } from '../../src/server/metadata-api/event-logs.js';
import { eventOfAttempt, eventOfLetter, invocationRow } from '../../src/server/metadata-api/event-rows.js';
import { exportMetadata } from '../../src/server/metadata-api/export.js';
import { invokeEventTrigger, redeliverEvent } from '../../src/server/metadata-api/invoke.js';
import { testWebhookTransform } from '../../src/server/metadata-api/transform.js';
import { EventNotFound, RedeliveryRefused } from '../../src/service/redeliver-event.js';
import { parseConfig } from '../helpers/config.js';

const CONFIG = `
source: { connection: postgres://localhost/app }
triggers:
  - name: orders
    table: public.orders
    operations: [insert, update]
    columns: [status]
    webhook: https://user:pw@example.com/orders
    headers: { X-Key: very-secret }
    retry: { num_retries: 3 }
  - name: audit
    table: audit.log
    operations: [delete]
    enable_manual: true
    payload_columns: [id]
    webhook: https://example.com/audit
`;

function context(
  configs: readonly Readonly<Config>[] = [parseConfig(CONFIG, 'walhook.yaml')],
  redeliver: MetadataContext['redeliver'] = async (id) => {
    throw new EventNotFound(`no dead letter and no event of the invocation log has id ${id}`);
  },
): MetadataContext {
  return {
    configs,
    backfillsOf: () => null,
    redeliver,
    changeStore: async () => {
      throw new Error('not in these tests');
    },
  };
}

async function rejects(promise: Promise<unknown>, expected: { code: string; path?: string; error?: RegExp }) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof MetadataError, String(err));
    assert.equal(err.code, expected.code);
    if (expected.path !== undefined) assert.equal(err.path, expected.path);
    if (expected.error !== undefined) assert.match(err.message, expected.error);
    return true;
  });
}

test('arguments are checked with Hasura-style paths and parse-failed', () => {
  const schema = z.object({ name: z.string(), page: z.object({ limit: z.number() }) });
  assert.throws(
    () => parseArgs(schema, { page: { limit: 1 } }),
    (err: MetadataError) =>
      err.code === 'parse-failed' && err.path === '$.args.name' && /"name" not found/.test(err.message),
  );
  assert.throws(
    () => parseArgs(schema, { name: 'x', page: { limit: 'many' } }),
    (err: MetadataError) => err.path === '$.args.page.limit',
  );
  const error = new MetadataError('not-exists', 'gone', '$.args.name').under('$.args[2]');
  assert.deepEqual(error.json(), { path: '$.args[2].args.name', error: 'gone', code: 'not-exists' });
});

test('a logged attempt and a dead letter become event_log rows', () => {
  const body = JSON.stringify({
    event: { op: 'INSERT', data: { old: null, new: { id: 1 } } },
    created_at: '2026-01-02T03:04:05.000Z',
    id: 'e1',
  });
  const attempt = {
    id: '7',
    eventId: 'e1',
    trigger: 'orders',
    op: 'INSERT',
    table: 'public.orders',
    lsn: '0/1',
    attempt: 2,
    batchSize: 1,
    at: new Date('2026-01-02T03:04:06.000Z'),
    durationMs: 3,
    status: 200,
    outcome: 'delivered',
    errorType: null,
    error: null,
    request: {
      url: 'https://example.com',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    },
    responseBody: 'ok',
  };
  assert.deepEqual(eventOfAttempt({ ...attempt, tries: 2, firstAt: new Date(0) }), {
    id: 'e1',
    schema_name: 'public',
    table_name: 'orders',
    trigger_name: 'orders',
    payload: { op: 'INSERT', data: { old: null, new: { id: 1 } } },
    delivered: true,
    error: false,
    tries: 2,
    created_at: '2026-01-02T03:04:05.000Z',
    locked: null,
    next_retry_at: null,
    archived: false,
  });
  const row = invocationRow(attempt);
  assert.equal(row.status, 200);
  assert.deepEqual(row.request.headers, [{ name: 'content-type', value: 'application/json' }]);
  assert.deepEqual(row.response, {
    type: 'webhook_response',
    data: { body: 'ok', headers: [], status: 200 },
    version: '2',
  });
  const failed = invocationRow({ ...attempt, status: null, errorType: 'connect', error: 'ECONNREFUSED' });
  assert.deepEqual(failed.response, {
    type: 'client_error',
    data: { message: 'connect: ECONNREFUSED' },
    version: '2',
  });
  const letter = eventOfLetter({
    id: 'e2',
    trigger: 'orders',
    table: 'public.orders',
    op: 'INSERT',
    lsn: '0/1',
    body: 'not json',
    attempts: 4,
    lastStatus: 503,
    lastError: 'http: HTTP 503',
    responseSnippet: null,
    firstAttemptAt: new Date('2026-01-01T00:00:00.000Z'),
    lastAttemptAt: new Date(),
    deadLetteredAt: new Date(),
  });
  assert.equal(letter.error, true);
  assert.equal(letter.delivered, false);
  assert.equal(letter.tries, 4);
  assert.equal(letter.payload, 'not json');
  assert.equal(letter.created_at, '2026-01-01T00:00:00.000Z');
});

test('test_webhook_transform renders the request without sending it', async () => {
  const answer = await testWebhookTransform(
    {
      webhook_url: 'https://example.com/hook',
      body: { event: { data: { new: { id: 5 } } } },
      request_transform: {
        version: 2,
        method: 'put',
        url: '{{$base_url}}/items/{{$body.event.data.new.id}}',
        body: { action: 'transform', template: '{"id": {{$body.event.data.new.id}}}' },
        request_headers: { add_headers: { 'x-role': '{{$session_variables["x-hasura-role"]}}' } },
      },
      session_variables: { 'x-hasura-role': 'admin' },
    },
    context(),
  );
  assert.deepEqual(answer, {
    method: 'PUT',
    webhook_url: 'https://example.com/hook/items/5',
    body: { id: 5 },
    headers: [
      ['content-type', 'application/json'],
      ['x-role', 'admin'],
    ],
  });
  await rejects(
    testWebhookTransform(
      {
        webhook_url: 'https://example.com',
        body: {},
        request_transform: { version: 2, url: '{{$body.nope' },
      },
      context(),
    ),
    { code: 'parse-failed', path: '$.args.request_transform.url' },
  );
});

test('export_metadata gives the triggers in the v3 shape, secrets left out', async () => {
  // biome-ignore lint/suspicious/noExplicitAny: the answer is read field by field
  const metadata = (await exportMetadata({}, context())) as { version: number; sources: any[] };
  assert.equal(metadata.version, 3);
  const [source] = metadata.sources;
  assert.equal(source.name, 'default');
  assert.deepEqual(
    source.tables.map((t: { table: unknown }) => t.table),
    [
      { schema: 'public', name: 'orders' },
      { schema: 'audit', name: 'log' },
    ],
  );
  const [orders] = source.tables[0].event_triggers;
  assert.deepEqual(orders, {
    name: 'orders',
    definition: {
      enable_manual: false,
      insert: { columns: '*', payload: '*' },
      update: { columns: ['status'], payload: '*' },
    },
    retry_conf: { num_retries: 3, interval_sec: 10, timeout_sec: 60 },
    webhook: 'https://example.com/orders',
    headers: [{ name: 'X-Key', value: '<masked>' }],
  });
  assert.deepEqual(source.tables[1].event_triggers[0].definition, {
    enable_manual: true,
    delete: { columns: '*', payload: ['id'] },
  });
  const wrapped = (await exportMetadata({ version: 2 }, context())) as { resource_version: number };
  assert.equal(wrapped.resource_version, 1);
});

test('operations name what is missing: triggers, sources, manual mode, dead letters, the log', async () => {
  await rejects(invokeEventTrigger({ name: 'nope', payload: {} }, context()), {
    code: 'not-exists',
    path: '$.args.name',
  });
  await rejects(invokeEventTrigger({ name: 'orders', source: 'elsewhere', payload: {} }, context()), {
    code: 'not-exists',
    path: '$.args.source',
  });
  await rejects(invokeEventTrigger({ name: 'orders', payload: {} }, context()), {
    code: 'not-supported',
    error: /enable_manual: true/,
  });
  await rejects(invokeEventTrigger({ name: 'audit', payload: {} }, context()), { code: 'unexpected' });
  await rejects(invokeEventTrigger({ name: 'audit', payload: 3 }, context()), {
    code: 'parse-failed',
    path: '$.args.payload',
  });
  await rejects(redeliverEvent({ event_id: 'x' }, context()), {
    code: 'not-exists',
    path: '$.args.event_id',
    error: /among the dead letters or in the invocation log/,
  });
  const refused = async () => {
    throw new RedeliveryRefused('event trigger "gone" of event x is no longer in the config');
  };
  await rejects(redeliverEvent({ event_id: 'x' }, context(undefined, refused)), {
    code: 'not-supported',
    error: /"gone"/,
  });
  let looked: string[] = [];
  const delivered: MetadataContext['redeliver'] = async (id, pipelines) => {
    looked = pipelines.map((c) => c.pipeline);
    return { id, trigger: 'orders', outcome: 'delivered', status: 200, from: 'invocation_log' };
  };
  assert.deepEqual(await redeliverEvent({ event_id: 'x' }, context(undefined, delivered)), {
    message: 'success',
  });
  assert.deepEqual(looked, ['default']);
  const logs = new EventLogs(context().configs, pino({ level: 'silent' }));
  try {
    await rejects(logs.eventLogs({ name: 'orders' }, context()), {
      code: 'not-supported',
      error: /invocation_log/,
    });
    await rejects(logs.invocationLogs({ name: 'orders' }, context()), { code: 'not-supported' });
    await rejects(logs.eventById({ event_id: 'x' }, context()), {
      code: 'not-supported',
      error: /invocation_log/,
    });
  } finally {
    await logs.close();
  }
});
