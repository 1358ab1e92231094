import type { Dispatcher } from 'undici';
import type { AttemptError, RetryPolicy } from '../../core/delivery-event.js';
import type { AttemptResult, ResponseHeaders } from '../plugin.js';
import { isFinalStatus, MAX_TIMER_MS } from '../retry-policy.js';
import type { WebhookTarget } from './target.js';
import { isTlsFailureCode, TlsAgents } from './tls-agents.js';
import type { TransformedRequest } from './transform.js';

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
]);

/** The start of an OpenSSL error queue entry, as Node's TLS errors quote it. */
const OPENSSL_QUEUE = /^[0-9A-F]+:error:[0-9A-F]+:/;

/** Where a target's requests go and what they always carry, worked out once per target. */
interface Route {
  /** The connection pool of the target's TLS setting. */
  agent: Dispatcher;
  origin: string;
  path: string;
  headers: Record<string, string>;
}

/** POSTs webhook bodies over one shared keep-alive connection pool per origin and TLS setting. */
export class WebhookClient {
  readonly #agents = new TlsAgents();
  /** The global User-Agent, for a target without its own. */
  readonly userAgent: string;
  readonly #routes = new WeakMap<WebhookTarget, Route>();

  constructor(options: { userAgent: string }) {
    this.userAgent = options.userAgent;
  }

  /**
   * Never rejects: every failure comes back as `error` so the caller can decide to retry, and `final`
   * when the status is one of the target's final statuses. The timeout covers the whole attempt,
   * waiting for a connection and reading the body included. `attemptHeaders` (lower-case names, such
   * as `traceparent`) are added to the target's for this attempt only.
   */
  post(
    target: WebhookTarget,
    body: string,
    attemptHeaders?: Readonly<Record<string, string>>,
  ): Promise<AttemptResult> {
    return this.#dispatch(target, (route) => ({
      origin: route.origin,
      path: route.path,
      method: 'POST',
      headers: attemptHeaders === undefined ? route.headers : { ...route.headers, ...attemptHeaders },
      body,
    }));
  }

  /**
   * Like `post`, for a request a `request_transform` rendered: its own method, URL, headers (which
   * replace the target's) and body, over the target's connection pool. `attemptHeaders` come last.
   */
  send(
    target: WebhookTarget,
    request: TransformedRequest,
    attemptHeaders: Readonly<Record<string, string>>,
  ): Promise<AttemptResult> {
    return this.#dispatch(target, () => {
      const url = new URL(request.url);
      return {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.method as Dispatcher.HttpMethod,
        headers: { ...request.headers, ...attemptHeaders },
        body: request.body,
      };
    });
  }

  #dispatch(
    target: WebhookTarget,
    options: (route: Route) => Dispatcher.DispatchOptions,
  ): Promise<AttemptResult> {
    let route: Route;
    try {
      route = this.#routeFor(target);
    } catch (err) {
      // A TLS file that went missing after start-up (or was never checked, as in `dlq redeliver`):
      // nothing was sent, and the attempt fails like any other so the event is retried or kept.
      const error: AttemptError = { type: 'connect', message: (err as Error).message };
      return Promise.resolve({ status: null, durationMs: 0, responseSnippet: '', error });
    }
    return new Promise((resolve) => {
      const exchange = new Exchange(target.retry, resolve, (err) => this.#classify(err));
      // `dispatch` follows no redirect: a 3xx is an answer like any other non-2xx and is retried, which
      // also keeps the body and its credentials from being sent to wherever a receiver points. It is the
      // layer under `request()`, without the per-request stream and abort signal the hot path cannot afford.
      route.agent.dispatch(options(route), exchange);
    });
  }

  /** Aborts requests in flight and closes every connection. */
  close(): Promise<void> {
    return this.#agents.close();
  }

  #classify(err: unknown): AttemptError {
    return classify(this.#agents.alertBehind(err) ?? err);
  }

  #routeFor(target: WebhookTarget): Route {
    let route = this.#routes.get(target);
    if (route === undefined) {
      const url = new URL(target.url);
      route = {
        agent: this.#agents.agentFor(target.trigger, target.tls),
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        headers: targetHeaders(target, this.userAgent),
      };
      this.#routes.set(target, route);
    }
    return route;
  }
}

/**
 * The headers every request to `target` carries, with lower-case names. The User-Agent is the
 * trigger's, else `userAgent` (the global one); a User-Agent in the trigger's headers wins over both.
 */
