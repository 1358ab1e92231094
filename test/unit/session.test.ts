import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { attemptTrace } from '../../src/sinks/trace.js';
import type { LogicalMessage, TransactionInfo } from '../../src/source/transaction-reader.js';
import { HasuraBody } from '../../src/triggers/payload.js';
import { NO_SESSION, parseSession, type Session, TransactionSessions } from '../../src/triggers/session.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const ID = '1b4e28ba-2fa1-51d2-883f-0016d3cca427';

function session(content: string): Session {
  const parsed = parseSession(content);
  assert.notEqual(typeof parsed, 'string', `parsed ${content}: ${String(parsed)}`);
  return parsed as Session;
}

function fields(content: string): unknown {
  return JSON.parse(`{${session(content).fields}}`);
}

test('a flat JSON object is the session variables, with no trace context', () => {
  const parsed = session('{"x-hasura-user-id":"7","x-hasura-role":"user"}');
  assert.deepEqual(JSON.parse(`{${parsed.fields}}`), {
    session_variables: { 'x-hasura-user-id': '7', 'x-hasura-role': 'user' },
    trace_context: null,
  });
  assert.equal(parsed.trace, undefined);
});

test('the structured form gives both, and either may be null', () => {
  assert.deepEqual(fields('{"session_variables":{"x-hasura-role":"admin"},"trace_context":null}'), {
    session_variables: { 'x-hasura-role': 'admin' },
    trace_context: null,
  });
  assert.deepEqual(fields('{"session_variables":null,"trace_context":null}'), {
    session_variables: null,
    trace_context: null,
  });
  assert.deepEqual(fields('{"session_variables":{"a":"1"}}'), {
    session_variables: { a: '1' },
    trace_context: null,
  });
});

test("Hasura's trace context goes into the body as it is and names the trace", () => {
  const parsed = session(
    `{"session_variables":null,"trace_context":{"trace_id":"${TRACE}","span_id":"${SPAN}"}}`,
  );
  assert.equal(
    parsed.fields,
    `"session_variables":null,"trace_context":{"trace_id":"${TRACE}","span_id":"${SPAN}"}`,
  );
  assert.deepEqual(parsed.trace, { traceId: TRACE, parentSpanId: SPAN, sampled: true });
  const unsampled = session(
    `{"trace_context":{"trace_id":"${TRACE.toUpperCase()}","span_id":"${SPAN}","sampling_state":"0"}}`,
  );
  assert.deepEqual(unsampled.trace, { traceId: TRACE, parentSpanId: SPAN, sampled: false });
});

test('64-bit ids (hex, or the integers of Hasura before 2.2x) are padded to 128 bits, digit for digit', () => {
  const hex = session(`{"trace_context":{"trace_id":"a3ce929d0e0e4736","span_id":"${SPAN}"}}`);
  assert.equal(hex.trace?.traceId, `0000000000000000a3ce929d0e0e4736`);
  const integers = session('{"trace_context":{"trace_id":18446744073709551615,"span_id":1}}');
  assert.match(integers.fields, /"trace_id":18446744073709551615,"span_id":1/);
  assert.deepEqual(integers.trace, {
    traceId: '0000000000000000ffffffffffffffff',
    parentSpanId: '0000000000000001',
    sampled: true,
  });
});

test('a trace context whose ids cannot be read still goes into the body, without a trace', () => {
  const parsed = session('{"trace_context":{"trace_id":"nope","span_id":"0000000000000000"}}');
  assert.equal(
    parsed.fields,
    '"session_variables":null,"trace_context":{"trace_id":"nope","span_id":"0000000000000000"}',
  );
  assert.equal(parsed.trace, undefined);
});

test("a W3C traceparent is rendered as Hasura's trace context", () => {
  const parsed = session(`{"trace_context":{"traceparent":"00-${TRACE}-${SPAN}-01"}}`);
  assert.equal(
    parsed.fields,
    `"session_variables":null,"trace_context":{"trace_id":"${TRACE}","span_id":"${SPAN}","sampling_state":"1"}`,
  );
  assert.deepEqual(parsed.trace, { traceId: TRACE, parentSpanId: SPAN, sampled: true });
  const unsampled = session(`{"trace_context":{"traceparent":"00-${TRACE}-${SPAN}-00"}}`);
  assert.equal(
    unsampled.fields,
    `"session_variables":null,"trace_context":{"trace_id":"${TRACE}","span_id":"${SPAN}"}`,
  );
  assert.equal(unsampled.trace?.sampled, false);
});

