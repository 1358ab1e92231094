import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventId } from '../../src/core/event-id.js';
import { attemptTrace } from '../../src/sinks/trace.js';

const ID = '1b4e28ba-2fa1-51d2-883f-0016d3cca427';

test('the trace id is the 32 hex digits of the event id and the header is a sampled version-00 traceparent', () => {
  const trace = attemptTrace(ID, 1);
  assert.equal(trace.traceId, '1b4e28ba2fa151d2883f0016d3cca427');
  assert.match(trace.spanId, /^[0-9a-f]{16}$/);
  assert.equal(trace.traceparent, `00-${trace.traceId}-${trace.spanId}-01`);
  assert.match(trace.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
});

test('an upper-case id gives the same lower-case trace', () => {
  assert.deepEqual(attemptTrace(ID.toUpperCase(), 3), attemptTrace(ID, 3));
});

test('the span id is the first 8 bytes of SHA-256 over "<trace id>/<attempt>"', () => {
  // Pinned: a receiver may correlate spans across walhook versions, so a new derivation must show here.
  assert.equal(attemptTrace(ID, 1).spanId, '32f8f7caf2da0abf');
  assert.deepEqual(attemptTrace(ID, 2), attemptTrace(ID, 2));
});

test('each attempt is its own span of the same trace', () => {
  const spans = new Set<string>();
  for (let attempt = 1; attempt <= 1000; attempt++) {
    const trace = attemptTrace(ID, attempt);
    assert.equal(trace.traceId, attemptTrace(ID, 1).traceId);
    assert.notEqual(trace.spanId, '0000000000000000');
    spans.add(trace.spanId);
  }
  assert.equal(spans.size, 1000);
});

test('different events never share a trace', () => {
  const a = attemptTrace(eventId('7000000000000000001', 0x16b3748n, 0, 'orders'), 1);
  const b = attemptTrace(eventId('7000000000000000001', 0x16b3748n, 1, 'orders'), 1);
  assert.notEqual(a.traceId, b.traceId);
  assert.notEqual(a.spanId, b.spanId);
});
