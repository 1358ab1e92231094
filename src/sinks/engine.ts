import type { DeliveryEvent, DeliveryTarget, Outcome } from '../core/delivery-event.js';
import { maskSecrets } from '../core/redact.js';
import { AttemptLog } from './attempt-log.js';
import { Batcher, laneOf } from './batcher.js';
import type { EngineOptions, FinalFailure } from './engine-hooks.js';
import { InFlight } from './in-flight.js';
import { KeyedQueue, type Run } from './keyed-queue.js';
import type { AttemptResult, Delivery, Request, SinkPlugin, Transport } from './plugin.js';
import { sinkPlugin } from './registry.js';
import { backoffMs, retryDelayMs } from './retry-policy.js';
import { RetryWaits } from './retry-waits.js';
import { attemptTrace } from './trace.js';
import { TriggerPauses } from './trigger-pauses.js';

/** Retrying a failed dead-letter write: quick at first, then no more often than every 30 s. */
const DEAD_LETTER_RETRY = { backoff: 'exponential', intervalSec: 0.2, maxIntervalSec: 30 } as const;
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Events submitted and not yet settled, and the sum of their `bytes`. */
export interface InFlightCount {
  events: number;
  bytes: number;
}

/** An event submitted and not yet settled. */
interface Job extends Delivery {
  /** Submission number, so `drain` can wait for exactly the events submitted before it. */
  readonly seq: number;
  readonly line: Line;
}

/** The events of one request: one event, or a batch of a trigger whose target batches. */
type Parcel = readonly Job[];

/** A trigger's delivery state: its sink, its queue of parcels, its open batches, its in-flight count. */
interface Line {
  /** The definition its events were made under; a reloaded trigger gets a new line. */
  readonly target: DeliveryTarget;
  readonly plugin: SinkPlugin;
  readonly transport: Transport;
  readonly queue: KeyedQueue<Parcel>;
  readonly batcher: Batcher<Job> | null;
  readonly count: InFlightCount;
}

const NOTHING_IN_FLIGHT: Readonly<InFlightCount> = Object.freeze({ events: 0, bytes: 0 });

/**
 * Delivers events to their targets' sinks, whatever the sink. Each trigger has its own queue and
 * concurrency budget so a slow receiver never holds back another trigger; its ordering mode decides
 * which events may overlap. Failed attempts are retried by the trigger's policy, and an event that runs
 * out of attempts settles only once the dead-letter store holds it. Each event settles exactly once,
 * and only then leaves the in-flight counts that pause the replication stream.
 */
