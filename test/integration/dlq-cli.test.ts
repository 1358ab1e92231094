import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfigs } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { userAgent } from '../../src/core/version.js';
import { openDeadLetterStore } from '../../src/dead-letters/open.js';
import { type DeadLetter, type DeadLetterStore, letterToJson } from '../../src/dead-letters/store.js';
import { parseConfig } from '../helpers/config.js';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { runCli, writeConfig } from '../helpers/walhook.js';

const DAY_MS = 86_400_000;

function letter(id: string, trigger: string, lsn: string, daysAgo = 1): DeadLetter {
  const at = new Date(Date.now() - daysAgo * DAY_MS);
  return {
    id,
    trigger,
    table: 'public.orders',
    op: 'INSERT',
    lsn,
    // Not what walhook would build today: redelivery must send the stored bytes, not a new payload.
    body: `{ "id": "${id}", "trigger": {"name": "${trigger}"}, "n": 12345678901234567890, "note": "caf\u00e9" }`,
    attempts: 4,
    lastStatus: 503,
    lastError: 'HTTP 503',
    responseSnippet: null,
    firstAttemptAt: at,
    lastAttemptAt: at,
    deadLetteredAt: at,
  };
}

function configYaml(receiver: Receiver, connection: string, deadLetter: string): string {
  return `source:
  connection: ${connection}
${deadLetter}triggers:
  - name: orders_paid
    table: public.orders
    operations: [insert]
    webhook: ${receiver.url}/ok
    headers: { Authorization: "Bearer t0ken", X-Tenant: acme }
    retry: { num_retries: 5, timeout_sec: 5 }
  - name: orders_broken
    table: public.orders
    operations: [insert]
    webhook: ${receiver.url}/fail
`;
}

