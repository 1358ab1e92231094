import type { Logger } from 'pino';
import type { ErrorCode } from '../errors.js';
import { headerSecrets, logExcerpt } from '../observability/redact.js';
import { formatLsn } from '../source/change.js';
import type { DeliveryEvent } from './delivery-event.js';
import { KeyedQueue, type Run } from './keyed-queue.js';
import { backoffMs, isFinalStatus, MAX_TIMER_MS, retryDelayMs } from './retry-policy.js';
import { type AttemptTrace, attemptTrace } from './trace.js';
import { type AttemptErrorType, type AttemptResult, WebhookClient } from './webhook-client.js';

export type { AttemptErrorType } from './webhook-client.js';

const DELIVERY_FAILED: ErrorCode = 'WALHOOK_ERR_DELIVERY_FAILED';

/** Answers meaning the receiver refuses walhook's credentials: retries will not fix them, an operator will. */
const AUTH_STATUSES = new Set([401, 403]);
/** Characters of a response body kept in a log line; the dead letter keeps 4 KiB of it. */
const RESPONSE_EXCERPT_CHARS = 200;

/** Retrying a failed dead-letter write: quick at first, then no more often than every 30 s. */
const DEAD_LETTER_RETRY = { backoff: 'exponential', intervalSec: 0.2, maxIntervalSec: 30 } as const;

type Outcome = 'delivered' | 'retry' | 'failed';

/** What the dead-letter store keeps about an event that will not be delivered. */
export interface FinalFailure {
  attempts: number;
  /** The last response status, or null when the last attempt got no response. */
  lastStatus: number | null;
  lastError: { type: AttemptErrorType; message: string } | null;
  /** The first 4 KiB of the last response body. */
  responseSnippet: string;
  firstAttemptAt: Date;
  /** When the last attempt started. */
  lastAttemptAt: Date;
  /** The exact body of the last attempt. */
  body: string;
}

export interface AttemptInfo {
  trigger: string;
  outcome: Outcome;
  status: number | null;
  errorType: AttemptErrorType | null;
  durationMs: number;
}

export interface WebhookSinkOptions {
  logger: Logger;
  userAgent: string;
  /** Stores a finally failed event; the event settles only once this resolved. */
  deadLetter(event: DeliveryEvent, failure: FinalFailure): Promise<void>;
  /** Called once per attempt, for metrics. */
  onAttempt?: (info: AttemptInfo) => void;
}

interface Job {
  event: DeliveryEvent;
  /** Submission number, so `drain` can wait for exactly the events submitted before it. */
  seq: number;
}

interface DrainWaiter {
  /** Waits for events with `seq` below this. */
  upTo: number;
  remaining: number;
  finish(drained: boolean): void;
}

/**
 * Delivers events with Hasura's retry semantics in each trigger's ordering mode. Each trigger has its own
 * queue and concurrency budget so a slow receiver never holds back another trigger's webhooks. A slot is
 * held only while a request is out: an event waiting to retry keeps its key (its row, or its whole trigger
 * in `trigger` mode) blocked but lets other keys use the slot.
 */
export class WebhookSink {
  readonly #logger: Logger;
  readonly #client: WebhookClient;
  readonly #deadLetter: WebhookSinkOptions['deadLetter'];
  readonly #onAttempt: WebhookSinkOptions['onAttempt'];
  readonly #queues = new Map<string, KeyedQueue<Job>>();
  readonly #drains = new Set<DrainWaiter>();
  /** Wakes each event waiting between retries, so `close` need not wait for the interval. */
  readonly #sleepers = new Set<() => void>();
  #inFlight = 0;
  #inFlightBytes = 0;
  #nextSeq = 0;
  #closing: Promise<void> | undefined;

  constructor(options: WebhookSinkOptions) {
    this.#logger = options.logger.child({ component: 'sink' });
    this.#client = new WebhookClient({ userAgent: options.userAgent });
    this.#deadLetter = options.deadLetter;
    this.#onAttempt = options.onAttempt;
  }