export class DeliveryEngine {
  readonly #options: EngineOptions;
  readonly #plugin: (type: string) => SinkPlugin;
  readonly #log: AttemptLog;
  readonly #transports = new Map<string, Transport>();
  readonly #lines = new Map<string, Line>();
  /**
   * Lines of triggers since changed by a reload, until their events settle: those finish under the
   * definition they were made with, beside the new line's.
   */
  readonly #retired = new Set<Line>();
  readonly #inFlight = new InFlight();
  readonly #waits = new RetryWaits();
  readonly #pauses = new TriggerPauses();
  /** Why each blocked source of a sink (a broker connection) blocks publishers. */
  readonly #blocked = new Map<string, string>();
  #closing: Promise<void> | undefined;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.#plugin = options.plugin ?? sinkPlugin;
    this.#log = new AttemptLog(options.logger.child({ component: 'sink' }));
  }

  /** Events submitted and not yet settled. */
  get inFlight(): number {
    return this.#inFlight.events;
  }

  /** The sum of `bytes` of the events submitted and not yet settled. */
  get inFlightBytes(): number {
    return this.#inFlight.bytes;
  }

  /** A trigger's events submitted and not yet settled; read it, do not keep it. */
  inFlightOf(trigger: string): Readonly<InFlightCount> {
    const count = this.#lines.get(trigger)?.count ?? NOTHING_IN_FLIGHT;
    if (this.#retired.size === 0) return count;
    const sum = { ...count };
    for (const line of this.#retired) {
      if (line.target.trigger !== trigger) continue;
      sum.events += line.count.events;
      sum.bytes += line.count.bytes;
    }
    return sum;
  }

  /** Why a sink's broker blocks publishers (the first such source's reason), or null when none does. */
  get blockedBy(): string | null {
    for (const reason of this.#blocked.values()) return reason;
    return null;
  }

  submit(event: DeliveryEvent): void {
    // Left unsettled on purpose: the checkpoint has not passed it, so a restart replays it from the WAL.
    if (this.#closing !== undefined) return;
    const { target } = event;
    const line = this.#lines.get(target.trigger) ?? this.#openLine(target);
    const seq = this.#inFlight.submitted(event.bytes);
    line.count.events++;
    line.count.bytes += event.bytes;
    const job: Job = { event, seq, line };
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

  /**
   * A trigger was changed or removed by a reload: the events it has in flight finish on its line as
   * they are (queue, ordering, concurrency, retries of the old definition), and its next event opens a
   * new line with that event's target.
   */
  retire(trigger: string): void {
    const line = this.#lines.get(trigger);
    if (line === undefined) return;
    this.#lines.delete(trigger);
    if (line.count.events > 0) this.#retired.add(line);
  }

  /**
   * Starts no new attempt of the trigger's events until `resumeTrigger`: they stay queued (and in
   * flight, so a long pause fills the in-flight limits), attempts already sent finish, and a retry
   * due meanwhile waits. Kept by name, so it holds the lines of a reloaded trigger too. False when it
   * was paused already.
   */
  pauseTrigger(trigger: string): boolean {
    return this.#pauses.pause(trigger);
  }

  /** The paused trigger's waiting attempts start again in the order they were due. False when it was not paused. */
  resumeTrigger(trigger: string): boolean {
    return this.#pauses.resume(trigger);
  }

  isPaused(trigger: string): boolean {
    return this.#pauses.isPaused(trigger);
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
    for (const { queue, batcher } of [...this.#lines.values(), ...this.#retired]) {
      queue.clear();
      batcher?.clear();
    }
    this.#waits.wakeAll();
    this.#pauses.openAll();
    this.#inFlight.abandon();
    await Promise.all([...this.#transports.values()].map((transport) => transport.close()));
  }

  #openLine(target: DeliveryTarget): Line {
    const plugin = this.#plugin(target.type);
    let transport = this.#transports.get(target.type);
    if (transport === undefined) {
      transport = plugin.open({
        logger: this.#options.logger,
        userAgent: this.#options.userAgent,
        blocked: (source, reason) => this.#sinkBlocked(`${target.type} ${source}`, reason),
      });
      this.#transports.set(target.type, transport);
    }
    const queue = new KeyedQueue<Parcel>((parcel, run) => this.#start(parcel, run), {
      concurrency: target.concurrency,
    });
    const { batch } = target;
    const batcher =
      batch === undefined || batch.maxEvents === 1
        ? null
        : new Batcher<Job>(batch, (lane, jobs) =>
            // Unordered batches need no lane of their own: each may go as soon as a slot is free.
            queue.push(target.ordering === 'none' ? String(jobs[0]?.seq) : lane, jobs),
          );
    const line: Line = { target, plugin, transport, queue, batcher, count: { events: 0, bytes: 0 } };
    this.#lines.set(target.trigger, line);
    return line;
  }

  #sinkBlocked(source: string, reason: string | null): void {
    if ((this.#blocked.get(source) ?? null) === reason) return;
    if (reason === null) this.#blocked.delete(source);
    else this.#blocked.set(source, reason);
    this.#options.onBlocked?.();
  }

  #start(parcel: Parcel, run: Run): void {
    this.#deliver(parcel, run)
      .then((outcome) => {
        if (outcome !== undefined) for (const job of parcel) this.#settle(job, outcome);
      })
      .catch((err: unknown) => this.#log.crashed(parcel, err))
      .finally(run.done);
  }

  /** Resolves with the final outcome, or undefined when the engine closed first. */
  async #deliver(parcel: Parcel, run: Run): Promise<'delivered' | 'failed' | undefined> {
    const first = parcel[0] as Job;
    const { line } = first;
    const { plugin, transport } = line;
    const { target } = first.event;
    const { retry } = target;
    let firstAttemptAt: Date | undefined;
    for (let currentRetry = 0; ; currentRetry++) {
      // Its key (and slot) stay held while paused: nothing of the trigger may overtake it.
      if (this.#pauses.isPaused(target.trigger) && !(await this.#unpaused(target.trigger))) return undefined;
      const attemptAt = new Date();
      firstAttemptAt ??= attemptAt;
      const trace = attemptTrace(first.event.id, currentRetry + 1, first.event.trace);
      const request = transport.request(parcel, currentRetry, trace.traceparent);
      const result = await transport.send(request);
      if (this.#closing !== undefined) return undefined;
      const outcome: Outcome =
        result.error === undefined
          ? 'delivered'
          : result.final === true || currentRetry >= retry.numRetries
            ? 'failed'
            : 'retry';
      const retryInMs =
        outcome === 'retry' ? Math.round(retryDelayMs(retry, currentRetry, result)) : undefined;
      this.#options.onAttempt({
        trigger: target.trigger,
        events: parcel.length,
        currentRetry,
        outcome,
        status: result.status,
        errorType: result.error?.type ?? null,
        durationMs: result.durationMs,
      });
      this.#log.attempt(parcel, line, request, result, outcome, currentRetry, retryInMs, trace);
      this.#record(parcel, attemptAt, currentRetry, outcome, request, result);
      if (outcome === 'delivered') return outcome;

      // Waiting, for a retry or for the dead-letter store, keeps the key held until settled; the slot
      // only when the plugin says so.
      if (!plugin.waitHoldsSlot) run.pause();
      if (outcome === 'failed') {
        this.#log.failed(parcel, line, result, currentRetry + 1, trace);
        const secrets = plugin.secrets?.(target) ?? [];
        for (const job of parcel) {
          const failure: FinalFailure = {
            attempts: currentRetry + 1,
            lastStatus: result.status,
            lastError: result.error ?? null,
            responseSnippet:
              result.responseSnippet === '' ? '' : maskSecrets(result.responseSnippet, secrets),
            firstAttemptAt,
            lastAttemptAt: attemptAt,
            // Each event of a batch becomes its own dead letter, in the shape its receiver reads.
            body:
              parcel.length === 1
                ? (request.letterBody ?? request.body)
                : transport.request([job], currentRetry, trace.traceparent).body,
          };
          if (!(await this.#storeDeadLetter(job, failure))) return undefined;
        }
        return outcome;
      }
      await this.#waits.sleep(retryInMs ?? 0);
      if (this.#closing !== undefined) return undefined;
      if (!plugin.waitHoldsSlot) await new Promise<void>((resolve) => run.resume(resolve));
    }
  }

  /** Waits until the trigger is resumed; false when the engine closed first. */
  async #unpaused(trigger: string): Promise<boolean> {
    for (let gate = this.#pauses.until(trigger); gate !== undefined; gate = this.#pauses.until(trigger)) {
      await gate;
    }
    return this.#closing === undefined;
  }

  #record(
    parcel: Parcel,
    at: Date,
    currentRetry: number,
    outcome: Outcome,
    request: Request,
    result: AttemptResult,
  ): void {
    const { recorder } = this.#options;
    if (recorder === undefined) return;
    const { body, headers = NO_HEADERS, sentAs, letterBody } = request;
    recorder.attempt(
      parcel.map((job) => job.event),
      { at, currentRetry, outcome, body, headers, sentAs, letterBody, result },
    );
  }

  /** Retries the dead-letter store until it accepts the event; false when the engine closed first. */
  async #storeDeadLetter(job: Job, failure: FinalFailure): Promise<boolean> {
    for (let retryIndex = 0; ; retryIndex++) {
      try {
        await this.#options.deadLetter(job.event, failure);
        return this.#closing === undefined;
      } catch (err) {
        if (this.#closing !== undefined) return false;
        const retryInMs = Math.round(backoffMs(DEAD_LETTER_RETRY, retryIndex));
        this.#log.deadLetterRefused([job], err, retryInMs);
        await this.#waits.sleep(retryInMs);
        if (this.#closing !== undefined) return false;
      }
    }
  }

  #settle(job: Job, outcome: 'delivered' | 'failed'): void {
    this.#inFlight.settled(job.seq, job.event.bytes);
    job.line.count.events--;
    job.line.count.bytes -= job.event.bytes;
    if (job.line.count.events === 0) this.#retired.delete(job.line);
    job.event.settle(outcome);
  }
}
