import pg from 'pg';
import { LogicalReplicationService } from 'pg-logical-replication';
import type { Logger } from 'pino';
import { WalhookError } from '../core/errors.js';
import { formatLsn, type Lsn, parseLsn } from '../core/lsn.js';
import { errorLine, sourceLoginError } from './login-error.js';

export interface ReplicationStreamOptions {
  connection: string;
  slot: string;
  publication: string;
  logger: Logger;
  /** One raw pgoutput message (the XLogData payload), in stream order. */
  onData(payload: Buffer): void;
  /** A primary keepalive: the server's WAL position; reply with `acknowledge` when asked. */
  onKeepalive(walEnd: Lsn, replyRequested: boolean): void;
  onConnected(): void;
  onDisconnected(error: unknown): void;
  /** An attempt to stream failed, or the stream broke: the next attempt follows after a backoff. */
  onRetry(error: unknown): void;
  /** The slot is gone or invalidated: retrying cannot help. */
  onSlotLost(error: WalhookError): void;
}

/**
 * Backpressure from the sink, a lookup the source waits for (types, TOAST values), or an operator's
 * `POST /pause`.
 */
export type PauseReason = 'backpressure' | 'lookup' | 'operator';

/** Duplex of the replication connection, which pg-logical-replication keeps private. */
type Socket = { pause(): void; resume(): void };

/**
 * pgoutput sends values in the walsender session's text format; values.ts renders them like
 * row_to_json, which needs ISO dates whatever the database's DateStyle default is.
 */
export const OUTPUT_SETTINGS = '-c DateStyle=ISO,MDY -c IntervalStyle=postgres -c extra_float_digits=1';

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;

/**
 * A pgoutput replication connection that reconnects with backoff. It never acknowledges by itself:
 * pg-logical-replication's timer is off (`timeoutSeconds: 0`) and every standby status update goes
 * through `acknowledge`, with the position the checkpoint tracker allows. It always starts from
 * LSN 0/0, which Postgres reads as "from the slot's confirmed_flush_lsn": the library would otherwise
 * restart from the last position it saw, skipping transactions that were never settled.
 */
export class ReplicationStream {
  private service: LogicalReplicationService | null = null;
  private stopped = false;
  private connected = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  /** Why reading is paused; the socket reads again when no reason is left. */
  private readonly pausedFor = new Set<PauseReason>();

  constructor(private readonly options: ReplicationStreamOptions) {}

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Sends a standby status update confirming everything before `lsn` (write = flush = apply = lsn).
   * pg-logical-replication adds one to the LSN it is given (it takes "the last byte received"),
   * while `lsn` here is already the first byte not needed: hand it `lsn - 1`.
   */
  acknowledge(lsn: Lsn): boolean {
    if (!this.service || !this.connected || lsn === 0n) return false;
    void this.service.acknowledge(formatLsn(lsn - 1n));
    return true;
  }

  /**
   * Stops reading the socket, so the backlog stays in Postgres's WAL instead of walhook's memory.
   * Messages already parsed from the last chunk still arrive.
   */
  pause(reason: PauseReason): void {
    this.pausedFor.add(reason);
    this.socket()?.pause();
  }

  resume(reason: PauseReason): void {
    this.pausedFor.delete(reason);
    if (this.pausedFor.size === 0) this.socket()?.resume();
  }

  isPaused(reason: PauseReason): boolean {
    return this.pausedFor.has(reason);
  }

  private socket(): Socket | undefined {
    // The library's own flow control pauses this same stream; it exposes no method for it.
    return (this.service as unknown as { _connection?: { stream?: Socket } } | null)?._connection?.stream;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.service?.stop();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    let delay = RECONNECT_MIN_MS;
    while (!this.stopped) {
      const service = new LogicalReplicationService(
        { connectionString: this.options.connection, application_name: 'walhook', options: OUTPUT_SETTINGS },
        { acknowledge: { auto: false, timeoutSeconds: 0 } },
      );
      this.service = service;
      let failure: unknown = null;
      service.on('error', (err: Error) => {
        failure ??= err;
      });
      service.on('start', () => {
        this.connected = true;
        if (this.pausedFor.size > 0) this.socket()?.pause();
        delay = RECONNECT_MIN_MS;
        logger.info(
          { slot: this.options.slot, publication: this.options.publication },
          'replication started',
        );
        this.options.onConnected();
      });
      service.on('data', (_lsn: string, payload: Buffer) => this.options.onData(payload));
      service.on('heartbeat', (lsn: string, _timestamp: number, replyRequested: boolean) =>
        this.options.onKeepalive(parseLsn(lsn), replyRequested),
      );
      try {
        await service.subscribe(pgoutputBytes(this.options.publication), this.options.slot);
        if (!this.stopped) failure ??= new Error('replication stream ended by the server');
      } catch (err) {
        failure ??= err;
      }
      await service.destroy().catch(() => {});
      const wasConnected = this.connected;
      this.connected = false;
      this.service = null;
      if (this.stopped) break;
      if (wasConnected) this.options.onDisconnected(failure);
      const lost = slotLost(this.options.slot, failure);
      if (lost) {
        this.options.onSlotLost(lost);
        break;
      }
      this.options.onRetry(failure);
      // One line per attempt: a refused login says what to change; a stack trace would say nothing more.
      const login = sourceLoginError(failure, this.options.connection);
      logger[login ? 'error' : 'warn'](
        {
          code: login?.code,
          error: login?.message ?? errorLine(failure),
          slot: this.options.slot,
          retry_in_ms: delay,
        },
        wasConnected ? 'replication connection lost; reconnecting' : 'cannot start replication; retrying',
      );
      await this.sleep(delay + Math.floor(Math.random() * delay * 0.2));
      delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/**
 * START_REPLICATION fails with undefined_object when the slot was dropped and with
 * object_not_in_prerequisite_state when it was invalidated; neither heals by reconnecting.
 */
function slotLost(slot: string, err: unknown): WalhookError | null {
  const { code, message } = (err ?? {}) as { code?: string; message?: string };
  if (code === '42704' && /replication slot/i.test(message ?? '')) {
    return new WalhookError(
      'WALHOOK_ERR_SLOT_LOST',
      `replication slot ${slot} no longer exists (dropped while walhook ran); changes after its last position may be lost — restart walhook to create it anew`,
      { cause: err },
    );
  }
  if (code === '55000') {
    return new WalhookError(
      'WALHOOK_ERR_SLOT_LOST',
      `replication slot ${slot} was invalidated (${message}); its WAL is gone — set source.on_slot_lost: recreate to start a new slot from now`,
      { cause: err },
    );
  }
  return null;
}

/**
 * The plugin hands raw payloads to walhook's own decoder instead of the library's pg-types parser.
 * No `origin` option (Postgres 16+): its default `any` sends the changes that logical replication
 * applied too, marked by an Origin message, which `trigger_on_replication: false` needs to skip them.
 */
function pgoutputBytes(publication: string) {
  return {
    options: {},
    name: 'pgoutput',
    parse: (payload: Buffer) => payload,
    start: (client: pg.Client, slotName: string, startLsn: string) =>
      client.query(
        `START_REPLICATION SLOT ${pg.escapeIdentifier(slotName)} LOGICAL ${startLsn} ` +
          `(proto_version '1', publication_names ${pg.escapeLiteral(pg.escapeIdentifier(publication))}, messages 'true')`,
      ),
  };
}
