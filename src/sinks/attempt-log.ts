import type { Logger } from 'pino';
import type { Outcome } from '../core/delivery-event.js';
import type { ErrorCode } from '../core/errors.js';
import { formatLsn } from '../core/lsn.js';
import { RepeatLimiter } from '../core/rate-limit.js';
import { logExcerpt } from '../core/redact.js';
import type { AttemptResult, Delivery, Request, SinkPlugin, Transport } from './plugin.js';
import type { AttemptTrace } from './trace.js';

const DELIVERY_FAILED: ErrorCode = 'WALHOOK_ERR_DELIVERY_FAILED';
/** Answers meaning the receiver refuses walhook's credentials: retries will not fix them, an operator will. */
const AUTH_STATUSES = new Set([401, 403]);
/** Characters of a response body kept in a log line; the dead letter keeps 4 KiB of it. */
const RESPONSE_EXCERPT_CHARS = 200;
/** With `failureLog: once-a-minute`, a failure repeating for every event is logged at warn this often. */
const WARN_INTERVAL_MS = 60_000;

/** The sink of the events in a request. */
export interface Sender {
  readonly plugin: SinkPlugin;
  readonly transport: Transport;
}

/** The delivery lines of every sink: one per attempt, and one more for an event given up. */
export class AttemptLog {
  readonly #logger: Logger;
  readonly #repeats = new RepeatLimiter(WARN_INTERVAL_MS);

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  // Arguments rather than an object of them: this runs for every attempt, and the line mostly is not written.
  attempt(
    deliveries: readonly Delivery[],
    sender: Sender,
    request: Request,
    result: AttemptResult,
    outcome: Outcome,
    currentRetry: number,
    retryInMs: number | undefined,
    trace: AttemptTrace,
  ): void {
    let level: 'debug' | 'warn' | 'error' = 'debug';
    let suppressed: number | null = null;
    if (outcome !== 'delivered') {
      if (sender.plugin.failureLog === 'each') {
        level = result.status !== null && AUTH_STATUSES.has(result.status) ? 'error' : 'warn';
      } else {
        const { trigger } = (deliveries[0] as Delivery).event.target;
        suppressed = this.#repeats.take(`${trigger}\u0000${result.error?.type}`);
        if (suppressed !== null) level = 'warn';
      }
    }
    if (!this.#logger.isLevelEnabled(level)) return;
    // Neither the URL nor the headers: both can carry credentials.
    this.#logger[level](
      {
        ...deliveryFields(deliveries),
        attempt: currentRetry + 1,
        current_retry: currentRetry,
        status: result.status,
        duration_ms: Math.round(result.durationMs * 100) / 100,
        outcome,
        error: result.error,
        retry_in_ms: retryInMs,
        response: responseExcerpt(deliveries, sender, result),
        ...sender.transport.logFields?.(request, result),
        suppressed: suppressed || undefined,
        trace_id: trace.traceId,
        span_id: trace.spanId,
      },
      'delivery attempt',
    );
  }

  /** The events of a request ran out of attempts, or got a final answer: they go to the dead-letter store. */
  failed(
    deliveries: readonly Delivery[],
    sender: Sender,
    result: AttemptResult,
    attempts: number,
    trace: AttemptTrace,
  ): void {
    this.#logger.error(
      {
        code: DELIVERY_FAILED,
        ...deliveryFields(deliveries),
        attempts,
        status: result.status,
        final_status: result.final === true,
        error: result.error,
        response: responseExcerpt(deliveries, sender, result),
        trace_id: trace.traceId,
      },
      `${sender.plugin.type} delivery failed after ${attempts} attempt${attempts === 1 ? '' : 's'}`,
    );
  }

  deadLetterRefused(deliveries: readonly Delivery[], err: unknown, retryInMs: number): void {
    const { event } = deliveries[0] as Delivery;
    // Not settling is what keeps the event: the checkpoint cannot pass it, so a restart replays it.
    this.#logger.error(
      { err, event_id: event.id, trigger: event.target.trigger, retry_in_ms: retryInMs },
      'cannot store a failed event in the dead-letter store; retrying',
    );
  }

  crashed(deliveries: readonly Delivery[], err: unknown): void {
    this.#logger.error({ err, ...deliveryFields(deliveries) }, 'delivery crashed');
  }
}

/** What names the events of a request in every line about it: the first event, and the count of a batch. */
function deliveryFields(deliveries: readonly Delivery[]) {
  const { event } = deliveries[0] as Delivery;
  return {
    event_id: event.id,
    trigger: event.target.trigger,
    table: event.table,
    op: event.op,
    lsn: formatLsn(event.commitLsn),
    events: deliveries.length === 1 ? undefined : deliveries.length,
  };
}

/** The start of the response for a log line, or undefined (no field) when the body was empty. */
function responseExcerpt(deliveries: readonly Delivery[], sender: Sender, result: AttemptResult) {
  if (result.responseSnippet === '') return undefined;
  const secrets = sender.plugin.secrets?.((deliveries[0] as Delivery).event.target);
  return logExcerpt(result.responseSnippet, RESPONSE_EXCERPT_CHARS, secrets);
}
