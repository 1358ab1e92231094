import type { Logger } from 'pino';
import type { JetStreamConnection } from './client.js';

/**
 * One connection per distinct list of servers, shared by the triggers naming it. The NATS client is
 * loaded with the first connection, so a pipeline without a NATS trigger never loads it.
 */
export class NatsConnections {
  readonly #logger: Logger;
  readonly #connections = new Map<string, Promise<JetStreamConnection>>();
  #closed = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * The connection to `servers`, opened on first use. A failed first connection is forgotten, so the
   * next publish (after its backoff) tries again; once open, the client reconnects by itself.
   */
  get(servers: readonly string[]): Promise<JetStreamConnection> {
    const key = servers.join(' ');
    let connection = this.#connections.get(key);
    if (connection === undefined) {
      connection = this.#open(servers);
      this.#connections.set(key, connection);
      const forget = (): void => {
        if (this.#connections.get(key) === connection) this.#connections.delete(key);
      };
      connection.then((open) => open.closed.then(forget), forget);
    }
    return connection;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const open = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(open.map((connection) => connection.then((c) => c.close()).catch(() => {})));
  }

  async #open(servers: readonly string[]): Promise<JetStreamConnection> {
    const { JetStreamConnection } = await import('./client.js');
    const connection = await JetStreamConnection.open(servers, this.#logger.child({ servers }));
    // Closed while connecting: the caller sees the error it would have seen a moment later.
    if (this.#closed) {
      await connection.close();
      throw new Error('the NATS sink is closed');
    }
    return connection;
  }
}