  /** Events submitted and not yet settled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The sum of `bytes` of the events submitted and not yet settled. */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  submit(event: DeliveryEvent): void {
    // Left unsettled on purpose: the checkpoint has not passed it, so a restart replays it from the WAL.
    if (this.#closing !== undefined) return;
    const { trigger, ordering, concurrency } = event.target;
    let queue = this.#queues.get(trigger);
    if (queue === undefined) {
      queue = new KeyedQueue<Job>((job, run) => this.#start(job, run), { concurrency });
      this.#queues.set(trigger, queue);
    }
    const seq = this.#nextSeq++;
    this.#inFlight++;
    this.#inFlightBytes += event.bytes;
    // One key for the whole trigger serialises it; a key per event leaves only the concurrency cap.
    const key = ordering === 'row' ? event.orderingKey : ordering === 'trigger' ? '' : String(seq);
    queue.push(key, { event, seq });
  }

  /** Resolves true once every event submitted so far is settled, false if `timeoutMs` passes first. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.#inFlight === 0) return Promise.resolve(true);
    if (this.#closing !== undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: DrainWaiter = {
        upTo: this.#nextSeq,
        remaining: this.#inFlight,
        finish: (drained) => {
          clearTimeout(timer);
          this.#drains.delete(waiter);
          resolve(drained);
        },
      };
      const timer = setTimeout(() => waiter.finish(false), timeoutMs);
      this.#drains.add(waiter);
    });
  }

  /**
   * Stops without settling anything still pending: queued events, events waiting to retry or for their
   * dead letter, and requests in flight are dropped, and the source replays them after a restart.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    for (const queue of this.#queues.values()) queue.clear();
    for (const wake of this.#sleepers) wake();
    for (const waiter of this.#drains) waiter.finish(false);
    await this.#client.close();
  }

  #start(job: Job, run: Run): void {
    this.#deliver(job.event, run)
      .then((outcome) => {
        if (outcome !== undefined) this.#settle(job, outcome);
      })
      .catch((err: unknown) => {
        this.#logger.error(
          { err, event_id: job.event.id, trigger: job.event.target.trigger },
          'webhook delivery crashed',
        );
      })
      .finally(run.done);
  }

  /** Resolves with the final outcome, or undefined when the sink closed first. */
  async #deliver(event: DeliveryEvent, run: Run): Promise<'delivered' | 'failed' | undefined> {
    const { retry } = event.target;
    const firstAttemptAt = new Date();
    for (let currentRetry = 0; ; currentRetry++) {
      const attemptAt = currentRetry === 0 ? firstAttemptAt : new Date();
      const body = event.body(currentRetry);
      const trace = attemptTrace(event.id, currentRetry + 1);
      const result = await this.#client.post(event.target, body, { traceparent: trace.traceparent });
      if (this.#closing !== undefined) return undefined;
      const finalStatus = result.status !== null && isFinalStatus(result.status, retry.finalStatuses);
      const outcome: Outcome =
        result.error === undefined
          ? 'delivered'
          : finalStatus || currentRetry >= retry.numRetries
            ? 'failed'
            : 'retry';
      const retryInMs =
        outcome === 'retry' ? Math.round(retryDelayMs(retry, currentRetry, result)) : undefined;
      this.#recordAttempt(event, currentRetry, trace, result, outcome, retryInMs);
      if (outcome === 'delivered') return outcome;

      // Waiting, for a retry or for the dead-letter store, needs no slot; the key stays held until settled.
      run.pause();
      if (outcome === 'failed') {
        this.#logFailure(event, currentRetry + 1, trace, result, finalStatus);
        const failure: FinalFailure = {
          attempts: currentRetry + 1,
          lastStatus: result.status,
          lastError: result.error ?? null,
          responseSnippet: result.responseSnippet,
          firstAttemptAt,
          lastAttemptAt: attemptAt,
          body,
        };
        return (await this.#storeDeadLetter(event, failure)) ? outcome : undefined;
      }
      await this.#sleep(retryInMs ?? 0);
      if (this.#closing !== undefined) return undefined;
      await new Promise<void>((resolve) => run.resume(resolve));
    }
  }

  /** Retries the dead-letter store until it accepts the event; false when the sink closed first. */
  async #storeDeadLetter(event: DeliveryEvent, failure: FinalFailure): Promise<boolean> {
    for (let retryIndex = 0; ; retryIndex++) {
      try {
        await this.#deadLetter(event, failure);
        return this.#closing === undefined;
      } catch (err) {
        if (this.#closing !== undefined) return false;
        const retryInMs = Math.round(backoffMs(DEAD_LETTER_RETRY, retryIndex));
        // Not settling is what keeps the event: the checkpoint cannot pass it, so a restart replays it.
        this.#logger.error(
          { err, event_id: event.id, trigger: event.target.trigger, retry_in_ms: retryInMs },
          'cannot store a failed event in the dead-letter store; retrying',
        );
        await this.#sleep(retryInMs);
        if (this.#closing !== undefined) return false;
      }
    }
  }

  #settle(job: Job, outcome: 'delivered' | 'failed'): void {
    this.#inFlight--;
    this.#inFlightBytes -= job.event.bytes;
    for (const waiter of this.#drains) {
      if (job.seq < waiter.upTo && --waiter.remaining === 0) waiter.finish(true);
    }
    job.event.settle(outcome);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.min(ms, MAX_TIMER_MS));
      this.#sleepers.add(wake);
    });
  }

