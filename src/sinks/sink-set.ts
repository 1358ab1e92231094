import type { Logger } from 'pino';
import type { DeliveryEvent, DeliveryTarget } from '../core/delivery-event.js';
import { NatsSink } from './nats/nats-sink.js';
import type { Sink } from './sink.js';
import {
  type AttemptInfo,
  type DeliveryRecorder,
  type FinalFailure,
  type WebhookEvent,
  WebhookSink,
} from './webhook-sink.js';

/** What the pipeline gives every sink. */
export interface SinkContext {
  logger: Logger;
  userAgent: string;
  /** Stores a finally failed event; the event settles only once this resolved. */
  deadLetter(event: WebhookEvent, failure: FinalFailure): Promise<void>;
  /** Called once per delivery attempt, for the trigger's metrics. */
  onAttempt(info: AttemptInfo): void;
  /** Keeps what webhook attempts sent and received, for the console; absent when it keeps nothing. */
  recorder?: DeliveryRecorder | undefined;
}

type TargetType = DeliveryTarget['type'];

/** How each type of target gets its sink: a new broker is one more entry (and its target type). */
const OPEN: {
  [Type in TargetType]: (context: SinkContext) => Sink<DeliveryEvent<DeliveryTarget & { type: Type }>>;
} = {
  webhook: (context) => new WebhookSink(context),
  nats: (context) => new NatsSink(context),
};

/**
 * The sinks of one pipeline, as one: each event goes to the sink of its target's type, opened on the
 * first such event, so a config that never names a broker never loads its client.
 */
export class SinkSet implements Sink {
  readonly #context: SinkContext;
  readonly #byType = new Map<TargetType, Sink>();
  readonly #sinks: Sink[] = [];
  #closing: Promise<void> | undefined;

  constructor(context: SinkContext) {
    this.#context = context;
  }

  get inFlight(): number {
    let sum = 0;
    for (const sink of this.#sinks) sum += sink.inFlight;
    return sum;
  }

  get inFlightBytes(): number {
    let sum = 0;
    for (const sink of this.#sinks) sum += sink.inFlightBytes;
    return sum;
  }

  submit(event: DeliveryEvent): void {
    // Left unsettled on purpose, as each sink does once closed: a restart replays it from the WAL.
    if (this.#closing !== undefined) return;
    const { type } = event.target;
    let sink = this.#byType.get(type);
    if (sink === undefined) {
      sink = OPEN[type](this.#context) as Sink;
      this.#byType.set(type, sink);
      this.#sinks.push(sink);
    }
    sink.submit(event);
  }

  async drain(timeoutMs: number): Promise<boolean> {
    const drained = await Promise.all(this.#sinks.map((sink) => sink.drain(timeoutMs)));
    return drained.every(Boolean);
  }

  close(): Promise<void> {
    this.#closing ??= Promise.all(this.#sinks.map((sink) => sink.close())).then(() => undefined);
    return this.#closing;
  }
}
