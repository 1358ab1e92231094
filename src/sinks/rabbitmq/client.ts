import { type ChannelModel, connect } from 'amqplib';
import type { Logger } from 'pino';
import type { AttemptError } from '../../core/delivery-event.js';
import type { TlsMaterial } from '../webhook/tls-files.js';
import { ConfirmedChannel, type Publication } from './confirm-channel.js';

/** How long opening a connection (TCP, TLS, AMQP handshake) to one node may take. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** A silent node is given up after two missed heartbeats, well before TCP would notice. */
const HEARTBEAT_SEC = 5;

/** A node's URL without its credentials, for logs and errors. */
export function shownUrl(url: string): string {
  const shown = new URL(url);
  shown.username = '';
  shown.password = '';
  return shown.toString();
}

/** Opens a connection to the node at `url`, with walhook's heartbeat and the trigger's TLS files. */
export async function connectNode(url: string, tls: TlsMaterial | null): Promise<ChannelModel> {
  const withHeartbeat = new URL(url);
  withHeartbeat.searchParams.set('heartbeat', String(HEARTBEAT_SEC));
  return connect(withHeartbeat.toString(), {
    timeout: CONNECT_TIMEOUT_MS,
    clientProperties: { connection_name: 'walhook' },
    ...(tls?.ca !== undefined && { ca: [tls.ca] }),
    ...(tls?.cert !== undefined && { cert: tls.cert, key: tls.key }),
  });
}

/**
 * The only module that loads amqplib (see connections.ts): a connection to one node of a cluster, with
 * a confirm channel per trigger. It does not reconnect: once closed, connections.ts opens another,
 * to the next node.
 */
export class RabbitConnection {
  readonly node: string;
  readonly #model: ChannelModel;
  readonly #channels = new Map<string, Promise<ConfirmedChannel>>();
  /** Why the broker blocks publishers (connection.blocked), or null; and who waits for it to end. */
  #blocked: string | null = null;
  #unblocked: (() => void)[] = [];
  /** Resolves when the connection ended, closed by us or lost. */
  readonly closed: Promise<void>;

  constructor(model: ChannelModel, node: string, logger: Logger, onBlocked: (reason: string | null) => void) {
    this.#model = model;
    this.node = node;
    let lost: Error | undefined;
    // Without a listener an 'error' event would throw; the 'close' after it says what happened.
    model.on('error', (err: Error) => {
      lost = err;
    });
    this.closed = new Promise<void>((resolve) => {
      model.once('close', () => {
        if (lost !== undefined) logger.warn({ node, err: lost }, 'RabbitMQ connection lost');
        this.#setBlocked(null);
        onBlocked(null);
        resolve();
      });
    });
    model.on('blocked', (reason: string) => {
      logger.warn({ node, reason }, 'RabbitMQ blocks publishing; walhook waits');
      this.#setBlocked(reason);
      onBlocked(reason);
    });
    model.on('unblocked', () => {
      logger.info({ node }, 'RabbitMQ unblocked publishing');
      this.#setBlocked(null);
      onBlocked(null);
    });
  }

  /**
   * Publishes on the trigger's confirm channel; resolves with undefined once confirmed, or with why not.
   * While the broker blocks publishers, it waits (up to the publish's timeout) instead of filling the
   * socket with messages the broker does not read.
   */
  async publish(p: Publication): Promise<AttemptError | undefined> {
    if (this.#blocked !== null && !(await this.#whileBlocked(p.timeoutMs))) {
      return { type: 'timeout', message: `RabbitMQ blocks publishing: ${this.#blocked}` };
    }
    let channel: ConfirmedChannel | null;
    try {
      channel = await beforeTimeout(this.#channel(p.trigger), p.timeoutMs);
    } catch (err) {
      return { type: 'connect', message: `cannot open a channel: ${(err as Error).message}` };
    }
    if (channel === null) return { type: 'timeout', message: `no channel opened within ${p.timeoutMs} ms` };
    return channel.publish(p);
  }

  async close(): Promise<void> {
    await this.#model.close().catch(() => {});
    await this.closed;
  }

  /** The trigger's confirm channel, a fresh one when the last was closed or spoiled by a nack. */
  async #channel(trigger: string): Promise<ConfirmedChannel> {
    const current = this.#channels.get(trigger);
    if (current !== undefined) {
      const channel = await current.catch(() => null);
      if (channel?.usable) return channel;
      if (this.#channels.get(trigger) !== current) return this.#channel(trigger);
    }
    const opening = this.#model.createConfirmChannel().then((channel) => new ConfirmedChannel(channel));
    this.#channels.set(trigger, opening);
    return opening;
  }

  #setBlocked(reason: string | null): void {
    this.#blocked = reason;
    if (reason !== null) return;
    const waiting = this.#unblocked;
    this.#unblocked = [];
    for (const wake of waiting) wake();
  }

  /** True once the broker lets publishers go on (or the connection closed), false after `timeoutMs`. */
  #whileBlocked(timeoutMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#unblocked.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

/** `work`'s value, or null once `timeoutMs` passed first. */
function beforeTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
