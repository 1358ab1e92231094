import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitUntil } from '../helpers/receiver.js';
import { ROOT, runCli } from '../helpers/walhook.js';

const asRoot = process.getuid?.() === 0;

/** `walhook demo --follow` in its own process group, as a terminal runs it, until it follows. */
async function startFollowing() {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'demo', '--follow'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk) => {
    output.stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output.stderr += chunk;
  });
  try {
    await waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`demo exited ${child.exitCode}: ${output.stderr}`);
        return output.stdout.includes('Ctrl-C stops');
      },
      'the demo to follow',
      180_000,
    );
  } catch (error) {
    process.kill(-(child.pid as number), 'SIGKILL');
    throw error;
  }
  const dir = /working in (\S+);/.exec(output.stdout)?.[1] as string;
  return { child, output, dir };
}

/** The processes whose command line names `dir`: a Postgres left running on the demo's data. */
async function processesUsing(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir)) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}

async function exitOf(child: ChildProcess): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const [code] =
    child.exitCode !== null ? [child.exitCode] : ((await once(child, 'exit')) as [number | null]);
  return { code, ms: Date.now() - started };
}

test('walhook demo exits 0 and shows deliveries, including a change made while walhook was stopped', async () => {
  const result = await runCli(['demo'], {}, 180_000);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /← orders_all +INSERT/);
  assert.match(result.stdout, /← orders_paid +UPDATE/);
  assert.match(result.stdout, /← orders_all +DELETE/);
  assert.match(result.stdout, /restarting walhook[\s\S]*← orders_all +INSERT .*margaret/);
  assert.match(result.stdout, /✓ \d+ deliveries/);
  // Sentences only: no JSON log line, and its tables need no REPLICA IDENTITY advice.
  assert.doesNotMatch(result.stdout, /^\{/m);
  assert.doesNotMatch(result.stdout + result.stderr, /REPLICA IDENTITY/i);
  assert.equal(result.stderr, '');
});

for (const [signals, expected] of [
  [['SIGINT'], 0],
  [['SIGTERM'], 0],
  [['SIGINT', 'SIGINT'], 130],
] as const) {
  test(`demo --follow stopped by ${signals.join(' then ')} to its process group removes everything`, async () => {
    const { child, output, dir } = await startFollowing();
    assert.ok(existsSync(dir), output.stdout);
    if (signals.length === 1) {
      // What it points to answers while it runs.
      for (const path of ['/console', '/metrics']) {
        const url = new RegExp(`http://127\\.0\\.0\\.1:\\d+${path}\\b`).exec(output.stdout)?.[0];
        assert.ok(url, `no ${path} URL in:\n${output.stdout}`);
        assert.equal((await fetch(url)).status, 200, url);
      }
      assert.match(output.stdout, /psql 'postgres:\/\/\S+\/walhook_demo' -c "UPDATE orders/);
    }
    const exited = exitOf(child);
    process.kill(-(child.pid as number), signals[0]);
    if (signals[1]) {
      // Signals sent together arrive as one; the second comes while the demo is shutting down.
      await waitUntil(() => output.stdout.includes('stopping walhook and Postgres'), 'the shutdown', 5_000);
      process.kill(-(child.pid as number), signals[1]);
    }
    const { code, ms } = await exited;
    assert.equal(code, expected, output.stdout + output.stderr);
    assert.ok(ms < 5_000, `took ${ms} ms to stop`);
    assert.doesNotMatch(output.stderr, /\n\s+at |Error/, output.stderr);
    assert.equal(existsSync(dir), false, `${dir} is left`);
    assert.deepEqual(await processesUsing(dir), []);
  });
}

test('demo from a checkout inside a folder only root may enter', {
  skip: !asRoot && 'needs root',
}, async () => {
  // As `git clone` into /root or under `mktemp -d` makes it: the checkout's node_modules, where the
  // Postgres binaries are, lie below a mode-700 folder the `postgres` OS user cannot traverse.
  const home = await mkdtemp(join(tmpdir(), 'walhook-home-'));
  try {
    const checkout = join(home, 'walhook');
    await symlink(ROOT, checkout);
    const child = spawn(
      process.execPath,
      [
        '--preserve-symlinks',
        '--preserve-symlinks-main',
        '--import',
        'tsx',
        join(checkout, 'src/cli.ts'),
        'demo',
      ],
      { cwd: checkout, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      out += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    const { code } = await exitOf(child);
    clearTimeout(timer);
    assert.equal(code, 0, out);
    assert.match(out, /restarting walhook[\s\S]*← orders_all +INSERT .*margaret/);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('demo with TMPDIR where Postgres may not go: one line, exit 2, nothing left', {
  skip: !asRoot && 'needs root',
}, async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'walhook-tmp-'));
  try {
    const result = await runCli(['demo'], { TMPDIR: tmp }, 120_000);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(
      result.stderr,
      // Found before initdb (the folder check) or by initdb itself, depending on where the checkout is.
      /^walhook demo: Postgres did not start[^\n]*\(?Permission denied\)?; set TMPDIR to a folder the postgres OS user may enter, such as \/tmp\n$/,
    );
    // tsx keeps its cache there too.
    assert.deepEqual(
      (await readdir(tmp)).filter((name) => name.startsWith('walhook-')),
      [],
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
