import { hash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';

/** How often a standby asks for the lock, and the active process checks that its lock session lives. */
export const LOCK_POLL_MS = 1000;
/** A lock session that does not answer within this is taken as lost. */
const CHECK_TIMEOUT_MS = 5000;
/**
 * Server-side keepalives of the lock session: when the active walhook vanishes without closing its
 * connection (host down, network cut), Postgres drops the session and frees the lock within about 8 s,
 * instead of after the operating system's two hours.
 */
const KEEPALIVES = [
  'SET tcp_keepalives_idle = 5',
  'SET tcp_keepalives_interval = 1',
  'SET tcp_keepalives_count = 3',
];

/** The advisory-lock key of a slot: advisory locks and logical slots both belong to one database. */
export function slotLockKey(slot: string): string {
  return Buffer.from(hash('sha256', `walhook slot ${slot}`, 'buffer'))
    .readBigInt64BE(0)
    .toString();
}

export interface SlotLockOptions {
  connection: string;
  slot: string;
  logger: Logger;
}

/**
 * Makes sure one walhook process reads a slot: the reader holds a session advisory lock named after the
 * slot, the others wait as standbys and ask again every second. Postgres frees the lock the moment the
 * holder's session ends (the process died, or its connection was cut), so a standby takes over within
 * about a second of the server noticing. The new holder then ends the slot's old walsender, if one
 * lingers, so that two processes never stream the slot in turn.
 */
export class SlotLock {
  readonly #options: SlotLockOptions;
  readonly #logger: Logger;
  #client: pg.Client | null = null;
  #loggedIn = false;

  constructor(options: SlotLockOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ stage: 'lock', slot: options.slot });
  }

  /**
   * One attempt: `{ lost }` when this process now holds the lock (`lost` resolves when it is lost), null
   * when another process holds it. Throws when Postgres cannot be asked; the next attempt reconnects.
   */
  async tryAcquire(): Promise<{ lost: Promise<void> } | null> {
    try {
      const client = this.#client ?? (await this.#connect());
      const result = await client.query<{ held: boolean }>(
        'SELECT pg_try_advisory_lock($1::bigint) AS held',
        [slotLockKey(this.#options.slot)],
      );
      if (!result.rows[0]?.held) return null;
      await this.#fenceOldReader(client);
      // Wrapped: an async function returning the promise itself would wait for it.
      return { lost: this.#watch(client) };
    } catch (err) {
      this.#drop();
      throw err;
    }
  }

  /**
   * The lock session logged in once with these credentials: a refused login after that is a change on
   * the server (a new password, a dropped role) to wait out, not a wrong connection string to stop for.
   */
  get loggedIn(): boolean {
    return this.#loggedIn;
  }

  /** Ends the lock session, which frees the lock. */
  async close(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#options.connection,
      application_name: 'walhook-lock',
      keepAlive: true,
      query_timeout: CHECK_TIMEOUT_MS,
    });
    // Without a listener a dropped connection would crash the process; losing it is handled by #watch.
    client.on('error', () => {});
    this.#client = client;
    await client.connect();
    this.#loggedIn = true;
    for (const statement of KEEPALIVES) await client.query(statement);
    return client;
  }

  /** A walsender left from the previous holder would keep the slot busy until wal_sender_timeout. */
  async #fenceOldReader(client: pg.Client): Promise<void> {
    try {
      const result = await client.query<{ pid: number }>(
        `SELECT active_pid AS pid, pg_terminate_backend(active_pid) FROM pg_replication_slots
          WHERE slot_name = $1 AND active_pid IS NOT NULL`,
        [this.#options.slot],
      );
      for (const { pid } of result.rows) {
        this.#logger.warn({ pid }, "ended the previous reader's walsender of the slot");
      }
    } catch (err) {
      this.#logger.warn({ err }, "cannot end the previous reader's walsender; waiting for it to time out");
    }
  }

  /** Resolves when the lock session ends or stops answering. */
  #watch(client: pg.Client): Promise<void> {
    return new Promise((resolve) => {
      const lost = (): void => {
        clearInterval(timer);
        if (this.#client === client) this.#drop();
        resolve();
      };
      client.once('end', lost);
      client.once('error', lost);
      const timer = setInterval(() => {
        client.query('SELECT 1').catch(lost);
      }, LOCK_POLL_MS);
    });
  }

  #drop(): void {
    const client = this.#client;
    this.#client = null;
    client?.end().catch(() => {});
  }
}
