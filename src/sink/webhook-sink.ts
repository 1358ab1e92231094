import type { Logger } from 'pino';
import type { ErrorCode } from '../errors.js';
import { formatLsn } from '../source/change.js';
import type { DeliveryEvent } from './delivery-event.js';
import { KeyedQueue } from './keyed-queue.js';
import { type AttemptResult, WebhookClient } from './webhook-client.js';

const DELIVERY_FAILED: ErrorCode = 'WALHOOK_ERR_DELIVERY_FAILED';

type Outcome = 'delivered' | 'retry' | 'failed';

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

export interface WebhookSinkOptions {
  logger: Logger;
  userAgent: string;
  /** Requests in flight per trigger, across all its ordering keys. */
  concurrency?: number;
}

/**
 * Delivers events with Hasura's retry semantics, one at a time per ordering key. Each trigger has its own
 * queue and concurrency budget so a slow receiver never holds back another trigger's webhooks.
 */
export class WebhookSink {
  readonly #logger: Logger;
  readonly #client: WebhookClient;
  readonly #concurrency: number | undefined;
  readonly #queues = new Map<string, KeyedQueue<Job>>();
  readonly #drains = new Set<DrainWaiter>();
  /** Wakes each event waiting between retries, so `close` need not wait for the interval. */
  readonly #sleepers = new Set<() => void>();
  #inFlight = 0;
  #nextSeq = 0;
  #closing: Promise<void> | undefined;

  constructor(options: WebhookSinkOptions) {
    this.#logger = options.logger.child({ component: 'sink' });
    this.#client = new WebhookClient({ userAgent: options.userAgent });
    this.#concurrency = options.concurrency;
  }

  /** Events submitted and not yet settled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  submit(event: DeliveryEvent): void {
    // Left unsettled on purpose: the checkpoint has not passed it, so a restart replays it from the WAL.
    if (this.#closing !== undefined) return;
    const trigger = event.target.trigger;
    let queue = this.#queues.get(trigger);
    if (queue === undefined) {
      queue = new KeyedQueue<Job>((job, done) => this.#start(job, done), { concurrency: this.#concurrency });
      this.#queues.set(trigger, queue);
    }
    this.#inFlight++;
    queue.push(event.orderingKey, { event, seq: this.#nextSeq++ });
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
   * Stops without settling anything still pending: queued events, events waiting to retry and requests in
   * flight are dropped, and the source replays them after a restart.
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

  #start(job: Job, done: () => void): void {
    this.#deliver(job.event)
      .then((outcome) => {
        if (outcome !== undefined) this.#settle(job, outcome);
      })
      .catch((err: unknown) => {
        this.#logger.error(
          { err, event_id: job.event.id, trigger: job.event.target.trigger },
          'webhook delivery crashed',
        );
      })
      .finally(done);
  }

  /** Resolves with the final outcome, or undefined when the sink closed first. */
  async #deliver(event: DeliveryEvent): Promise<'delivered' | 'failed' | undefined> {
    const { numRetries, intervalSec } = event.target.retry;
    for (let currentRetry = 0; ; currentRetry++) {
      const result = await this.#client.post(event.target, event.body(currentRetry));
      if (this.#closing !== undefined) return undefined;
      const outcome: Outcome =
        result.error === undefined ? 'delivered' : currentRetry < numRetries ? 'retry' : 'failed';
      this.#logAttempt(event, currentRetry, result, outcome);
      if (outcome === 'failed') this.#logFailure(event, currentRetry + 1, result);
      if (outcome !== 'retry') return outcome;
      await this.#sleep(intervalSec * 1000);
      if (this.#closing !== undefined) return undefined;
    }
  }

  #settle(job: Job, outcome: 'delivered' | 'failed'): void {
    this.#inFlight--;
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
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }

  #logAttempt(event: DeliveryEvent, currentRetry: number, result: AttemptResult, outcome: Outcome): void {
    if (!this.#logger.isLevelEnabled('info')) return;
    // Neither the URL nor the headers: both can carry credentials.
    this.#logger.info(
      {
        event_id: event.id,
        trigger: event.target.trigger,
        table: event.table,
        op: event.op,
        lsn: formatLsn(event.commitLsn),
        attempt: currentRetry + 1,
        current_retry: currentRetry,
        status: result.status,
        duration_ms: Math.round(result.durationMs * 100) / 100,
        outcome,
        error: result.error,
      },
      'delivery attempt',
    );
  }

  #logFailure(event: DeliveryEvent, attempts: number, result: AttemptResult): void {
    this.#logger.error(
      {
        code: DELIVERY_FAILED,
        event_id: event.id,
        trigger: event.target.trigger,
        table: event.table,
        op: event.op,
        lsn: formatLsn(event.commitLsn),
        attempts,
        status: result.status,
        error: result.error,
        response: result.responseSnippet === '' ? undefined : result.responseSnippet,
      },
      `webhook delivery failed after ${attempts} attempts`,
    );
  }
}
