import type { Logger } from 'pino';
import type { RedisConnection } from './client.js';
import { endpointKey, endpointText, type RedisEndpoint } from './target.js';

/**
 * One connection per distinct endpoint, shared by the triggers naming it. The Redis client is loaded with
 * the first connection, so a pipeline without a Redis trigger never loads it.
 */
export class RedisConnections {
  readonly #logger: Logger;
  readonly #connections = new Map<string, Promise<RedisConnection>>();
  #closed = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * The connection to `endpoint`, opened on first use. A failed first connection is forgotten, so the
   * next XADD (after its backoff) tries again; once open, the client reconnects by itself.
   */
  get(endpoint: RedisEndpoint): Promise<RedisConnection> {
    const key = endpointKey(endpoint);
    let connection = this.#connections.get(key);
    if (connection === undefined) {
      connection = this.#open(endpoint);
      this.#connections.set(key, connection);
      connection.catch(() => {
        if (this.#connections.get(key) === connection) this.#connections.delete(key);
      });
    }
    return connection;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const open = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(open.map((connection) => connection.then((c) => c.close()).catch(() => {})));
  }

  async #open(endpoint: RedisEndpoint): Promise<RedisConnection> {
    const { RedisConnection } = await import('./client.js');
    const connection = await RedisConnection.open(
      endpoint,
      this.#logger.child({ redis: endpointText(endpoint) }),
    );
    // Closed while connecting: the caller sees the error it would have seen a moment later.
    if (this.#closed) {
      await connection.close();
      throw new Error('the Redis sink is closed');
    }
    return connection;
  }
}
