import type { Logger } from 'pino';
import type { DeliveryEvent, WebhookTarget } from '../core/delivery-event.js';
import type { ErrorCode } from '../core/errors.js';
import { headerSecrets, logExcerpt } from '../core/redact.js';
import { formatLsn } from '../source/change.js';
import { Batcher, laneOf } from './batcher.js';
import { InFlight } from './in-flight.js';
import { KeyedQueue, type Run } from './keyed-queue.js';
import { backoffMs, isFinalStatus, retryDelayMs } from './retry-policy.js';
import { RetryWaits } from './retry-waits.js';
import { batchMessageId, signatureHeaders } from './signature.js';
import type { Sink } from './sink.js';
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

export type Outcome = 'delivered' | 'retry' | 'failed';

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
  /** Events in the POST: 1, or the size of a batch. */
  events: number;
  currentRetry: number;
  outcome: Outcome;
  status: number | null;
  errorType: AttemptErrorType | null;
  durationMs: number;
}

/** An event whose trigger POSTs to a webhook. */
export type WebhookEvent = DeliveryEvent<WebhookTarget>;

/** One attempt as it went: what was sent and what came back. */
export interface SentAttempt {
  at: Date;
  currentRetry: number;
  outcome: Outcome;
  /** The exact body sent; the same string the request carried, not a copy. */
  body: string;
  /** The attempt's own headers (trace context, signature); the target's are the same every time. */
  headers: Readonly<Record<string, string>>;
  result: AttemptResult;
}

/** Keeps what attempts sent and received (the console's recent deliveries). */
export interface DeliveryRecorder {
  /** `events`: the events of the POST, one or a batch's. */
  attempt(events: readonly WebhookEvent[], attempt: SentAttempt): void;
}

export interface WebhookSinkOptions {
  logger: Logger;
  userAgent: string;
  /** Stores a finally failed event; the event settles only once this resolved. */
  deadLetter(event: WebhookEvent, failure: FinalFailure): Promise<void>;
  /** Called once per attempt, for metrics. */
  onAttempt?: (info: AttemptInfo) => void;
  /** Absent when nothing keeps deliveries, so the hot path pays nothing for them. */
  recorder?: DeliveryRecorder | undefined;
}

interface Job {
  event: WebhookEvent;
  /** Submission number, so `drain` can wait for exactly the events submitted before it. */
  seq: number;
}

/** The events of one POST: one event, or a batch of a trigger with `batch.max_events` above 1. */
type Parcel = readonly Job[];

/** A trigger's delivery state: its queue of parcels and, when it batches, the batches being gathered. */
interface TriggerLine {
  queue: KeyedQueue<Parcel>;
  batcher: Batcher<Job> | null;
}

/**
 * Delivers events with Hasura's retry semantics in each trigger's ordering mode. Each trigger has its own
 * queue and concurrency budget so a slow receiver never holds back another trigger's webhooks. A slot is
 * held only while a request is out: an event waiting to retry keeps its key (its row, or its whole trigger
 * in `trigger` mode) blocked but lets other keys use the slot.
 */
export class WebhookSink implements Sink<WebhookEvent> {
  readonly #logger: Logger;
  readonly #client: WebhookClient;
  readonly #deadLetter: WebhookSinkOptions['deadLetter'];
  readonly #onAttempt: WebhookSinkOptions['onAttempt'];
  readonly #recorder: DeliveryRecorder | undefined;
  readonly #lines = new Map<string, TriggerLine>();
  readonly #inFlight = new InFlight();
  readonly #waits = new RetryWaits();
  #closing: Promise<void> | undefined;

  constructor(options: WebhookSinkOptions) {
    this.#logger = options.logger.child({ component: 'sink' });
    this.#client = new WebhookClient({ userAgent: options.userAgent });
    this.#deadLetter = options.deadLetter;
    this.#onAttempt = options.onAttempt;
    this.#recorder = options.recorder;
  }

  /** Events submitted and not yet settled. */
  get inFlight(): number {
    return this.#inFlight.events;
  }

  /** The sum of `bytes` of the events submitted and not yet settled. */
  get inFlightBytes(): number {
    return this.#inFlight.bytes;
  }