  #recordAttempt(
    event: DeliveryEvent,
    currentRetry: number,
    trace: AttemptTrace,
    result: AttemptResult,
    outcome: Outcome,
    retryInMs: number | undefined,
  ): void {
    this.#onAttempt?.({
      trigger: event.target.trigger,
      outcome,
      status: result.status,
      errorType: result.error?.type ?? null,
      durationMs: result.durationMs,
    });
    const level =
      outcome === 'delivered'
        ? 'debug'
        : result.status !== null && AUTH_STATUSES.has(result.status)
          ? 'error'
          : 'warn';
    if (!this.#logger.isLevelEnabled(level)) return;
    // Neither the URL nor the headers: both can carry credentials.
    this.#logger[level](
      {
        ...eventFields(event),
        attempt: currentRetry + 1,
        current_retry: currentRetry,
        status: result.status,
        duration_ms: Math.round(result.durationMs * 100) / 100,
        outcome,
        error: result.error,
        retry_in_ms: retryInMs,
        response: responseExcerpt(event, result),
        trace_id: trace.traceId,
        span_id: trace.spanId,
      },
      'delivery attempt',
    );
  }

  #logFailure(
    event: DeliveryEvent,
    attempts: number,
    trace: AttemptTrace,
    result: AttemptResult,
    finalStatus: boolean,
  ): void {
    this.#logger.error(
      {
        code: DELIVERY_FAILED,
        ...eventFields(event),
        attempts,
        status: result.status,
        final_status: finalStatus,
        error: result.error,
        response: responseExcerpt(event, result),
        trace_id: trace.traceId,
      },
      `webhook delivery failed after ${attempts} attempt${attempts === 1 ? '' : 's'}`,
    );
  }
}

/** What names an event in every line about it. */
function eventFields(event: DeliveryEvent) {
  return {
    event_id: event.id,
    trigger: event.target.trigger,
    table: event.table,
    op: event.op,
    lsn: formatLsn(event.commitLsn),
  };
}

/** The start of the response for a log line, or undefined (no field) when the body was empty. */
function responseExcerpt(event: DeliveryEvent, result: AttemptResult): string | undefined {
  if (result.responseSnippet === '') return undefined;
  return logExcerpt(result.responseSnippet, RESPONSE_EXCERPT_CHARS, headerSecrets(event.target.headers));
}