/** The same CLI session against either store; `deadLetter` is the config's dead_letter block. */
function scenario(connection: () => string, deadLetter: () => string) {
  let receiver: Receiver;
  let configPath: string;
  let store: DeadLetterStore;
  const paid = letter('11111111-1111-5111-8111-111111111111', 'orders_paid', '0/2000');
  const brokenA = letter('22222222-2222-5222-8222-222222222222', 'orders_broken', '0/300');
  const brokenB = letter('33333333-3333-5333-8333-333333333333', 'orders_broken', '0/3000');
  const orphan = letter('44444444-4444-5444-8444-444444444444', 'orders_removed', '0/10');
  const old = letter('55555555-5555-5555-8555-555555555555', 'orders_paid', '1/0', 10);

  before(async () => {
    receiver = await startReceiver((delivery) => (delivery.path.startsWith('/fail') ? 500 : 200));
    const yaml = configYaml(receiver, connection(), deadLetter());
    configPath = await writeConfig(yaml);
    store = openDeadLetterStore(parseConfig(yaml, 'test'));
    await store.init();
    for (const item of [paid, brokenA, brokenB, orphan, old]) await store.add(item);
  });
  after(async () => {
    await store.close();
    await receiver.close();
  });

  test('list prints a table in LSN order, --json the full records', async () => {
    const table = await runCli(['dlq', 'list', '--config', configPath]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(
      lines[0] as string,
      /^ID +TRIGGER +TABLE +OP +LSN +ATTEMPTS +LAST STATUS +DEAD-LETTERED AT +ERROR$/,
    );
    assert.deepEqual(
      lines.slice(1).map((line) => line.split(/ +/)[0]),
      [orphan, brokenA, paid, brokenB, old].map((item) => item.id),
    );
    assert.match(lines[3] as string, /orders_paid +public\.orders +INSERT +0\/2000 +4 +503 +\S+ +HTTP 503$/);

    const json = await runCli(['dlq', 'list', '--json', '--trigger', 'orders_broken'], {
      WALHOOK_CONFIG: configPath,
    });
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(
      json.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
      [letterToJson(brokenA), letterToJson(brokenB)],
    );
  });

  test('redeliver --id POSTs the stored body with the configured headers and removes the letter', async () => {
    const result = await runCli(['dlq', 'redeliver', '--config', configPath, '--id', paid.id]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trimEnd().split('\n'), [
      `${paid.id}  orders_paid  delivered: HTTP 200`,
      '1 of 1 redelivered, 0 kept',
    ]);
    const [delivery] = receiver.at('/ok');
    assert.equal(receiver.deliveries.length, 1);
    assert.equal(delivery?.raw, paid.body);
    assert.equal(delivery?.headers.authorization, 'Bearer t0ken');
    assert.equal(delivery?.headers['x-tenant'], 'acme');
    assert.equal(delivery?.headers['content-type'], 'application/json');
    assert.equal(delivery?.headers['user-agent'], userAgent());
    assert.deepEqual(await store.list({ id: paid.id }), []);
  });

  test('redeliver --trigger with a failing receiver keeps the letters and exits 1', async () => {
    const result = await runCli(['dlq', 'redeliver', '--config', configPath, '--trigger', 'orders_broken']);
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(result.stdout.trimEnd().split('\n'), [
      `${brokenA.id}  orders_broken  kept: HTTP 500`,
      `${brokenB.id}  orders_broken  kept: HTTP 500`,
      '0 of 2 redelivered, 2 kept',
    ]);
    assert.deepEqual(
      receiver.at('/fail').map((delivery) => delivery.raw),
      [brokenA.body, brokenB.body],
      'one attempt each, in LSN order',
    );
    const kept = await store.list({ trigger: 'orders_broken' });
    assert.deepEqual(
      kept.map((item) => [item.id, item.attempts, item.lastStatus, item.deadLetteredAt.getTime()]),
      [brokenA, brokenB].map((item) => [item.id, 5, 500, item.deadLetteredAt.getTime()]),
    );
  });

  test('a letter whose trigger is no longer configured is reported and kept', async () => {
    const before = receiver.deliveries.length;
    const result = await runCli(['dlq', 'redeliver', '--config', configPath, '--id', orphan.id]);
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(result.stdout.trimEnd().split('\n'), [
      `${orphan.id}  orders_removed  kept: trigger no longer configured`,
      '0 of 1 redelivered, 1 kept',
    ]);
    assert.equal(receiver.deliveries.length, before);
    assert.deepEqual(await store.list({ id: orphan.id }), [orphan]);
  });

  test('purge --older-than 7d removes only the old letters', async () => {
    const result = await runCli(['dlq', 'purge', '--config', configPath, '--older-than', '7d']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'purged 1 dead letter\n');
    assert.deepEqual(
      (await store.list()).map((item) => item.id),
      [orphan, brokenA, brokenB].map((item) => item.id),
    );
  });
}

describe('dlq with the Postgres store', () => {
  let db: Database;
  before(async () => {
    db = await startDatabase('dlq_cli');
  });
  after(() => db.close());
  scenario(
    () => db.url,
    () => '',
  );
});

describe('dlq with the file store', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'walhook-dlq-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));
  scenario(
    // Never connected to: a file store serves read-only sources.
    () => 'postgres://reader:secret@127.0.0.1:1/app',
    () => `dead_letter:\n  file: ${join(dir, 'dead-letters.jsonl')}\n`,
  );
});