  submit(event: WebhookEvent): void {
    // Left unsettled on purpose: the checkpoint has not passed it, so a restart replays it from the WAL.
    if (this.#closing !== undefined) return;
    const { target } = event;
    const line = this.#lines.get(target.trigger) ?? this.#openLine(event.target);
    const seq = this.#inFlight.submitted(event.bytes);
    const job: Job = { event, seq };
    const { ordering } = target;
    if (line.batcher === null) {
      // One key for the whole trigger serialises it; a key per event leaves only the concurrency cap.
      const key = ordering === 'row' ? event.orderingKey : ordering === 'trigger' ? '' : String(seq);
      line.queue.push(key, [job]);
    } else {
      // A row's events share a lane whose batches go one at a time, so they can never overtake each other.
      const lane = ordering === 'row' ? laneOf(event.orderingKey, target.concurrency) : '';
      line.batcher.add(lane, job);
    }
  }

  #openLine(target: WebhookTarget): TriggerLine {
    const queue = new KeyedQueue<Parcel>((parcel, run) => this.#start(parcel, run), {
      concurrency: target.concurrency,
    });
    const batcher =
      target.batch.maxEvents === 1
        ? null
        : new Batcher<Job>(target.batch, (lane, jobs) =>
            // Unordered batches need no lane of their own: each may go as soon as a slot is free.
            queue.push(target.ordering === 'none' ? String(jobs[0]?.seq) : lane, jobs),
          );
    const line = { queue, batcher };
    this.#lines.set(target.trigger, line);
    return line;
  }

  /** Resolves true once every event submitted so far is settled, false if `timeoutMs` passes first. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.#closing !== undefined) return Promise.resolve(this.#inFlight.events === 0);
    return this.#inFlight.drain(timeoutMs);
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
    for (const { queue, batcher } of this.#lines.values()) {
      queue.clear();
      batcher?.clear();
    }
    this.#waits.wakeAll();
    this.#inFlight.abandon();
    await this.#client.close();
  }

  #start(parcel: Parcel, run: Run): void {
    this.#deliver(parcel, run)
      .then((outcome) => {
        if (outcome !== undefined) for (const job of parcel) this.#settle(job, outcome);
      })
      .catch((err: unknown) => {
        this.#logger.error(
          { err, ...parcelFields(parcel), trigger: parcel[0]?.event.target.trigger },
          'webhook delivery crashed',
        );
      })
      .finally(run.done);
  }

  /** Resolves with the final outcome, or undefined when the sink closed first. */
  async #deliver(parcel: Parcel, run: Run): Promise<'delivered' | 'failed' | undefined> {
    const { target } = (parcel[0] as Job).event;
    const { retry } = target;
    const batched = target.batch.maxEvents > 1;
    // Worked out only for signed triggers: an unsigned trigger's hot path pays nothing for signing.
    const messageId = target.secrets.length === 0 ? null : parcelMessageId(parcel, batched);
    const firstAttemptAt = new Date();
    for (let currentRetry = 0; ; currentRetry++) {
      const attemptAt = currentRetry === 0 ? firstAttemptAt : new Date();
      const body = batched ? batchBody(parcel, currentRetry) : (parcel[0] as Job).event.body(currentRetry);
      const trace = attemptTrace((parcel[0] as Job).event.id, currentRetry + 1);
      const headers = attemptHeaders(target, messageId, body, trace.traceparent);
      const result = await this.#client.post(target, body, headers);
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
      this.#recordAttempt(parcel, currentRetry, trace, result, outcome, retryInMs);
      this.#recorder?.attempt(
        parcel.map((job) => job.event),
        { at: attemptAt, currentRetry, outcome, body, headers, result },
      );
      if (outcome === 'delivered') return outcome;

      // Waiting, for a retry or for the dead-letter store, needs no slot; the key stays held until settled.
      run.pause();
      if (outcome === 'failed') {
        this.#logFailure(parcel, currentRetry + 1, trace, result, finalStatus);
        for (const { event } of parcel) {
          const failure: FinalFailure = {
            attempts: currentRetry + 1,
            lastStatus: result.status,
            lastError: result.error ?? null,
            responseSnippet: result.responseSnippet,
            firstAttemptAt,
            lastAttemptAt: attemptAt,
            // Each event of a batch becomes its own dead letter, still in the envelope its receiver reads.
            body: batched ? batchBody([{ event, seq: 0 }], currentRetry) : body,
          };
          if (!(await this.#storeDeadLetter(event, failure))) return undefined;
        }
        return outcome;
      }
      await this.#waits.sleep(retryInMs ?? 0);
      if (this.#closing !== undefined) return undefined;
      await new Promise<void>((resolve) => run.resume(resolve));
    }
  }

  /** Retries the dead-letter store until it accepts the event; false when the sink closed first. */
  async #storeDeadLetter(event: WebhookEvent, failure: FinalFailure): Promise<boolean> {
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
        await this.#waits.sleep(retryInMs);
        if (this.#closing !== undefined) return false;
      }
    }
  }

  #settle(job: Job, outcome: 'delivered' | 'failed'): void {
    this.#inFlight.settled(job.seq, job.event.bytes);
    job.event.settle(outcome);
  }

  #recordAttempt(
    parcel: Parcel,
    currentRetry: number,
    trace: AttemptTrace,
    result: AttemptResult,
    outcome: Outcome,
    retryInMs: number | undefined,
  ): void {
    const { target } = (parcel[0] as Job).event;
    this.#onAttempt?.({
      trigger: target.trigger,
      events: parcel.length,
      currentRetry,
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
        ...parcelFields(parcel),
        attempt: currentRetry + 1,
        current_retry: currentRetry,
        status: result.status,
        duration_ms: Math.round(result.durationMs * 100) / 100,
        outcome,
        error: result.error,
        retry_in_ms: retryInMs,
        response: responseExcerpt(target, result),
        trace_id: trace.traceId,
        span_id: trace.spanId,
      },
      'delivery attempt',
    );
  }

  #logFailure(
    parcel: Parcel,
    attempts: number,
    trace: AttemptTrace,
    result: AttemptResult,
    finalStatus: boolean,
  ): void {
    this.#logger.error(
      {
        code: DELIVERY_FAILED,
        ...parcelFields(parcel),
        attempts,
        status: result.status,
        final_status: finalStatus,
        error: result.error,
        response: responseExcerpt((parcel[0] as Job).event.target, result),
        trace_id: trace.traceId,
      },
      `webhook delivery failed after ${attempts} attempt${attempts === 1 ? '' : 's'}`,
    );
  }
}

