import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { loadConfigs } from '../../src/config/load.js';
import type { WalhookError } from '../../src/core/errors.js';
import { parseConfig } from '../helpers/config.js';

let dir = '';

function config(server: string, headers = 'X-Plain: "1"'): string {
  return `source:
  connection: postgres://walhook@localhost/app
server:
${server}
triggers:
  - name: orders
    table: orders
    operations: [insert]
    webhook: http://localhost/hook
    headers:
      ${headers}
`;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'walhook-secret-files-'));
  await mkdir(join(dir, 'secrets'));
  await writeFile(join(dir, 'secrets', 'admin'), 'admin-token-0123456789\n');
  await writeFile(join(dir, 'secrets', 'numeric'), '12345678901234567890\n');
  await writeFile(join(dir, 'secrets', 'crlf'), 'crlf-token-0123456789\r\n');
  await writeFile(join(dir, 'secrets', 'two-newlines'), 'token-with-two-newlines\n\n');
  await writeFile(join(dir, 'secrets', 'reference'), `\${HOME}-not-expanded-again`);
  await writeFile(join(dir, 'secrets', 'short'), 'sh0rt-s3cret\n');
});

test(`\${file:PATH} is the file without one trailing newline, always a string`, () => {
  const parsed = parseConfig(
    config(
      `  admin_token: \${file:${dir}/secrets/numeric}`,
      `Authorization: Bearer \${file:${dir}/secrets/crlf}\n      X-Ref: \${file:${dir}/secrets/reference}`,
    ),
    'test.yaml',
    {},
  );
  assert.equal(parsed.server.admin_token, '12345678901234567890', 'a numeric secret stays a string');
  const sink = parsed.triggers[0]?.sink;
  assert.ok(sink?.type === 'webhook');
  assert.equal(sink.headers?.Authorization, 'Bearer crlf-token-0123456789');
  assert.equal(
    sink.headers?.['X-Ref'],
    `\${HOME}-not-expanded-again`,
    'file content is not interpolated again',
  );
});

test('a relative path starts at the config file folder, not the working directory', async () => {
  const path = join(dir, 'walhook.yaml');
  await writeFile(path, config(`  admin_token: \${file:secrets/admin}`));
  const [loaded] = await loadConfigs(path, {});
  assert.equal(loaded?.server.admin_token, 'admin-token-0123456789');
  assert.throws(
    () => parseConfig(config(`  admin_token: \${file:secrets/admin}`), 'text', {}),
    (err: WalhookError) => err.code === 'WALHOOK_ERR_CONFIG_SECRET_FILE',
    'parseConfig without a folder starts at the working directory',
  );
});

test('$${file:PATH} is the literal text', () => {
  const parsed = parseConfig(config('  port: 1', 'X-Template: "$${file:/etc/passwd}"'), 'test.yaml', {});
  const sink = parsed.triggers[0]?.sink;
  assert.equal(sink?.type === 'webhook' && sink.headers?.['X-Template'], `\${file:/etc/passwd}`);
});

test('an unreadable secret file is a one-line error naming the key and the file', () => {
  const cases: [string, string][] = [
    [`${dir}/secrets/missing`, 'no such file'],
    [`${dir}/secrets`, 'not a regular file'],
    ['/dev/zero', 'not a regular file'],
  ];
  for (const [file, reason] of cases) {
    assert.throws(
      () => parseConfig(config(`  admin_token: \${file:${file}}`), 'test.yaml', {}),
      (err: WalhookError) => {
        assert.equal(err.code, 'WALHOOK_ERR_CONFIG_SECRET_FILE');
        assert.equal(err.exitCode, 2);
        assert.equal(
          err.message,
          `test.yaml: server.admin_token: cannot read secret file ${file}: ${reason} (mount or create it, or fix the path; a relative path starts at the config file's folder)`,
        );
        return true;
      },
    );
  }
});

test('an invalid value read from a file is reported without quoting it', () => {
  assert.throws(
    () => parseConfig(config(`  admin_token: \${file:${dir}/secrets/short}`), 'test.yaml', {}),
    (err: WalhookError) => {
      assert.equal(err.message, 'test.yaml: server.admin_token: needs at least 16 characters');
      return true;
    },
  );
  assert.throws(
    () => parseConfig(config('  port: 1', `X-Key: \${file:${dir}/secrets/two-newlines}`), 'test.yaml', {}),
    (err: WalhookError) => {
      assert.equal(
        err.message,
        'test.yaml: triggers[0].headers.X-Key: header values cannot contain line breaks',
      );
      return true;
    },
  );
});
