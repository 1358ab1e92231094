import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { ROOT, runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

// Every command that prints stops quietly when its reader goes away (`walhook dlq list | head -1`),
// and `dlq list` pages its table and filters by age.
const SLOT = 'cli_output';
const TOKEN = 'cli-output-admin-token-0123456789';
const LETTERS = 2500;
const RECENT = 500;

let db: Database;
let receiver: Receiver;
let walhook: WalhookProcess;
let serviceConfig: string;
let letterConfig: string;

before(async () => {
  db = await startDatabase('cli_output');
  receiver = await startReceiver(() => 200);
  await db.query('CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)');
  await db.query(`INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 50) i`);
  const yaml = `
source:
  connection: ${db.url}
  slot: ${SLOT}
  publication: ${SLOT}
  heartbeat_sec: 0
server:
  port: \${PORT}
  admin_token: ${TOKEN}
triggers:
  - name: items_hook
    table: items
    operations: [insert]
    enable_manual: true
    webhook: ${receiver.url}/items
`;
  walhook = await WalhookProcess.start(yaml, { LOG_LEVEL: 'info' });
  serviceConfig = await writeConfig(yaml.replace(`\${PORT}`, String(walhook.port)));

  // Enough dead letters that the table and the JSON lines outgrow a pipe's buffer (64 KiB): the
  // command is still writing when the reader leaves.
  const dir = await mkdtemp(join(tmpdir(), 'walhook-letters-'));
  const file = join(dir, 'letters.jsonl');
  const now = Date.now();
  const lines: string[] = [];
  for (let i = 0; i < LETTERS; i++) {
    // The oldest first, as the store lists them: 2000 from two days ago, then 500 from the last hour.
    const recent = i - (LETTERS - RECENT);
    const at = new Date(recent < 0 ? now - 2 * 86_400_000 + i * 1000 : now - 3_600_000 + recent * 1000);
    lines.push(
      JSON.stringify({
        id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        trigger: 'items_hook',
        table: 'public.items',
        op: 'INSERT',
        lsn: `0/${(0x1000000 + i * 0x100).toString(16).toUpperCase()}`,
        body: '{}',
        attempts: 4,
        lastStatus: 503,
        lastError: 'HTTP 503',
        responseSnippet: null,
        firstAttemptAt: at.toISOString(),
        lastAttemptAt: at.toISOString(),
        deadLetteredAt: at.toISOString(),
      }),
    );
  }
  await writeFile(file, `${lines.join('\n')}\n`);
  letterConfig = await writeConfig(`${yaml.replace(`\${PORT}`, '9')}dead_letter: { file: ${file} }\n`);
});

after(async () => {
  await walhook?.stop();
  await receiver?.close();
  await db?.server.stop();
});

function quote(arg: string): string {
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

/**
 * `walhook ARGS | READER` in bash: READER is a real process that reads what it wants and exits
 * (`head -1`), or exits at once (`true`) so the pipe is closed before walhook writes. Resolves with
 * what the reader printed and what walhook wrote on stderr, followed by its exit status.
 */
async function piped(args: string[], reader: string) {
  const walhook = [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args]
    .map(quote)
    .join(' ');
  const child = spawn('bash', ['-c', `${walhook} | ${reader}; echo "walhook exited \${PIPESTATUS[0]}" >&2`], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  await once(child, 'exit');
  clearTimeout(timer);
  return { stdout, stderr };
}

const QUIET = 'walhook exited 0\n';

test('dlq list, as a table and as JSON lines, stops quietly when head has read its line', async () => {
  const table = await piped(['dlq', 'list', '--config', letterConfig, '--limit', '5000'], 'head -1');
  assert.equal(table.stderr, QUIET);
  assert.match(table.stdout, /^ID +TRIGGER +TABLE +OP +LSN/);
  assert.equal(table.stdout.split('\n').length, 2);
  const json = await piped(['dlq', 'list', '--config', letterConfig, '--json'], 'head -1');
  assert.equal(json.stderr, QUIET);
  assert.equal(JSON.parse(json.stdout).id, '00000000-0000-4000-8000-000000000000');
});

test('every other printing command stops quietly when its reader is gone before it writes', async () => {
  const url = `http://127.0.0.1:${walhook.port}`;
  const commands: [string, string[], string][] = [
    ['--help', ['--help'], 'true'],
    ['--version', ['--version'], 'true'],
    ['status', ['status', '--url', url], 'true'],
    ['status --json', ['status', '--url', url, '--json'], 'true'],
    ['status --watch', ['status', '--url', url, '--watch'], 'head -c 1'],
    ['validate', ['validate', '--config', serviceConfig], 'true'],
    [
      'invoke',
      ['invoke', '--config', serviceConfig, '--trigger', 'items_hook', '--key', '{"id": 7}'],
      'true',
    ],
    ['backfill', ['backfill', '--config', serviceConfig, '--trigger', 'items_hook'], 'true'],
    ['dlq list', ['dlq', 'list', '--config', letterConfig], 'true'],
  ];
  for (const [name, args, reader] of commands) {
    const result = await piped(args, reader);
    assert.equal(result.stderr, QUIET, name);
  }
});

test('dlq list shows 100 letters in a table and says how many more; --limit and --since choose', async () => {
  const list = async (...args: string[]) => {
    const result = await runCli(['dlq', 'list', '--config', letterConfig, ...args]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.trimEnd().split('\n');
  };
  const table = await list();
  assert.equal(table.length, 1 + 100 + 1);
  assert.match(table[1] as string, /^00000000-0000-4000-8000-000000000000 /);
  assert.match(
    table.at(-1) as string,
    /^… and 2400 more \(2500 in all\); show them with --limit 2500, narrow with --since or --trigger, or use --json$/,
  );
  const recent = await list('--since', '12h');
  assert.equal(recent.length, 1 + 100 + 1);
  assert.match(recent[1] as string, /^00000000-0000-4000-8000-000000002000 /);
  assert.match(recent.at(-1) as string, /^… and 400 more \(500 in all\)/);
  assert.equal((await list('--since', '12h', '--limit', '1000')).length, 1 + RECENT);
  assert.equal((await list('--since', '3d', '--limit', '3')).length, 1 + 3 + 1);
  assert.deepEqual(await list('--since', '30m'), ['no dead letters']);
  assert.equal((await list('--json')).length, LETTERS);
  const json = await list('--json', '--since', '12h', '--limit', '3');
  assert.deepEqual(
    json.map((line) => JSON.parse(line).id),
    [2000, 2001, 2002].map((i) => `00000000-0000-4000-8000-00000000${i}`),
  );

  // The table store filters in SQL: one letter from two days ago, one from a minute ago.
  await db.query(
    `INSERT INTO walhook.dead_letters (id, trigger, table_name, op, lsn, body, attempts, last_status, last_error,
       response_snippet, first_attempt_at, last_attempt_at, dead_lettered_at)
     SELECT id, 'items_hook', 'public.items', 'INSERT', lsn::pg_lsn, '{}', 4, 503, 'HTTP 503', NULL, at, at, at
       FROM (VALUES ('old-letter', '0/100', now() - interval '2 days'), ('new-letter', '0/200', now() - interval '1 minute'))
         AS l (id, lsn, at)`,
  );
  const tableStore = await runCli(['dlq', 'list', '--config', serviceConfig, '--since', '1h']);
  assert.equal(tableStore.code, 0, tableStore.stderr);
  assert.deepEqual(
    tableStore.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(' ')[0]),
    ['new-letter'],
  );

  for (const [args, message] of [
    [
      ['--limit', '0'],
      'walhook: dlq list: --limit "0" is not a whole number of 1 or more; run walhook --help\n',
    ],
    [
      ['--limit', '5x'],
      'walhook: dlq list: --limit "5x" is not a whole number of 1 or more; run walhook --help\n',
    ],
    [
      ['--since', '7w'],
      'walhook: dlq list: --since "7w" is not a duration such as 7d, 12h or 30m; run walhook --help\n',
    ],
  ] as const) {
    const result = await runCli(['dlq', 'list', '--config', letterConfig, ...args]);
    assert.deepEqual([result.code, result.stderr], [2, message]);
  }
});
