import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli, writeConfig } from '../helpers/walhook.js';

const VALID = `source:
  connection: \${DATABASE_URL}
triggers:
  - name: a
    table: orders
    operations: [insert]
    webhook: http://127.0.0.1:3000/a
`;

async function expectConfigError(yaml: string, message: string | RegExp, env: NodeJS.ProcessEnv = {}) {
  const path = await writeConfig(yaml);
  const result = await runCli(['run', '--config', path], {
    DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db',
    ...env,
  });
  assert.equal(result.code, 2, `exit 2: ${result.stderr}`);
  assert.equal(result.stdout, '', 'nothing on stdout');
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  const expected = typeof message === 'string' ? `${path}: ${message}` : message;
  if (typeof expected === 'string') assert.equal(lines[0], expected);
  else assert.match(lines[0] as string, expected);
}

test('invalid YAML', () => expectConfigError('source: [unclosed\n', /: invalid YAML: /));

test('unknown key', () =>
  expectConfigError(
    VALID.replace('operations:', 'colums: [x]\n    operations:'),
    'triggers[0].colums: unknown key (expected one of name, table, operations, columns, where, payload_columns, enable_manual, skip_unchanged_updates, trigger_on_replication, payload_format, webhook, sink, headers, secret, tls, user_agent, retry, ordering, concurrency, batch, request_transform)',
  ));

test('wrong type and bad operation', async () => {
  await expectConfigError(
    VALID.replace('[insert]', '[insert, upsert]'),
    'triggers[0].operations[1]: expected one of insert, update, delete, truncate',
  );
  await expectConfigError(`${VALID}server:\n  port: high\n`, /server\.port: .*number/);
});

test('missing environment variable', async () => {
  const path = await writeConfig(VALID);
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const { spawnSync } = await import('node:child_process');
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'run', '--config', path], {
    env,
    encoding: 'utf8',
  });
  assert.equal(result.status, 2);
  assert.equal(
    result.stderr.trim(),
    `${path}: source.connection: environment variable DATABASE_URL is not set and has no default`,
  );
});

test('duplicate trigger name', () =>
  expectConfigError(
    `${VALID}  - name: a\n    table: orders\n    operations: [delete]\n    webhook: http://127.0.0.1:3000/b\n`,
    'triggers[1].name: duplicate trigger name "a" (also triggers[0].name)',
  ));

test('a config file that does not exist', () =>
  runCli(['run', '--config', '/nonexistent/walhook.yaml']).then((result) => {
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^\/nonexistent\/walhook\.yaml: cannot read file/);
  }));

test('usage errors exit 2 with one line', async () => {
  const unknown = await runCli(['launch']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr.trim(), 'walhook: unknown command "launch"; run walhook --help');
  const noConfig = await runCli(['run'], { WALHOOK_CONFIG: '' });
  assert.equal(noConfig.code, 2);
  assert.equal(
    noConfig.stderr.trim(),
    'walhook: no config file: pass --config FILE or set WALHOOK_CONFIG; run walhook --help',
  );
  const flag = await runCli(['run', '--cofig', 'x']);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr.trim(), /^walhook: .*--cofig.*; run walhook --help$/);
});

test('validate prints the config check and exits 2 on a bad file', async () => {
  const path = await writeConfig(VALID.replace('name: a', 'name: "a b"'));
  const result = await runCli(['validate', '--config', path], {
    DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db',
  });
  assert.equal(result.code, 2);
  assert.equal(result.stderr.trim(), `${path}: triggers[0].name: expected letters, digits, _ and - only`);
});

test('--version and --help', async () => {
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /walhook <command>/);
});
