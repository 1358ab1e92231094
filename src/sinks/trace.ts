import { hash } from 'node:crypto';

/** The W3C trace context of one delivery attempt. */
export interface AttemptTrace {
  /** 32 lowercase hex digits: the event id's. */
  traceId: string;
  /** 16 lowercase hex digits, distinct per attempt. */
  spanId: string;
  /** The `traceparent` header value: version 00, sampled. */
  traceparent: string;
}

/**
 * The trace of delivery attempt `attempt` (1 for the first) of an event, whose id is a UUID (never the
 * nil one, so the trace id is never the invalid all-zero one). Derived, not random: every attempt of
 * an event, replays after a restart included, joins the same trace (as the event id is already the
 * receiver's deduplication key), and each attempt is its own span, which a receiver's logs can match
 * with walhook's delivery line without walhook keeping any state.
 */
export function attemptTrace(eventId: string, attempt: number): AttemptTrace {
  const traceId = eventId.replaceAll('-', '').toLowerCase();
  const spanId = hash('sha256', `${traceId}/${attempt}`, 'hex').slice(0, 16);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}
