import type { Logger } from 'pino';
import type { ParentTrace } from '../core/delivery-event.js';
import { parseJson, stringifyJson } from '../core/json.js';
import { formatLsn } from '../core/lsn.js';
import type { LogicalMessage, TransactionInfo } from '../source/transaction-reader.js';

/** The prefix of the transactional messages that carry session variables and trace context. */
export const SESSION_PREFIX = 'walhook.session';

/** What a transaction's session gives the events of its changes. */
export interface Session {
  /** The body's `"session_variables":…,"trace_context":…`, rendered once per message. */
  readonly fields: string;
  /** The trace the delivery attempts join, when the trace context names one. */
  readonly trace?: ParentTrace;
}

export const NO_SESSION: Session = { fields: '"session_variables":null,"trace_context":null' };

const STRUCTURED_KEYS = new Set(['session_variables', 'trace_context']);

/**
 * A `walhook.session` message's content: a JSON object of session variables, or the structured form
 * `{"session_variables": {…}|null, "trace_context": {…}|null}` (what the capture trigger emits).
 * Returns why it is not one of them instead of a session.
 */
export function parseSession(content: string): Session | string {
  let value: unknown;
  try {
    value = parseJson(content);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (!isObject(value)) return 'not a JSON object';
  const keys = Object.keys(value);
  const structured = keys.length > 0 && keys.every((key) => STRUCTURED_KEYS.has(key));
  const variables = structured ? (value.session_variables ?? null) : value;
  if (variables !== null && !isObject(variables)) return 'session_variables is not an object or null';
  const context = structured ? (value.trace_context ?? null) : null;
  if (context === null)
    return { fields: `"session_variables":${stringifyJson(variables)},"trace_context":null` };
  if (!isObject(context)) return 'trace_context is not an object or null';
  const traced = traceOf(context);
  if (typeof traced === 'string') return traced;
  return {
    fields: `"session_variables":${stringifyJson(variables)},"trace_context":${traced.json}`,
    ...(traced.trace ? { trace: traced.trace } : {}),
  };
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const HEX = /^[0-9a-fA-F]+$/;

/**
 * The body's `trace_context` and the trace it names. Hasura's form (`trace_id`, `span_id`, optional
 * `sampling_state`, as `hasura.tracecontext` holds it) goes into the body as it is, since receivers
 * written for Hasura read it; the W3C form is rendered as Hasura would render that context.
 */
function traceOf(context: Record<string, unknown>): { json: string; trace?: ParentTrace } | string {
  if ('traceparent' in context) {
    const match = typeof context.traceparent === 'string' ? TRACEPARENT.exec(context.traceparent) : null;
    // Version ff is invalid; version 00 has nothing after the flags (W3C Trace Context, traceparent).
    if (!match || match[1] === 'ff' || (match[1] === '00' && match[5] !== undefined)) {
      return 'trace_context.traceparent is not a W3C traceparent';
    }
    const [, , traceId = '', parentSpanId = '', flags = ''] = match;
    if (/^0+$/.test(traceId) || /^0+$/.test(parentSpanId)) return 'trace_context.traceparent has a zero id';
    const sampled = (Number.parseInt(flags, 16) & 1) === 1;
    const json = `{"trace_id":"${traceId}","span_id":"${parentSpanId}"${sampled ? ',"sampling_state":"1"' : ''}}`;
    return { json, trace: { traceId, parentSpanId, sampled } };
  }
  const traceId = hexId(context.trace_id, 32);
  const parentSpanId = hexId(context.span_id, 16);
  const json = stringifyJson(context);
  if (traceId === null || parentSpanId === null) return { json };
  return { json, trace: { traceId, parentSpanId, sampled: context.sampling_state !== '0' } };
}

/**
 * An id as Hasura writes it: hex digits (a 64-bit trace id padded to 128 bits, as Hasura reads B3), or,
 * before Hasura 2.2x, a decimal 64-bit integer. Null for anything else or an all-zero id.
 */
function hexId(value: unknown, digits: 16 | 32): string | null {
  let hex: string | null = null;
  if (typeof value === 'string' && HEX.test(value) && (value.length === 16 || value.length === digits)) {
    hex = value.toLowerCase();
  } else if ((typeof value === 'number' && Number.isSafeInteger(value)) || typeof value === 'bigint') {
    if (value >= 0 && BigInt(value) < 2n ** 64n) hex = BigInt(value).toString(16).padStart(16, '0');
  }
  if (hex === null || /^0+$/.test(hex)) return null;
  return hex.padStart(digits, '0');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The session in effect in the transaction being read: set by each `walhook.session` message, replaced
 * by a later one, gone at the next transaction. A transaction resent after a reconnect resends its
 * messages in order before the changes it resumes at, so each change gets the same session again.
 */
export class TransactionSessions {
  #txn: TransactionInfo | null = null;
  #session: Session = NO_SESSION;
  /** The last transaction warned about: one warning per transaction is enough. */
  #warned: TransactionInfo | null = null;

  constructor(
    private readonly logger: Logger,
    /** Counts the messages ignored. */
    private readonly ignored: () => void,
  ) {}

  message(message: LogicalMessage): void {
    if (message.prefix !== SESSION_PREFIX) return;
    const session = parseSession(message.content.toString('utf8'));
    if (typeof session !== 'string') {
      this.#txn = message.txn;
      this.#session = session;
      return;
    }
    this.ignored();
    if (this.#warned === message.txn) return;
    this.#warned = message.txn;
    this.logger.warn(
      { lsn: formatLsn(message.txn.finalLsn), xid: message.txn.xid, reason: session },
      `ignored a ${SESSION_PREFIX} message: ${session}; its transaction's events go out without it`,
    );
  }

  /** The session of a change of `txn`, read now. */
  of(txn: TransactionInfo): Session {
    return txn === this.#txn ? this.#session : NO_SESSION;
  }
}
