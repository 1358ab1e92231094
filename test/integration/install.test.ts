import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, lstat, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { ROOT } from '../helpers/walhook.js';

const exec = promisify(execFile);

/**
 * The README's way to get a `walhook` command, run as written: `npm pack` in a clone, then a global
 * install of that file. Nothing is resolved by the name walhook from the registry (it is not ours
 * there), nothing global is touched (`--prefix` puts the install in a temporary folder), and the
 * command must work from another folder after the clone is gone, so it runs the packed code and the
 * dependencies installed with it.
 */

let dir: string;
let db: Database;
let receiver: Receiver;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'walhook-install-'));
  db = await startDatabase('install');
  await db.query('CREATE TABLE orders (id int PRIMARY KEY)');
  receiver = await startReceiver();
});

after(async () => {
  await receiver?.close();
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The shell lines of the README's block that installs walhook: `npm …` and `walhook …`, comments cut. */
async function readmeCommands(): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
    .map((m) => m[1] as string)
    .find((text) => /^npm pack\b/m.test(text));
  assert.ok(block, 'the README has a sh block with npm pack');
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => /^(npm|walhook) /.test(line));
}

/** A clone as a user has it after `npm install`: the sources, the installed node_modules, no dist/. */
async function cloneOf(to: string): Promise<void> {
  const skipped = new Set(['.git', 'node_modules', 'dist', 'test-output', '.tmp']);
  await cp(ROOT, to, {
    recursive: true,
    filter: (source) => {
      const path = relative(ROOT, source);
      return !skipped.has(path.split('/')[0] as string) && !path.endsWith('.tgz');
    },
  });
  await symlink(join(ROOT, 'node_modules'), join(to, 'node_modules'));
}

test('the README installs walhook from a packed file into a prefix, and it runs from anywhere', async () => {
  const commands = await readmeCommands();
  const npm = commands.filter((c) => c.startsWith('npm '));
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const tarball = `walhook-${version}.tgz`;
  assert.deepEqual(npm, ['npm install', 'npm pack', `npm install -g --ignore-scripts ./${tarball}`]);
  assert.ok(!commands.some((c) => /\bnpx walhook\b/.test(c)), 'no npx walhook');

  const clone = join(dir, 'clone');
  const prefix = join(dir, 'prefix');
  await cloneOf(clone);
  // `npm install` is the clone's installed node_modules; run here it would write into the shared one.
  const run = (command: string, extra: string[] = []) => {
    const [, ...args] = command.split(' ');
    return exec('npm', [...args, ...extra], { cwd: clone, maxBuffer: 64 * 1024 * 1024 });
  };
  // `prepare` builds dist/ before packing: the clone has none.
  await run(npm[1] as string);
  // Into a temporary prefix, from the npm cache when it can: the registry is asked only for the
  // dependencies' metadata missing there, never for a package named walhook.
  await run(npm[2] as string, ['--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund']);
  await rm(clone, { recursive: true, force: true });

  const installed = join(prefix, 'lib/node_modules/walhook');
  assert.ok(!(await lstat(installed)).isSymbolicLink(), 'a copy, not a link to the clone');
  const command = join(prefix, 'bin/walhook');
  assert.equal(dirname(dirname(await realpath(command))), installed);
  // Exactly the package's files list, package.json and the dependencies.
  const { stdout: listing } = await exec('ls', [installed]);
  assert.deepEqual(listing.trim().split('\n').sort(), [
    'README.md',
    'bin',
    'dist',
    'node_modules',
    'package.json',
  ]);

  // `--ignore-scripts` is safe only while no runtime dependency needs an install step.
  const { stdout: manifests } = await exec('find', [
    join(installed, 'node_modules'),
    '-name',
    'package.json',
  ]);
  const scripted: string[] = [];
  for (const manifest of manifests.trim().split('\n')) {
    const { name, scripts = {} } = JSON.parse(await readFile(manifest, 'utf8')) as {
      name?: string;
      scripts?: Record<string, string>;
    };
    const hooks = ['preinstall', 'install', 'postinstall'].filter((hook) => hook in scripts);
    if (name && hooks.length > 0) scripted.push(`${name}: ${hooks.join(', ')}`);
  }
  assert.deepEqual(scripted, [], 'runtime dependencies with install scripts');

  const { stdout: printed } = await exec(command, ['--version']);
  assert.equal(printed, `${version}\n`);

  // From another folder, with the README's own lines, as the command on PATH.
  const work = join(dir, 'work');
  await mkdir(work);
  await writeFile(
    join(work, 'walhook.yaml'),
    `source: { connection: "\${DATABASE_URL}", slot: install_test }
triggers:
  - name: orders
    table: orders
    operations: [insert]
    webhook: \${RECEIVER}/orders
`,
  );
  const validate = commands.find((c) => c.startsWith('walhook validate'));
  assert.equal(validate, 'walhook validate --config walhook.yaml');
  const [name, ...args] = validate.split(' ');
  const env = {
    PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`,
    DATABASE_URL: db.url,
    RECEIVER: receiver.url,
  };
  // Rejects on a non-zero exit: validate exits 0 only when walhook could run with this file.
  const result = await exec(name as string, args, { cwd: work, env });
  assert.match(result.stdout, /^ok +role postgres may replicate$/m, result.stdout);
  assert.match(result.stdout, /^ok +triggers\[0\] \(orders\): table \S*orders\S* exists$/m, result.stdout);
  assert.doesNotMatch(result.stdout, /^error /m);
});
