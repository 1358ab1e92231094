import type { Logger } from 'pino';
import type { DeliveryEvent, NatsTarget } from '../../core/delivery-event.js';
import { RepeatLimiter } from '../../core/rate-limit.js';
import { formatLsn } from '../../source/change.js';
import { InFlight } from '../in-flight.js';
import { KeyedQueue, type Run } from '../keyed-queue.js';
import { backoffMs } from '../retry-policy.js';
import { RetryWaits } from '../retry-waits.js';
import type { Sink } from '../sink.js';
import { attemptTrace } from '../trace.js';
import type { AttemptInfo } from '../webhook-sink.js';
import type { Message, PublishResult } from './client.js';
import { NatsConnections } from './connections.js';

/** An event whose trigger publishes to JetStream. */
export type NatsEvent = DeliveryEvent<NatsTarget>;

/**
 * Waits between attempts: quick at first, for a leader election, then every few seconds at most, so a
 * broker back from an outage is found soon and events flow again without an operator.
 */
const RETRY = { backoff: 'exponential', intervalSec: 0.1, maxIntervalSec: 5 } as const;
/** A failure repeating for every event is logged at warn once per trigger, kind and interval. */
const WARN_INTERVAL_MS = 60_000;

export interface NatsSinkOptions {
  logger: Logger;
  /** Called once per publish attempt, for metrics. */
  onAttempt?: (info: AttemptInfo) => void;
}

interface Job {
  event: NatsEvent;
  /** Submission number, so `drain` can wait for exactly the events submitted before it. */
  seq: number;
}

/**
 * Publishes events to JetStream and settles each only on the stream's acknowledgement: that is what lets
 * the checkpoint pass it. A failed publish is retried, with the same message id, until it is
 * acknowledged; nothing is dead-lettered, so while the broker is away the in-flight limits pause the
 * replication stream and the backlog stays in Postgres's WAL. Ordering and concurrency follow the
 * trigger's settings, as for webhooks: a row's events go one at a time, each after the previous one's ack.
 */
export class NatsSink implements Sink<NatsEvent> {
  readonly #logger: Logger;
  readonly #onAttempt: NatsSinkOptions['onAttempt'];
  readonly #connections: NatsConnections;
  readonly #queues = new Map<string, KeyedQueue<Job>>();
  readonly #inFlight = new InFlight();
  readonly #waits = new RetryWaits();
  readonly #warnings = new RepeatLimiter(WARN_INTERVAL_MS);
  #closing: Promise<void> | undefined;

  constructor(options: NatsSinkOptions) {
    this.#logger = options.logger.child({ component: 'nats' });
    this.#onAttempt = options.onAttempt;
    this.#connections = new NatsConnections(this.#logger);
  }

  get inFlight(): number {
    return this.#inFlight.events;
  }

  get inFlightBytes(): number {
    return this.#inFlight.bytes;
  }

  submit(event: NatsEvent): void {
    if (this.#closing !== undefined) return;
    const { target } = event;
    let queue = this.#queues.get(target.trigger);
    if (queue === undefined) {
      queue = new KeyedQueue<Job>((job, run) => this.#start(job, run), { concurrency: target.concurrency });
      this.#queues.set(target.trigger, queue);
    }
    const seq = this.#inFlight.submitted(event.bytes);
    const { ordering } = target;
    const key = ordering === 'row' ? event.orderingKey : ordering === 'trigger' ? '' : String(seq);
    queue.push(key, { event, seq });
  }

  drain(timeoutMs: number): Promise<boolean> {
    if (this.#closing !== undefined) return Promise.resolve(this.#inFlight.events === 0);
    return this.#inFlight.drain(timeoutMs);
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    for (const queue of this.#queues.values()) queue.clear();
    this.#waits.wakeAll();
    this.#inFlight.abandon();
    await this.#connections.close();
  }

  #start(job: Job, run: Run): void {
    this.#publish(job.event)
      .then((acknowledged) => {
        if (acknowledged) this.#settle(job);
      })
      .catch((err: unknown) => {
        this.#logger.error(
          { err, event_id: job.event.id, trigger: job.event.target.trigger },
          'publish crashed',
        );
      })
      .finally(run.done);
  }

  /** Resolves true once JetStream acknowledged the event, false when the sink closed first. */
  async #publish(event: NatsEvent): Promise<boolean> {
    const { target } = event;
    const message: Message = {
      subject: target.subject.render(event.relation, event.op),
      // The event as a webhook receives it on its first attempt; JetStream de-duplicates by id.
      body: event.body(0),
      id: event.id,
      trigger: target.trigger,
      traceparent: '',
      stream: target.stream,
      timeoutMs: target.ackTimeoutMs,
    };
    for (let retry = 0; ; retry++) {
      const trace = attemptTrace(event.id, retry + 1);
      message.traceparent = trace.traceparent;
      const started = performance.now();
      let result: PublishResult;
      try {
        const connection = await this.#connections.get(target.servers);
        result = await connection.publish(message);
      } catch (err) {
        result = { error: { type: 'connect', message: err instanceof Error ? err.message : String(err) } };
      }
      if (this.#closing !== undefined) return false;
      const retryInMs = result.ack === undefined ? Math.round(backoffMs(RETRY, retry)) : undefined;
      this.#record(event, message, retry, performance.now() - started, result, trace, retryInMs);
      if (result.ack !== undefined) return true;
      // Unlike a webhook's, a broker's failures are rarely one event's: the event keeps its slot while
      // it waits, so an outage costs `concurrency` retrying publishes per trigger, not one per event in
      // flight.
      await this.#waits.sleep(retryInMs ?? 0);
      if (this.#closing !== undefined) return false;
    }
  }

  #settle(job: Job): void {
    this.#inFlight.settled(job.seq, job.event.bytes);
    job.event.settle('delivered');
  }

  #record(
    event: NatsEvent,
    message: Message,
    retry: number,
    durationMs: number,
    result: PublishResult,
    trace: ReturnType<typeof attemptTrace>,
    retryInMs: number | undefined,
  ): void {
    const { error } = result;
    const outcome = error === undefined ? 'delivered' : 'retry';
    this.#onAttempt?.({
      trigger: event.target.trigger,
      events: 1,
      currentRetry: retry,
      outcome,
      status: null,
      errorType: error?.type ?? null,
      durationMs,
    });
    let level: 'debug' | 'warn' = 'debug';
    let suppressed: number | null = null;
    if (error !== undefined) {
      suppressed = this.#warnings.take(`${event.target.trigger}\u0000${error.type}`);
      if (suppressed !== null) level = 'warn';
    }
    if (!this.#logger.isLevelEnabled(level)) return;
    this.#logger[level](
      {
        event_id: event.id,
        trigger: event.target.trigger,
        table: event.table,
        op: event.op,
        lsn: formatLsn(event.commitLsn),
        subject: message.subject,
        attempt: retry + 1,
        duration_ms: Math.round(durationMs * 100) / 100,
        outcome,
        error,
        retry_in_ms: retryInMs,
        stream: result.ack?.stream,
        seq: result.ack?.seq,
        duplicate: result.ack?.duplicate || undefined,
        suppressed: suppressed || undefined,
        trace_id: trace.traceId,
        span_id: trace.spanId,
      },
      'delivery attempt',
    );
  }
}
