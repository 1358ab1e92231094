import type { Logger } from 'pino';
import { readTls, tlsKey } from '../webhook/tls-files.js';
import type { RabbitConnection } from './client.js';
import type { RabbitmqTarget } from './target.js';

/** What a connection is opened for: a trigger's nodes and TLS files. */
type Nodes = Pick<RabbitmqTarget, 'urls' | 'tls' | 'trigger'>;

/** Waits before trying the nodes again after every one refused: doubling, up to the cap. */
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 8_000;

/** The connection to one list of nodes, and where the next attempt starts. */
interface Cluster {
  connection: Promise<RabbitConnection> | undefined;
  /** The index in `urls` the next connection tries first: the node after the one last connected to. */
  next: number;
  /** After a round in which no node took the connection: its error, until `retryAt`. */
  refused: Promise<RabbitConnection> | undefined;
  retryAt: number;
  waitMs: number;
}

/**
 * One connection per distinct list of nodes (and TLS files), shared by the triggers naming it. A lost
 * connection is replaced on the next publish by one to the next node of the list that takes it, so a
 * node killed moves walhook to another; a round of refusals makes the next round wait, with backoff.
 * amqplib is loaded with the first connection, so a pipeline without a RabbitMQ trigger never loads it.
 */
export class RabbitConnections {
  readonly #logger: Logger;
  readonly #blocked: (source: string, reason: string | null) => void;
  readonly #clusters = new Map<string, Cluster>();
  #closed = false;

  constructor(logger: Logger, blocked: (source: string, reason: string | null) => void) {
    this.#logger = logger;
    this.#blocked = blocked;
  }

  get(target: Nodes): Promise<RabbitConnection> {
    const key = JSON.stringify([target.urls, tlsKey(target.tls)]);
    let cluster = this.#clusters.get(key);
    if (cluster === undefined) {
      cluster = { connection: undefined, next: 0, refused: undefined, retryAt: 0, waitMs: 0 };
      this.#clusters.set(key, cluster);
    }
    if (cluster.connection !== undefined) return cluster.connection;
    if (cluster.refused !== undefined && Date.now() < cluster.retryAt) return cluster.refused;
    const connection = this.#open(key, cluster, target);
    cluster.connection = connection;
    connection.then(
      (open) => {
        cluster.waitMs = 0;
        cluster.refused = undefined;
        void open.closed.then(() => {
          if (cluster.connection === connection) cluster.connection = undefined;
        });
      },
      () => {
        cluster.connection = undefined;
        cluster.refused = connection;
        cluster.waitMs = Math.min(RECONNECT_MAX_MS, Math.max(RECONNECT_MIN_MS, cluster.waitMs * 2));
        cluster.retryAt = Date.now() + cluster.waitMs;
      },
    );
    return connection;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const open = [...this.#clusters.values()].map((cluster) => cluster.connection);
    this.#clusters.clear();
    await Promise.all(open.map((connection) => connection?.then((c) => c.close()).catch(() => {})));
  }

  /** Tries each node in turn, from the one after the last connected to; throws with every node's error. */
  async #open(key: string, cluster: Cluster, target: Nodes): Promise<RabbitConnection> {
    const { connectNode, RabbitConnection, shownUrl } = await import('./client.js');
    const tls = target.tls === null ? null : readTls(target.trigger, target.tls);
    const { urls } = target;
    const errors: string[] = [];
    for (let i = 0; i < urls.length; i++) {
      const index = (cluster.next + i) % urls.length;
      const url = urls[index] as string;
      const node = shownUrl(url);
      let model: Awaited<ReturnType<typeof connectNode>>;
      try {
        model = await connectNode(url, tls);
      } catch (err) {
        errors.push(`${node}: ${(err as Error).message}`);
        continue;
      }
      cluster.next = (index + 1) % urls.length;
      const logger = this.#logger.child({ urls: urls.map(shownUrl) });
      const connection = new RabbitConnection(model, node, logger, (reason) => this.#blocked(key, reason));
      // Closed while connecting: the caller sees the error it would have seen a moment later.
      if (this.#closed) {
        await connection.close();
        throw new Error('the RabbitMQ sink is closed');
      }
      logger.info({ node }, 'connected to RabbitMQ');
      return connection;
    }
    throw new Error(`no RabbitMQ node took the connection: ${errors.join('; ')}`);
  }
}