/** The body of a batch: its events' bodies, in order, in one envelope. */
function batchBody(parcel: Parcel, currentRetry: number): string {
  let body = '{"events":[';
  for (let i = 0; i < parcel.length; i++) {
    body += (i === 0 ? '' : ',') + (parcel[i] as Job).event.body(currentRetry);
  }
  return `${body}]}`;
}

/** The Standard Webhooks message id of a POST: its event's id, or for a batch one derived from its events'. */
function parcelMessageId(parcel: Parcel, batched: boolean): string {
  if (!batched) return (parcel[0] as Job).event.id;
  return batchMessageId(parcel.map((job) => job.event.id));
}

/** An attempt's own headers: its trace context and, when its trigger signs, its signature of `body`. */
function attemptHeaders(
  target: WebhookTarget,
  messageId: string | null,
  body: string,
  traceparent: string,
): Record<string, string> {
  if (messageId === null) return { traceparent };
  // Signed per attempt: the body (its current_retry) and the timestamp are this attempt's.
  const headers = signatureHeaders(target.secrets, messageId, body);
  headers.traceparent = traceparent;
  return headers;
}

/** What names the events of a POST in every line about it: the first event, and the count of a batch. */
function parcelFields(parcel: Parcel) {
  const { event } = parcel[0] as Job;
  return {
    event_id: event.id,
    trigger: event.target.trigger,
    table: event.table,
    op: event.op,
    lsn: formatLsn(event.commitLsn),
    events: parcel.length === 1 ? undefined : parcel.length,
  };
}

/** The start of the response for a log line, or undefined (no field) when the body was empty. */
function responseExcerpt(target: WebhookTarget, result: AttemptResult): string | undefined {
  if (result.responseSnippet === '') return undefined;
  return logExcerpt(result.responseSnippet, RESPONSE_EXCERPT_CHARS, headerSecrets(target.headers));
}
