import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import type { WebhookTls } from './target.js';
import { readTls, type TlsMaterial, tlsKey } from './tls-files.js';

/** How long a TLS alert is remembered after its socket closed, for the request that failed with it. */
const ALERT_KEPT_MS = 5_000;

/** OpenSSL's certificate verification failures, as Node codes them (see `tls` in Node's docs). */
const VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/**
 * Whether an error code is a TLS failure: certificate verification, a hostname mismatch, or an alert or
 * protocol error from OpenSSL (handshake failure, client certificate refused, plain HTTP on an https URL).
 */
export function isTlsFailureCode(code: string): boolean {
  return (
    VERIFY_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO'
  );
}

/**
 * The connection pools of a WebhookClient: one undici Agent per distinct TLS setting (keyed by its file
 * paths), the default one for targets without `tls`. Verification stays on in every one of them.
 */
export class TlsAgents {
  readonly #agents = new Map<string, Agent>();
  /** The first TLS failure of each socket that had one, by its addresses (undici's SocketError names them). */
  readonly #alerts = new Map<string, Error>();

  /** The agent for a target's TLS setting; reading its files can throw WALHOOK_ERR_TLS_FILE. */
  agentFor(trigger: string, tls: WebhookTls | null): Agent {
    const key = tlsKey(tls);
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      agent = this.#open(tls === null ? {} : readTls(trigger, tls));
      this.#agents.set(key, agent);
    }
    return agent;
  }

  /**
   * The TLS alert behind a "socket closed" error. Under TLS 1.3 a receiver refuses a client certificate
   * after walhook has sent the request: the alert arrives as a socket error that undici replaces with
   * "other side closed" when the socket ends, and only the alert says what went wrong.
   */
  alertBehind(err: unknown): Error | undefined {
    const socket = (err as { socket?: SocketAddresses | null }).socket;
    return socket ? this.#alerts.get(addressKey(socket)) : undefined;
  }

  /** Aborts requests in flight and closes every connection. */
  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((agent) => agent.destroy()));
  }

  #open(material: TlsMaterial): Agent {
    const connect = buildConnector(material);
    return new Agent({
      keepAliveTimeout: 4_000,
      // The per-attempt timer bounds the whole exchange; undici's own 300 s timers would only interfere.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: (options, callback) =>
        connect(options, (err, socket) => {
          if (socket instanceof TLSSocket) this.#watch(socket);
          // The overloads of the callback's arguments do not survive the spread; it is the same pair.
          (callback as (err: Error | null, socket: Socket | null) => void)(err, socket);
        }),
    });
  }

  #watch(socket: TLSSocket): void {
    const key = addressKey(socket);
    socket.on('error', (err: Error & { code?: string }) => {
      if (!this.#alerts.has(key) && err.code !== undefined && isTlsFailureCode(err.code)) {
        this.#alerts.set(key, err);
        socket.once('close', () => setTimeout(() => this.#alerts.delete(key), ALERT_KEPT_MS).unref());
      }
    });
  }
}

interface SocketAddresses {
  localAddress?: string | undefined;
  localPort?: number | undefined;
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
}

function addressKey(socket: SocketAddresses): string {
  return `${socket.localAddress}:${socket.localPort}>${socket.remoteAddress}:${socket.remotePort}`;
}
