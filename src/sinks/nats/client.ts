import { JetStreamApiError, type JetStreamClient, jetstream, type PubAck } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection, RequestError, TimeoutError } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { AttemptError } from '../../core/delivery-event.js';
import type { AttemptResult, Request } from '../plugin.js';

/** How long opening a connection (TCP, INFO, CONNECT) may take before the attempt counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000;
/** A silent connection is given up after two missed pings, well before TCP would notice. */
const PING_INTERVAL_MS = 10_000;
const MAX_PINGS_OUT = 2;
const RECONNECT_WAIT_MS = 1_000;

/** One message: the event body, its id for JetStream's de-duplication, what names it, where it goes. */
export interface Message extends Request {
  servers: readonly string[];
  subject: string;
  body: string;
  id: string;
  trigger: string;
  traceparent: string;
  /** When set, JetStream refuses the message unless its subject belongs to this stream. */
  stream: string | null;
  timeoutMs: number;
}

/** A publish: the stream's acknowledgement (`duplicate` when it already held the id), or `error`. */
export interface PublishResult extends AttemptResult {
  ack?: PubAck;
}

/**
 * The only module that loads the NATS client (see connections.ts): a connection to one list of servers
 * that reconnects forever, and publishes to JetStream.
 */
export class JetStreamConnection {
  readonly #connection: NatsConnection;
  readonly #js: JetStreamClient;
  /** Resolves when the connection ended for good (closed by us, or an error the client gave up on). */
  readonly closed: Promise<void>;

  private constructor(connection: NatsConnection, logger: Logger) {
    this.#connection = connection;
    this.#js = jetstream(connection);
    this.closed = connection.closed().then((err) => {
      if (err) logger.warn({ err }, 'NATS connection closed');
    });
    void this.#watch(logger);
  }

  static async open(servers: readonly string[], logger: Logger): Promise<JetStreamConnection> {
    const connection = await connect({
      servers: [...servers],
      name: 'walhook',
      timeout: CONNECT_TIMEOUT_MS,
      // Once connected, the client reconnects on its own for as long as the connection is wanted.
      maxReconnectAttempts: -1,
      reconnectTimeWait: RECONNECT_WAIT_MS,
      pingInterval: PING_INTERVAL_MS,
      maxPingOut: MAX_PINGS_OUT,
    });
    logger.info({ server: connection.getServer() }, 'connected to NATS');
    return new JetStreamConnection(connection, logger);
  }

  /** Never rejects: a failure comes back as `error`, for the caller to retry. */
  publish(message: Message): Promise<PublishResult> {
    const h = headers();
    h.set('Walhook-Trigger', message.trigger);
    h.set('traceparent', message.traceparent);
    return this.#js
      .publish(message.subject, message.body, {
        msgID: message.id,
        headers: h,
        timeout: message.timeoutMs,
        expect: message.stream === null ? undefined : { streamName: message.stream },
      })
      .then(acknowledged, failed);
  }

  close(): Promise<void> {
    return this.#connection.close();
  }

  async #watch(logger: Logger): Promise<void> {
    for await (const status of this.#connection.status()) {
      if (status.type === 'disconnect') logger.warn({ server: status.server }, 'disconnected from NATS');
      else if (status.type === 'reconnect') logger.info({ server: status.server }, 'reconnected to NATS');
      else if (status.type === 'ldm')
        logger.info({ server: status.server }, 'NATS server entering lame duck mode');
      else if (status.type === 'error') logger.warn({ err: status.error }, 'NATS connection error');
    }
  }
}

/** `durationMs` is the caller's to set: it times the connection too. */
function acknowledged(ack: PubAck): PublishResult {
  return { status: null, durationMs: 0, responseSnippet: '', ack };
}

function failed(err: unknown): PublishResult {
  return { status: null, durationMs: 0, responseSnippet: '', error: publishError(err) };
}

/**
 * A failed publish for logs and metrics. `timeout`: no acknowledgement in time (the message may be
 * stored; the retry's id makes JetStream drop the copy); `connect`: nothing took it (no stream on the
 * subject, JetStream unavailable, no connection); `network`: the stream refused it.
 */
function publishError(err: unknown): AttemptError {
  if (err instanceof TimeoutError) return { type: 'timeout', message: 'no acknowledgement in time' };
  if (err instanceof JetStreamApiError) return { type: 'network', message: `JetStream: ${err.message}` };
  // nats.js reports "no responders" as JetStream not being enabled, though a subject no stream
  // captures, or a stream without a leader, is the usual cause.
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof RequestError && cause.isNoResponders()) {
    return {
      type: 'connect',
      message: 'no responders: no stream captures the subject, or JetStream is unavailable',
    };
  }
  return { type: 'connect', message: err instanceof Error ? err.message : String(err) };
}
