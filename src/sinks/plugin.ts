import type { Logger } from 'pino';
import type { z } from 'zod';
import type {
  AttemptError,
  DeliveryEvent,
  DeliveryTarget,
  OrderingMode,
  RetryPolicy,
} from '../core/delivery-event.js';

/**
 * The contract of a sink. A plugin owns what is particular to its receivers or broker: its `sink:` keys,
 * its target, its connections, how one request is sent and what its answer means, and its probe. The
 * delivery engine (engine.ts) owns everything every sink shares: queues, ordering, batching, retries,
 * dead letters, settling, in-flight counts, metrics and the delivery log. A plugin is one folder and
 * one line in registry.ts.
 */
export interface SinkPlugin<Target extends DeliveryTarget = DeliveryTarget, Settings = unknown> {
  readonly type: Target['type'];
  /** Its `sink:` mapping, `type` included (a strict object with a literal `type`). */
  readonly settings: z.ZodType<Settings> & z.core.$ZodTypeDiscriminable;
  /** The target of a trigger whose `sink:` is `settings`; `trigger.retry` undefined picks its default. */
  target(trigger: TriggerDelivery, settings: Settings): Target;
  /** Keys of the trigger's `retry` that mean nothing for this sink, with why: refused next to it. */
  readonly refusedRetryKeys?: Readonly<Record<string, string>>;
  /**
   * Whether a request waiting for its next attempt (or for its dead letter) keeps its concurrency slot.
   * A receiver's failure is usually one event's, so it gives the slot to other rows; a broker's failure is
   * everyone's, and keeping the slot bounds an outage to `concurrency` requests per trigger per wait.
   */
  readonly waitHoldsSlot: boolean;
  /**
   * `each`: every failed attempt is logged at warn (a receiver's answer is news). `once-a-minute`: per
   * trigger and error type, the others at debug (a broker away fails every event the same way).
   */
  readonly failureLog: 'each' | 'once-a-minute';
  /** Values a response may echo that must not be logged or kept (the header values sent). */
  secrets?(target: Target): readonly string[];
  /** Opens its transport, on the first event of its type: a pipeline without such a trigger loads nothing. */
  open(context: SinkContext): Transport<Target>;
  /** Whether the target's endpoint takes connections, for `walhook validate`; sends no event. */
  probe(target: Target, timeoutMs: number): Promise<ProbeResult>;
  /** Targets with the same key reach the same endpoint the same way: one probe serves them all. */
  probeKey(target: Target): string;
}

/** What a trigger says about delivery whatever its sink: the part of a target the engine reads. */
export interface TriggerDelivery {
  name: string;
  ordering: OrderingMode;
  concurrency: number;
  /** The trigger's `retry`; undefined when it has none, for the plugin's default. */
  retry: RetryPolicy | undefined;
}

export interface SinkContext {
  logger: Logger;
  userAgent: string;
  /**
   * A broker asks publishers to stop (RabbitMQ's connection.blocked: low on memory or disk), `reason`
   * saying why, or lets them go on again (null), for each `source` (a connection) of the plugin. While
   * any source is blocked the pipeline reads nothing from the slot, instead of queueing events that
   * could not be sent.
   */
  blocked(source: string, reason: string | null): void;
}

/** What a probe found: `warn` when the endpoint did not answer, which may only mean it starts later. */
export interface ProbeResult {
  level: 'ok' | 'warn';
  message: string;
  fix?: string;
}

/** An event in the engine's hands; a request carries one, or a batch of events of one trigger. */
export interface Delivery<Target extends DeliveryTarget = DeliveryTarget> {
  readonly event: DeliveryEvent<Target>;
}

/** One attempt's request as the plugin rendered it. */
export interface Request {
  /** The exact body: kept by the console and, for a request of one event, by its dead letter. */
  readonly body: string;
  /** The attempt's own headers (trace context, signature), as the console shows them. */
  readonly headers?: Readonly<Record<string, string>>;
  /** What a dead letter keeps instead of `body`: the event before a request transform rendered it. */
  readonly letterBody?: string;
  /** How the request went out where it is not the target's usual one (a request transform's), as shown. */
  readonly sentAs?: SentAs;
}

/** A request's method, URL and headers as the console and the invocation log show them: credentials masked. */
export interface SentAs {
  readonly method: string;
  readonly url: string;
  /** Every header but the attempt's own (`Request.headers`), lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
}

export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** How one attempt went, as the plugin classified it. */
export interface AttemptResult {
  /** The receiver's status; null when no answer came, or for a sink without statuses. */
  status: number | null;
  durationMs: number;
  /** Set for anything but delivered. */
  error?: AttemptError;
  /** A failure that would fail the same way again (a final status of the trigger's policy): no retry. */
  final?: boolean;
  /** The receiver's Retry-After, as sent; the retry policy decides whether it counts. */
  retryAfter?: string;
  /** The first 4 KiB of the response body, decoded as UTF-8; empty without one. */
  responseSnippet: string;
  /** The response headers (names in lower case); absent without a response. */
  responseHeaders?: ResponseHeaders;
}

/** A plugin's connections, shared by every trigger of its type in one pipeline. */
export interface Transport<Target extends DeliveryTarget = DeliveryTarget> {
  /** The request of one attempt at `deliveries`: one event, or a batch (they share one target). */
  request(deliveries: readonly Delivery<Target>[], currentRetry: number, traceparent: string): Request;
  /** Sends a request this transport rendered. Never rejects: a failure is a result with `error`. */
  send(request: Request): Promise<AttemptResult>;
  /** This sink's fields of the attempt's log line; asked only when the line is written. */
  logFields?(request: Request, result: AttemptResult): Record<string, unknown>;
  /** Aborts what is in flight and closes every connection. */
  close(): Promise<void>;
}
