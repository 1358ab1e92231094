import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { AttemptError } from '../../core/delivery-event.js';
import type { AttemptResult, Request } from '../plugin.js';
import { ReplicaWaits } from './replica-waits.js';
import type { RedisEndpoint, ReplicaWait } from './target.js';

/** How long opening a connection (TCP, TLS, HELLO) may take before the attempt counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Reconnecting: at once, then backing off to once a second, for as long as the connection is wanted. */
const MAX_RECONNECT_WAIT_MS = 1_000;
/** TCP keepalive finds a peer that vanished (a killed host) while nothing is being sent. */
const KEEPALIVE_MS = 10_000;

/** One entry: where it goes, its fields, and how long and for what its attempt waits. */
export interface Entry extends Request {
  endpoint: RedisEndpoint;
  stream: string;
  /** Field-value pairs, flat, as XADD takes them. */
  fields: readonly string[];
  maxlen: number | null;
  wait: ReplicaWait | null;
  timeoutMs: number;
}

/** An XADD: the entry id Redis gave it and the replicas WAIT counted, or `error`. */
export interface AddResult extends AttemptResult {
  entryId?: string;
  replicas?: number;
}

/** The options of a connection to `endpoint` (also the probe's, with `overrides`). */
export function connectionOptions(endpoint: RedisEndpoint, overrides: RedisOptions = {}): RedisOptions {
  const where: RedisOptions =
    'url' in endpoint
      ? urlOptions(endpoint.url)
      : {
          sentinels: endpoint.sentinels.map((text) => {
            const url = new URL(text);
            return { host: url.hostname, port: Number(url.port || 26379) };
          }),
          name: endpoint.masterName,
          sentinelRetryStrategy: (times) => Math.min(times * 100, MAX_RECONNECT_WAIT_MS),
        };
  return {
    ...where,
    connectionName: 'walhook',
    connectTimeout: CONNECT_TIMEOUT_MS,
    keepAlive: KEEPALIVE_MS,
    // A command while disconnected fails at once: the engine's backoff retries it, and nothing is
    // queued to be sent on a later connection, where a WAIT would count replicas for nothing.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(times * 100, MAX_RECONNECT_WAIT_MS),
    // READONLY: the server was demoted to a replica. Connecting again asks the sentinels (or DNS) anew.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 1 : false),
    ...overrides,
  };
}

function urlOptions(text: string): RedisOptions {
  const url = new URL(text);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 6379),
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    db: Number(url.pathname.slice(1) || 0),
    // Verified against the system's CAs, for the URL's host name.
    tls: url.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * The only module that loads the Redis client (see connections.ts): a connection to one server, or to
 * the master its sentinels name, that reconnects forever.
 */
export class RedisConnection {
  readonly #client: Redis;
  readonly #waits: ReplicaWaits;
  /** Counts lost connections: an entry and its WAIT count only when both went over the same one. */
  #epoch = 0;

  private constructor(client: Redis, logger: Logger) {
    this.#client = client;
    this.#waits = new ReplicaWaits(async (wait) =>
      Number(await client.call('WAIT', wait.replicas, wait.timeoutMs)),
    );
    // Once per lost connection, not per reconnect attempt (every second while Redis is away).
    let up = true;
    client.on('close', () => {
      this.#epoch++;
      if (up) logger.warn('disconnected from Redis, reconnecting');
      up = false;
    });
    client.on('ready', () => {
      up = true;
      logger.info('reconnected to Redis');
    });
  }

  static async open(endpoint: RedisEndpoint, logger: Logger): Promise<RedisConnection> {
    const client = new Redis({ ...connectionOptions(endpoint), lazyConnect: true });
    // Each failed reconnect attempt is an error event; the lost connection is logged once, on close.
    client.on('error', (err: Error) => logger.debug({ err }, 'Redis connection error'));
    try {
      await client.connect();
    } catch (err) {
      // A first connection that fails is given up: the next XADD, after its backoff, opens another.
      client.disconnect();
      throw err;
    }
    logger.info('connected to Redis');
    return new RedisConnection(client, logger);
  }

  /**
   * XADD, and WAIT when the entry asks for it. Never rejects: a failure comes back as `error`, `final`
   * when retrying cannot help. Not bounded in time: the caller races it against the attempt's timeout.
   */
  async add(entry: Entry): Promise<AddResult> {
    const trim = entry.maxlen === null ? [] : ['MAXLEN', '~', entry.maxlen];
    let entryId: string;
    let epoch: number;
    try {
      entryId = String(await this.#client.call('XADD', entry.stream, ...trim, '*', ...entry.fields));
      epoch = this.#epoch;
    } catch (err) {
      return failure(commandError(err), isWrongType(err));
    }
    const result: AddResult = { status: null, durationMs: 0, responseSnippet: '', entryId };
    const { wait } = entry;
    if (wait === null) return result;
    try {
      result.replicas = await this.#waits.after(wait);
    } catch (err) {
      return { ...result, error: commandError(err) };
    }
    if (this.#epoch !== epoch) {
      return { ...result, error: { type: 'connect', message: 'connection lost before WAIT answered' } };
    }
    if (result.replicas < wait.replicas) {
      const message = `WAIT: ${result.replicas} of ${wait.replicas} replicas acknowledged within ${wait.timeoutMs} ms`;
      return { ...result, error: { type: 'timeout', message } };
    }
    return result;
  }

  /** At once: what is in flight fails, and is sent again after a restart (it was never settled). */
  close(): Promise<void> {
    this.#client.disconnect();
    return Promise.resolve();
  }
}

function failure(error: AttemptError, final = false): AddResult {
  return { status: null, durationMs: 0, responseSnippet: '', error, ...(final && { final }) };
}

/** WRONGTYPE: the key holds something other than a stream. Retrying cannot help until someone moves it. */
function isWrongType(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('WRONGTYPE');
}

/**
 * A failed command for logs and metrics: `network` for Redis's own refusal (OOM, READONLY, WRONGTYPE,
 * MISCONF, LOADING…), `connect` when no connection took it.
 */
export function commandError(err: unknown): AttemptError {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Error && err.name === 'ReplyError') return { type: 'network', message };
  return { type: 'connect', message };
}
