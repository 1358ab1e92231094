import { hash } from 'node:crypto';
import type { ParentTrace } from '../core/delivery-event.js';

/** The W3C trace context of one delivery attempt. */
export interface AttemptTrace {
  /** 32 lowercase hex digits: the event id's, or the trace its transaction carried. */
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
export function attemptTrace(eventId: string, attempt: number, parent?: ParentTrace): AttemptTrace {
  const ownTraceId = eventId.replaceAll('-', '').toLowerCase();
  const spanId = hash('sha256', `${ownTraceId}/${attempt}`, 'hex').slice(0, 16);
  if (parent === undefined)
    return { traceId: ownTraceId, spanId, traceparent: `00-${ownTraceId}-${spanId}-01` };
  // A transaction that carried a trace (a session message): the attempt joins it, as Hasura's delivery
  // joins the trace of the mutation that wrote the row. The span stays derived from the event, so the
  // events of one transaction are distinct spans of that trace.
  const flags = parent.sampled ? '01' : '00';
  return { traceId: parent.traceId, spanId, traceparent: `00-${parent.traceId}-${spanId}-${flags}` };
}
