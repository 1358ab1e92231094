import { Agent, request } from 'undici';
import type { WebhookTarget } from './delivery-event.js';
import { MAX_TIMER_MS } from './retry-policy.js';

/** How much of a response body is kept for logs and dead letters. */
const SNIPPET_BYTES = 4096;
/** Past this, closing the connection is cheaper than reading a response body nobody looks at. */
const DISCARD_LIMIT_BYTES = 128 * 1024;

/** Failures that happen before a request reaches the receiver, so the receiver cannot have acted on it. */
const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export type AttemptErrorType = 'timeout' | 'connect' | 'network' | 'http';

export interface AttemptError {
  type: AttemptErrorType;
  message: string;
}

export interface AttemptResult {
  /** The response status, or null when no response head arrived. */
  status: number | null;
  durationMs: number;
  /** Set for anything but a 2xx status. */
  error?: AttemptError;
  /** The first 4 KiB of the response body, decoded as UTF-8. */
  responseSnippet: string;
  /** The receiver's Retry-After header, as sent. */
  retryAfter?: string;
}

/** POSTs webhook bodies over one shared keep-alive connection pool per origin. */
export class WebhookClient {
  readonly #agent = new Agent({
    keepAliveTimeout: 4_000,
    // The per-attempt timer bounds the whole exchange; undici's own 300 s timers would only interfere.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  readonly #userAgent: string;
  readonly #headers = new WeakMap<WebhookTarget, Record<string, string>>();

  constructor(options: { userAgent: string }) {
    this.#userAgent = options.userAgent;
  }

  /**
   * Never rejects: every failure comes back as `error` so the caller can decide to retry. The timeout
   * covers the whole attempt, connecting and reading the body included. `attemptHeaders` (lower-case
   * names, such as `traceparent`) are added to the target's for this attempt only.
   */
  async post(
    target: WebhookTarget,
    body: string,
    attemptHeaders?: Readonly<Record<string, string>>,
  ): Promise<AttemptResult> {
    const started = performance.now();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        controller.abort();
      },
      Math.min(target.retry.timeoutSec * 1000, MAX_TIMER_MS),
    );
    try {
      // `request` follows no redirect: a 3xx is an answer like any other non-2xx and is retried, which
      // also keeps the body and its credentials from being sent to wherever a receiver points.
      const response = await request(target.url, {
        dispatcher: this.#agent,
        method: 'POST',
        headers:
          attemptHeaders === undefined
            ? this.#headersFor(target)
            : { ...this.#headersFor(target), ...attemptHeaders },
        body,
        signal: controller.signal,
      });
      const status = response.statusCode;
      const responseSnippet = await readSnippet(response.body);
      const retryAfter = firstValue(response.headers['retry-after']);
      const result: AttemptResult = { status, durationMs: performance.now() - started, responseSnippet };
      if (retryAfter !== undefined) result.retryAfter = retryAfter;
      if (status < 200 || status >= 300) result.error = { type: 'http', message: `HTTP ${status}` };
      return result;
    } catch (err) {
      const error: AttemptError = timedOut
        ? { type: 'timeout', message: `no response within ${target.retry.timeoutSec}s` }
        : classify(err);
      return { status: null, durationMs: performance.now() - started, responseSnippet: '', error };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Aborts requests in flight and closes every connection. */
  close(): Promise<void> {
    return this.#agent.destroy();
  }

  #headersFor(target: WebhookTarget): Record<string, string> {
    let headers = this.#headers.get(target);
    if (headers === undefined) {
      // Lower-cased so a target's `content-type` replaces ours instead of travelling next to it.
      headers = {};
      for (const [name, value] of Object.entries(target.headers)) headers[name.toLowerCase()] = value;
      headers['content-type'] = 'application/json';
      headers['user-agent'] = this.#userAgent;
      this.#headers.set(target, headers);
    }
    return headers;
  }
}

/**
 * Reads the body to its end (so the connection goes back to the pool), keeping only its start. The status
 * is the receiver's answer, so a body cut short by the timeout, a reset or the size cap costs only the
 * connection and the rest of the snippet, never the outcome.
 */
async function readSnippet(body: AsyncIterable<Buffer>): Promise<string> {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let readBytes = 0;
  try {
    for await (const chunk of body) {
      if (keptBytes < SNIPPET_BYTES) {
        kept.push(chunk);
        keptBytes += chunk.length;
      }
      readBytes += chunk.length;
      // Leaving the loop destroys the body, and with it the connection: an endless body ends here.
      if (readBytes > DISCARD_LIMIT_BYTES) break;
    }
  } catch {
    // The stream is destroyed already; what arrived before is all there is.
  }
  return Buffer.concat(kept, Math.min(keptBytes, SNIPPET_BYTES)).toString('utf8');
}

function firstValue(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}

function classify(err: unknown): AttemptError {
  const code = errorCode(err);
  const type = code !== undefined && CONNECT_ERROR_CODES.has(code) ? 'connect' : 'network';
  const message = describe(err);
  return { type, message: code === undefined || message.includes(code) ? message : `${code}: ${message}` };
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  if ('code' in err && typeof err.code === 'string') return err.code;
  if (err instanceof AggregateError) return errorCode(err.errors[0]);
  return 'cause' in err ? errorCode(err.cause) : undefined;
}

function describe(err: unknown): string {
  // Happy-eyeballs connection failures are AggregateErrors with an empty message of their own.
  if (err instanceof AggregateError && err.message === '') return err.errors.map(describe).join('; ');
  return err instanceof Error ? err.message : String(err);
}
