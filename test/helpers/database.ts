import pg from 'pg';
import { type EmbeddedPostgresOptions, startEmbeddedPostgres } from '../../src/demo/embedded-postgres.js';
import { waitUntil } from './receiver.js';

/** A throw-away Postgres (wal_level=logical) with one database, for one test file. */
export async function startDatabase(name: string, options: EmbeddedPostgresOptions = {}) {
  const server = await startEmbeddedPostgres(options);
  await server.createDatabase(name);
  const url = server.url(name);
  let client = new pg.Client({ connectionString: url });
  await client.connect();
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
      client = new pg.Client({ connectionString: url });
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
    },
  };
}

export type Database = Awaited<ReturnType<typeof startDatabase>>;

/** LSN text to a comparable bigint. */
export function lsnValue(text: string): bigint {
  const [high, low] = text.split('/') as [string, string];
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}