test('what is not a session is refused with the reason', () => {
  const refused = [
    ['not json', /not JSON/],
    ['[1,2]', /not a JSON object/],
    ['"x"', /not a JSON object/],
    ['null', /not a JSON object/],
    ['{"a":1,"a":2}', /not JSON/],
    ['{"session_variables":"x"}', /session_variables is not an object/],
    ['{"session_variables":[],"trace_context":null}', /session_variables is not an object/],
    ['{"trace_context":"00-abc"}', /trace_context is not an object/],
    [`{"trace_context":{"traceparent":"00-${TRACE}-${SPAN}"}}`, /not a W3C traceparent/],
    [`{"trace_context":{"traceparent":"ff-${TRACE}-${SPAN}-01"}}`, /not a W3C traceparent/],
    [`{"trace_context":{"traceparent":"00-${TRACE}-${SPAN}-01-x"}}`, /not a W3C traceparent/],
    [`{"trace_context":{"traceparent":"00-${'0'.repeat(32)}-${SPAN}-01"}}`, /zero id/],
  ] as const;
  for (const [content, reason] of refused) {
    const parsed = parseSession(content);
    assert.equal(typeof parsed, 'string', content);
    assert.match(parsed as string, reason, content);
  }
});

test('the body carries the session fields in place of the nulls, byte for byte otherwise', () => {
  const source = {
    op: 'INSERT' as const,
    index: 0,
    relation: { schema: 'public', name: 'orders' },
    txn: { finalLsn: 0x16b3748n, commitTime: 0n, xid: 7 },
  };
  const rows = { newJson: '{"id":1}', oldJson: 'null', unchangedToast: [], toastFetched: [] };
  const trigger = { name: 'orders', maxRetries: 0, payloadFormat: 'walhook' as const };
  const plain = new HasuraBody(source, rows, trigger, ID);
  const none = new HasuraBody(source, rows, trigger, ID, NO_SESSION);
  assert.equal(plain.render(0), none.render(0));
  assert.equal(plain.trace, undefined);
  const withSession = session(
    `{"session_variables":{"x-hasura-user-id":"7"},"trace_context":{"traceparent":"00-${TRACE}-${SPAN}-01"}}`,
  );
  const body = new HasuraBody(source, rows, trigger, ID, withSession);
  const event = JSON.parse(body.render(2)).event;
  assert.deepEqual(event.session_variables, { 'x-hasura-user-id': '7' });
  assert.deepEqual(event.trace_context, { trace_id: TRACE, span_id: SPAN, sampling_state: '1' });
  assert.deepEqual(body.trace, { traceId: TRACE, parentSpanId: SPAN, sampled: true });
  assert.equal(body.bytes, Buffer.byteLength(body.render(2)));
  assert.equal(body.render(0).replace(withSession.fields, NO_SESSION.fields).length, plain.render(0).length);
});

test('an attempt joins the trace of its transaction as a span of its own', () => {
  const own = attemptTrace(ID, 1);
  const joined = attemptTrace(ID, 1, { traceId: TRACE, parentSpanId: SPAN, sampled: true });
  assert.equal(joined.traceId, TRACE);
  assert.equal(joined.spanId, own.spanId);
  assert.equal(joined.traceparent, `00-${TRACE}-${own.spanId}-01`);
  const other = attemptTrace('2b4e28ba-2fa1-51d2-883f-0016d3cca427', 1, {
    traceId: TRACE,
    parentSpanId: SPAN,
    sampled: true,
  });
  assert.notEqual(other.spanId, joined.spanId, 'two events of one transaction are two spans');
  const unsampled = attemptTrace(ID, 2, { traceId: TRACE, parentSpanId: SPAN, sampled: false });
  assert.match(unsampled.traceparent, new RegExp(`^00-${TRACE}-[0-9a-f]{16}-00$`));
});

function txn(xid: number): TransactionInfo {
  return { finalLsn: BigInt(xid), commitTime: 0n, xid, tracked: {} as TransactionInfo['tracked'] };
}

function message(of: TransactionInfo, content: string, prefix = 'walhook.session'): LogicalMessage {
  return { prefix, content: Buffer.from(content), txn: of };
}

test('a session holds in its transaction from the message on, until a later one replaces it', () => {
  const lines: string[] = [];
  let ignored = 0;
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
  const sessions = new TransactionSessions(logger, () => ignored++);
  const first = txn(1);
  const second = txn(2);
  assert.equal(sessions.of(first), NO_SESSION);
  sessions.message(message(first, '{"x-hasura-user-id":"7"}'));
  assert.match(sessions.of(first).fields, /"x-hasura-user-id":"7"/);
  sessions.message(message(first, '{"other":"prefix"}', 'walhook-watermark'));
  assert.match(sessions.of(first).fields, /"x-hasura-user-id":"7"/);
  sessions.message(message(first, '{"x-hasura-user-id":"8"}'));
  assert.match(sessions.of(first).fields, /"x-hasura-user-id":"8"/);
  assert.equal(sessions.of(second), NO_SESSION);

  sessions.message(message(first, 'not json'));
  sessions.message(message(first, '[]'));
  assert.match(sessions.of(first).fields, /"x-hasura-user-id":"8"/, 'an invalid message changes nothing');
  assert.equal(ignored, 2);
  assert.equal(lines.length, 1, 'one warning per transaction');
  assert.match(JSON.parse(lines[0] as string).msg, /ignored a walhook\.session message: not JSON/);
  sessions.message(message(second, '"x"'));
  assert.equal(lines.length, 2);
  assert.equal(ignored, 3);
});
