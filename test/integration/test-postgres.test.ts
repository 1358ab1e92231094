import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEmbeddedPostgres } from '../helpers/embedded-postgres.js';
import { ROOT } from '../helpers/walhook.js';

// The tests' own Postgres: a server that cannot start must fail its test with the reason, not hang it.

test('a port already taken fails the start within a minute, in one line that says so', async () => {
  const first = await startEmbeddedPostgres();
  try {
    const started = Date.now();
    const error = await startEmbeddedPostgres({ port: first.port }).then(
      () => assert.fail('a second server started on the same port'),
      (err: Error) => err,
    );
    assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
    assert.match(
      error.message,
      new RegExp(`^Postgres did not start on port ${first.port}: .*; port ${first.port} is taken`),
    );
    assert.doesNotMatch(error.message, /\n/);
  } finally {
    await first.stop();
  }
});

test('a server starts from a checkout inside a folder only root may enter', {
  skip: process.getuid?.() !== 0 && 'needs root',
}, async () => {
  // The binaries lie below a mode-700 folder (as under /root or `mktemp -d`), which the `postgres`
  // OS user that runs them cannot traverse.
  const home = await mkdtemp(join(tmpdir(), 'walhook-home-'));
  try {
    await symlink(ROOT, join(home, 'walhook'));
    const helper = join(home, 'walhook/test/helpers/embedded-postgres.ts');
    const script = `const { startEmbeddedPostgres } = await import(${JSON.stringify(helper)});
      const server = await startEmbeddedPostgres();
      console.log('version', server.version);
      await server.stop();`;
    const child = spawn(
      process.execPath,
      [
        '--preserve-symlinks',
        '--preserve-symlinks-main',
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        script,
      ],
      { cwd: join(home, 'walhook'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      out += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const [code] = await once(child, 'exit');
    clearTimeout(timer);
    assert.equal(code, 0, out);
    assert.match(out, /version \d{6}/);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('a database that cannot be created fails startDatabase and leaves no server keeping the process alive', async () => {
  const helper = join(ROOT, 'test/helpers/database.ts');
  // `postgres` exists already, so CREATE DATABASE fails after the server started.
  const script = `const { startDatabase } = await import(${JSON.stringify(helper)});
    await startDatabase('postgres').catch((error) => console.log('failed:', error.message));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  child.stderr.on('data', (chunk) => {
    out += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, signal] = await once(child, 'exit');
  clearTimeout(timer);
  assert.equal(signal, null, `still running after 60 s: ${out}`);
  assert.equal(code, 0, out);
  assert.match(out, /failed: database "postgres" already exists/);
});