describe('dlq with several pipelines', () => {
  let receiver: Receiver;
  let dir: string;
  let configPath: string;
  const own = letter('aaaaaaaa-aaaa-5aaa-8aaa-aaaaaaaaaaaa', 'a_orders', '0/500');
  const shared = letter('bbbbbbbb-bbbb-5bbb-8bbb-bbbbbbbbbbbb', 'b_orders', '0/100');
  const neighbour = letter('cccccccc-cccc-5ccc-8ccc-cccccccccccc', 'c_orders', '0/300');
  const orphan = letter('dddddddd-dddd-5ddd-8ddd-dddddddddddd', 'removed', '0/200');
  const ids = (stdout: string) =>
    stdout
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((line) => line.split(/ +/)[0]);

  before(async () => {
    receiver = await startReceiver();
    dir = await mkdtemp(join(tmpdir(), 'walhook-dlq-pipelines-'));
    // a has a store of its own; b and c share one, which also holds a letter of a removed trigger.
    const pipeline = (name: string, file: string) => `  - name: ${name}
    source: { connection: "postgres://nobody@127.0.0.1:1/none", slot: dlq_${name} }
    dead_letter: { file: ${join(dir, file)} }
    triggers:
      - name: ${name}_orders
        table: public.orders
        operations: [insert]
        webhook: ${receiver.url}/${name}
`;
    const yaml = `pipelines:\n${pipeline('a', 'a.jsonl')}${pipeline('b', 'shared.jsonl')}${pipeline('c', 'shared.jsonl')}`;
    configPath = await writeConfig(yaml);
    for (const [file, letters] of [
      ['a.jsonl', [own]],
      ['shared.jsonl', [shared, neighbour, orphan]],
    ] as const) {
      const store = openDeadLetterStore({
        ...parseConfigs(yaml, 'test', {})[0],
        dead_letter: { file: join(dir, file) },
      } as Config);
      await store.init();
      for (const item of letters) await store.add(item);
      await store.close();
    }
  });
  after(async () => {
    await receiver.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("list shows every store once, in LSN order; --pipeline only that pipeline's letters", async () => {
    const all = await runCli(['dlq', 'list', '--config', configPath]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(
      ids(all.stdout),
      [shared, orphan, neighbour, own].map((l) => l.id),
    );
    const b = await runCli(['dlq', 'list', '--config', configPath, '--pipeline', 'b']);
    assert.deepEqual(ids(b.stdout), [shared.id], "only b's own letters of the shared store");
    const a = await runCli(['dlq', 'list', '--config', configPath, '--pipeline', 'a']);
    assert.deepEqual(ids(a.stdout), [own.id]);
    const unknown = await runCli(['dlq', 'list', '--config', configPath, '--pipeline', 'z']);
    assert.equal(unknown.code, 2);
    assert.equal(
      unknown.stderr,
      'walhook: dlq: --pipeline "z" is not in the config (pipelines: a, b, c); run walhook --help\n',
    );
  });

  test('purge and redeliver keep to the chosen pipeline', async () => {
    const purged = await runCli([
      'dlq',
      'purge',
      '--config',
      configPath,
      '--pipeline',
      'c',
      '--older-than',
      '1m',
    ]);
    assert.equal(purged.code, 0, purged.stderr);
    assert.equal(purged.stdout, 'purged 1 dead letter\n');
    const redelivered = await runCli([
      'dlq',
      'redeliver',
      '--config',
      configPath,
      '--pipeline',
      'a',
      '--all',
    ]);
    assert.equal(redelivered.code, 0, redelivered.stderr);
    assert.deepEqual(
      receiver.deliveries.map((d) => [d.path, d.body.id]),
      [['/a', own.id]],
    );
    const left = await runCli(['dlq', 'list', '--config', configPath]);
    assert.deepEqual(
      ids(left.stdout),
      [shared, orphan].map((l) => l.id),
    );
  });
});

test('usage errors exit 2 with one line on stderr', async () => {
  const path = await writeConfig(`source:
  connection: postgres://u:p@127.0.0.1:1/db
triggers:
  - name: a
    table: orders
    operations: [insert]
    webhook: http://127.0.0.1:1/a
`);
  const cases: [string[], string][] = [
    [['dlq'], 'walhook: dlq: missing subcommand (list, redeliver or purge); run walhook --help'],
    [
      ['dlq', 'resend', '--config', path],
      'walhook: dlq: unknown subcommand "resend" (expected list, redeliver or purge); run walhook --help',
    ],
    [
      ['dlq', 'redeliver', '--config', path],
      'walhook: dlq redeliver: pass exactly one of --id, --trigger, --all; run walhook --help',
    ],
    [
      ['dlq', 'redeliver', '--config', path, '--id', 'x', '--all'],
      'walhook: dlq redeliver: pass exactly one of --id, --trigger, --all; run walhook --help',
    ],
    [
      ['dlq', 'purge', '--config', path, '--older-than', '7 days'],
      'walhook: dlq purge: --older-than "7 days" is not a duration such as 7d, 12h or 30m; run walhook --help',
    ],
    [
      ['dlq', 'purge', '--config', path, '--trigger', 'a', '--older-than', '7d'],
      'walhook: dlq purge: pass exactly one of --id, --trigger, --older-than; run walhook --help',
    ],
    [
      ['dlq', 'list'],
      'walhook: no config file: pass --config FILE or set WALHOOK_CONFIG; run walhook --help',
    ],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args, { WALHOOK_CONFIG: '' })));
  results.forEach((result, index) => {
    assert.equal(result.code, 2, `${cases[index]?.[0].join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, `${cases[index]?.[1]}\n`);
  });
  const unknownOption = await runCli(['dlq', 'list', '--config', path, '--verbose']);
  assert.equal(unknownOption.code, 2);
  assert.match(unknownOption.stderr, /^walhook: dlq: Unknown option '--verbose'.*; run walhook --help\n$/);
});
