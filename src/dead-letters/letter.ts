import type { AttemptError, DeliveryEvent, DeliveryTarget } from '../core/delivery-event.js';
import { formatLsn, parseLsn } from '../core/lsn.js';
import type { FinalFailure } from '../sinks/engine-hooks.js';
import type { DeadLetter } from './store.js';

/**
 * Why a letter's last attempt failed, as `<type>: <message>` (`http: HTTP 503`, `connect: connect
 * ECONNREFUSED 10.0.0.7:443`): one form whether the pipeline stored the letter or a redelivery kept it.
 */
export function lastErrorText(error: AttemptError | null | undefined): string | null {
  return error ? `${error.type}: ${error.message}` : null;
}

/** The dead letter of an event the delivery engine gave up on. */
export function deadLetterOf(event: DeliveryEvent, failure: FinalFailure): DeadLetter {
  return {
    id: event.id,
    trigger: event.target.trigger,
    table: event.table,
    op: event.op,
    lsn: formatLsn(event.commitLsn),
    body: failure.body,
    attempts: failure.attempts,
    lastStatus: failure.lastStatus,
    lastError: lastErrorText(failure.lastError),
    responseSnippet: failure.responseSnippet === '' ? null : failure.responseSnippet,
    firstAttemptAt: failure.firstAttemptAt,
    lastAttemptAt: failure.lastAttemptAt,
    deadLetteredAt: new Date(),
  };
}

/** How the webhook sink wraps a batch's events (src/sinks/webhook/plugin.ts): a batch's letter holds one. */
const BATCH_START = '{"events":[';
const BATCH_END = ']}';

/** A lone event in a batch's envelope: what a batch trigger's receiver reads and its dead letters keep. */
export function inBatchEnvelope(eventBody: string): string {
  return BATCH_START + eventBody + BATCH_END;
}

/**
 * A letter as the event it was, for the invocation log to record its redelivery: the event's own body,
 * out of a batch's envelope, so that the log keeps what a later redelivery wraps again.
 */
export function eventOfLetter(letter: DeadLetter, target: DeliveryTarget): DeliveryEvent {
  const enveloped =
    (target.batch?.maxEvents ?? 1) > 1 &&
    letter.body.startsWith(BATCH_START) &&
    letter.body.endsWith(BATCH_END);
  const body = enveloped ? letter.body.slice(BATCH_START.length, -BATCH_END.length) : letter.body;
  const dot = letter.table.indexOf('.');
  return {
    id: letter.id,
    target,
    orderingKey: letter.id,
    op: letter.op as DeliveryEvent['op'],
    table: letter.table,
    relation: { schema: letter.table.slice(0, dot), name: letter.table.slice(dot + 1) },
    commitLsn: parseLsn(letter.lsn),
    body: () => body,
    bytes: body.length,
    settle: () => {},
  };
}
