import type { AttemptError, DeliveryEvent } from '../core/delivery-event.js';
import { formatLsn } from '../core/lsn.js';
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
