import { execFile } from 'node:child_process';
import { chmod, chown, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { type EmbeddedPostgresOptions, startEmbeddedPostgres } from './embedded-postgres.js';
import { waitUntil } from './receiver.js';

export interface DatabaseOptions extends EmbeddedPostgresOptions {
  /** TLS on with this server certificate; the roles in `tlsOnly` may connect over TLS only. */
  ssl?: { certFile: string; keyFile: string; tlsOnly?: readonly string[] };
}

/** A throw-away Postgres (wal_level=logical) with one database, for one test file. */
export async function startDatabase(name: string, options: DatabaseOptions = {}) {
  const { ssl, ...embedded } = options;
  const tls = ssl ? await tlsFiles(ssl) : null;
  const server = await startEmbeddedPostgres(
    tls ? { ...embedded, settings: { ...embedded.settings, ...tls.settings } } : embedded,
  );
  const url = server.url(name);
  let client = testClient(url);
  try {
    await server.createDatabase(name);
    await client.connect();
  } catch (error) {
    // A server nobody will stop keeps the test file's process alive until the runner's timeout.
    await server.stop();
    if (tls) await rm(tls.dir, { recursive: true, force: true });
    throw error;
  }
  return {
    server,
    url,
    get client() {
      return client;
    },
    query: <R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]) =>
      client.query<R>(sql, params),
    /** A fast restart of the server; the test's own connection is opened again. */
    async restart() {
      await client.end().catch(() => {});
      await server.restart();
      client = testClient(url);
      await client.connect();
    },
    /** The slot's confirmed_flush_lsn as text, or null before the slot exists. */
    async confirmedLsn(slot: string): Promise<string | null> {
      const result = await client.query<{ lsn: string | null }>(
        'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      return result.rows[0]?.lsn ?? null;
    },
    /**
     * Waits until the slot confirmed everything written so far: every change settled, and the
     * slot following the server's WAL end once idle.
     */
    async waitForConfirmed(slot: string, timeoutMs = 30_000): Promise<string> {
      const target = (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]
        ?.lsn;
      let confirmed: string | null = null;
      await waitUntil(
        async () => {
          confirmed = await this.confirmedLsn(slot);
          return confirmed !== null && lsnValue(confirmed) >= lsnValue(target as string);
        },
        `slot ${slot} to confirm ${target}`,
        timeoutMs,
      );
      return confirmed as unknown as string;
    },
    async close() {
      await client.end();
      await server.stop();
      if (tls) await rm(tls.dir, { recursive: true, force: true });
    },
  };
}

export type Database = Awaited<ReturnType<typeof startDatabase>>;

/**
 * The test's own connection. Test files stop the server under it (`db.server.stop()` in `after`), and
 * Postgres then ends it with an error that, unheard, would fail the file after its tests passed.
 */
function testClient(url: string): pg.Client {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  return client;
}

/** LSN text to a comparable bigint. */
export function lsnValue(text: string): bigint {
  const [high, low] = text.split('/') as [string, string];
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

const execFileAsync = promisify(execFile);

/**
 * The server's certificate, key and pg_hba.conf where Postgres can read them: it refuses a key that
 * others may read or that another user owns, and as root it runs as the `postgres` OS user.
 */
async function tlsFiles(ssl: NonNullable<DatabaseOptions['ssl']>) {
  const dir = await mkdtemp(join(tmpdir(), 'walhook-pg-tls-'));
  await chmod(dir, 0o755);
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  const hba = join(dir, 'pg_hba.conf');
  await copyFile(ssl.certFile, cert);
  await chmod(cert, 0o644);
  await copyFile(ssl.keyFile, key);
  await chmod(key, 0o600);
  if (process.getuid?.() === 0) {
    const { uid, gid } = await postgresOsUser();
    await chown(key, uid, gid);
  }
  // md5 answers with SCRAM for SCRAM-stored passwords, as initdb stores them.
  const lines = [
    ...(ssl.tlsOnly ?? []).flatMap((role) => [
      `hostnossl all ${role} all reject`,
      `hostnossl replication ${role} all reject`,
    ]),
    'local all all md5',
    'host all all all md5',
    'host replication all all md5',
  ];
  await writeFile(hba, `${lines.join('\n')}\n`, { mode: 0o644 });
  return { dir, settings: { ssl: 'on', ssl_cert_file: cert, ssl_key_file: key, hba_file: hba } };
}

/** The `postgres` OS user, created as embedded-postgres creates it when missing. */
async function postgresOsUser(): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) =>
    Number.parseInt((await execFileAsync('id', [flag, 'postgres'])).stdout, 10);
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch {
    await execFileAsync('groupadd', ['postgres']).catch(() => {});
    await execFileAsync('useradd', ['-g', 'postgres', 'postgres']);
    return { uid: await id('-u'), gid: await id('-g') };
  }
}
