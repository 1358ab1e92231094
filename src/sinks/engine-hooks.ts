import type { Logger } from 'pino';
import type { AttemptError, AttemptInfo, DeliveryEvent, Outcome } from '../core/delivery-event.js';
import type { AttemptResult, SentAs, SinkPlugin } from './plugin.js';

/** What the dead-letter store keeps about an event that will not be delivered. */
export interface FinalFailure {
  attempts: number;
  /** The last response status, or null when the last attempt got none. */
  lastStatus: number | null;
  lastError: AttemptError | null;
  /** The first 4 KiB of the last response body, with the values the plugin names secret masked. */
  responseSnippet: string;
  firstAttemptAt: Date;
  /** When the last attempt started. */
  lastAttemptAt: Date;
  /** The exact body of the last attempt; for an event of a batch, the body it alone would have had. */
  body: string;
}

/** One attempt as it went: what was sent and what came back. */
export interface SentAttempt {
  at: Date;
  currentRetry: number;
  outcome: Outcome;
  /** The exact body sent; the same string the request carried, not a copy. */
  body: string;
  /** The event before a request transform rendered it, where one did (the request's `letterBody`). */
  letterBody?: string | undefined;
  /** The attempt's own headers (trace context, signature); the target's are the same every time. */
  headers: Readonly<Record<string, string>>;
  /** Set where the request was not the target's usual one (a request transform's). */
  sentAs?: SentAs;
  result: AttemptResult;
}

/** Keeps what attempts sent and received (the console's recent deliveries). */
export interface DeliveryRecorder {
  /** `events`: the events of the request, one or a batch's. */
  attempt(events: readonly DeliveryEvent[], attempt: SentAttempt): void;
}

export interface EngineOptions {
  logger: Logger;
  userAgent: string;
  /** Stores a finally failed event; the event settles only once this resolved. */
  deadLetter(event: DeliveryEvent, failure: FinalFailure): Promise<void>;
  /** Called once per attempt, for the trigger's metrics. */
  onAttempt(info: AttemptInfo): void;
  /** Absent when nothing keeps deliveries, so the hot path pays nothing for them. */
  recorder?: DeliveryRecorder | undefined;
  /** A sink's broker started or stopped blocking publishers (see `DeliveryEngine.blockedBy`). */
  onBlocked?(): void;
  /** The plugin of a target type: the registry's, unless a test brings its own. */
  plugin?: (type: string) => SinkPlugin;
}