export function targetHeaders(target: WebhookTarget, userAgent: string): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': target.userAgent ?? userAgent };
  // Lower-cased so a target's `user-agent` replaces ours instead of travelling next to it.
  for (const [name, value] of Object.entries(target.headers)) headers[name.toLowerCase()] = value;
  headers['content-type'] = 'application/json';
  return headers;
}

/**
 * One attempt, as undici's dispatch handler. It reads the body to its end (so the connection goes back
 * to the pool), keeping only its start. The status is the receiver's answer, so a body cut short by a
 * reset or the size cap costs only the connection and the rest of the snippet, never the outcome.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #started = performance.now();
  readonly #retry: Pick<RetryPolicy, 'timeoutSec' | 'finalStatuses'>;
  readonly #timer: NodeJS.Timeout;
  readonly #classify: (err: unknown) => AttemptError;
  #resolve: ((result: AttemptResult) => void) | null;
  #controller: Dispatcher.DispatchController | null = null;
  #status: number | null = null;
  #retryAfter: string | undefined;
  #headers: ResponseHeaders | undefined;
  #kept: Buffer[] = [];
  #keptBytes = 0;
  #readBytes = 0;

  constructor(
    retry: Pick<RetryPolicy, 'timeoutSec' | 'finalStatuses'>,
    resolve: (result: AttemptResult) => void,
    classifyError: (err: unknown) => AttemptError,
  ) {
    this.#retry = retry;
    this.#classify = classifyError;
    this.#resolve = resolve;
    this.#timer = setTimeout(() => this.#timeout(), Math.min(retry.timeoutSec * 1000, MAX_TIMER_MS));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Timed out while waiting for a connection: the request is never sent.
    if (this.#resolve === null) controller.abort(new Error('attempt timed out'));
    else this.#controller = controller;
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.#status = statusCode;
    this.#headers = headers;
    this.#retryAfter = firstValue(headers['retry-after']);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#keptBytes < SNIPPET_BYTES) {
      this.#kept.push(chunk);
      this.#keptBytes += chunk.length;
    }
    this.#readBytes += chunk.length;
    // Aborting destroys the connection: an endless body ends here, and the answer stands.
    if (this.#readBytes > DISCARD_LIMIT_BYTES) {
      this.#answer();
      controller.abort(new Error('response body too large'));
    }
  }

  onResponseEnd(): void {
    this.#answer();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.#status !== null) this.#answer();
    else this.#finish({ status: null, responseSnippet: '', error: this.#classify(err) });
  }

  #answer(): void {
    const status = this.#status as number;
    const result: Omit<AttemptResult, 'durationMs'> = {
      status,
      responseSnippet:
        this.#keptBytes === 0
          ? ''
          : Buffer.concat(this.#kept, Math.min(this.#keptBytes, SNIPPET_BYTES)).toString('utf8'),
    };
    if (this.#retryAfter !== undefined) result.retryAfter = this.#retryAfter;
    if (this.#headers !== undefined) result.responseHeaders = this.#headers;
    if (status < 200 || status >= 300) {
      result.error = { type: 'http', message: `HTTP ${status}` };
      if (isFinalStatus(status, this.#retry.finalStatuses)) result.final = true;
    }
    this.#finish(result);
  }

  #timeout(): void {
    if (this.#status !== null) this.#answer();
    const error: AttemptError = { type: 'timeout', message: `no response within ${this.#retry.timeoutSec}s` };
    this.#finish({ status: null, responseSnippet: '', error });
    // Before a connection, `onRequestStart` aborts instead; after an answer, the body is cut short.
    this.#controller?.abort(new Error('attempt timed out'));
  }

  #finish(result: Omit<AttemptResult, 'durationMs'>): void {
    const resolve = this.#resolve;
    if (resolve === null) return;
    this.#resolve = null;
    clearTimeout(this.#timer);
    this.#kept = [];
    resolve({ ...result, durationMs: performance.now() - this.#started });
  }
}

function firstValue(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}

function classify(err: unknown): AttemptError {
  const code = errorCode(err);
  // A TLS failure means the receiver never saw the request: nothing reached it, like a refused connection.
  const type =
    code !== undefined && (CONNECT_ERROR_CODES.has(code) || isTlsFailureCode(code)) ? 'connect' : 'network';
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
  // OpenSSL's messages carry its error queue ("80CC…:error:0A00045C:SSL routines:…:file.c:1605:");
  // its `reason` ("tlsv13 alert certificate required") is the part that tells an operator anything.
  const message = err instanceof Error ? err.message : String(err);
  const reason = (err as { reason?: unknown }).reason;
  return OPENSSL_QUEUE.test(message) && typeof reason === 'string' && reason !== '' ? reason : message;
}
