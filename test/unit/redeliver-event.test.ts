import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventOfLetter, inBatchEnvelope } from '../../src/dead-letters/letter.js';
import type { LoggedDelivery } from '../../src/invocation-log/reader.js';
import { letterOfLogged, RedeliveryRefused } from '../../src/service/redeliver-event.js';
import { sinkTarget } from '../../src/sinks/registry.js';
import { parseConfig } from '../helpers/config.js';

const config = parseConfig(
  `
source: { connection: postgres://localhost/db }
triggers:
  - { name: single, table: public.t, operations: [insert], webhook: http://localhost/a }
  - name: batched
    table: public.t
    operations: [insert]
    webhook: http://localhost/b
    batch: { max_events: 10, max_wait_ms: 5 }
`,
  'walhook.yaml',
);

function logged(overrides: Partial<LoggedDelivery> = {}): LoggedDelivery {
  return {
    id: '9',
    eventId: 'e-1',
    trigger: 'single',
    op: 'UPDATE',
    table: 'public.t',
    lsn: '0/16B3748',
    attempt: 2,
    batchSize: 1,
    at: new Date('2026-03-01T10:00:02Z'),
    durationMs: 3,
    status: 200,
    outcome: 'delivered',
    errorType: null,
    error: null,
    request: { url: 'http://localhost/a', method: 'POST', headers: {}, body: 'sent' },
    responseBody: '',
    firstAt: new Date('2026-03-01T10:00:00Z'),
    eventBody: '{"id":"e-1"}',
    ...overrides,
  };
}

test('a logged event becomes the dead letter it is redelivered as', () => {
  const letter = letterOfLogged(logged(), config);
  assert.equal(letter.body, '{"id":"e-1"}');
  assert.deepEqual(
    [letter.id, letter.trigger, letter.table, letter.op, letter.lsn, letter.attempts, letter.lastError],
    ['e-1', 'single', 'public.t', 'UPDATE', '0/16B3748', 2, null],
  );
  assert.equal(letter.firstAttemptAt.toISOString(), '2026-03-01T10:00:00.000Z');
  const failed = letterOfLogged(
    logged({ status: 503, errorType: 'http', error: 'HTTP 503', responseBody: 'busy' }),
    config,
  );
  assert.deepEqual(
    [failed.lastStatus, failed.lastError, failed.responseSnippet],
    [503, 'http: HTTP 503', 'busy'],
  );
  const batched = letterOfLogged(logged({ trigger: 'batched' }), config);
  assert.equal(batched.body, '{"events":[{"id":"e-1"}]}', "a batch trigger's receiver reads an envelope");
});

test('a logged event without its body, or whose trigger is gone, is refused in one line naming why', () => {
  assert.throws(
    () => letterOfLogged(logged({ eventBody: null }), config),
    (err: Error) => err instanceof RedeliveryRefused && /did not keep event bodies/.test(err.message),
  );
  assert.throws(
    () => letterOfLogged(logged({ trigger: 'gone' }), config),
    (err: Error) =>
      err instanceof RedeliveryRefused && /"gone"/.test(err.message) && !err.message.includes('\n'),
  );
});

test("a letter's event carries the event's own body, out of a batch's envelope", () => {
  const [single, batched] = config.triggers.map((t) => sinkTarget(t));
  assert.ok(single && batched);
  const letter = letterOfLogged(logged({ trigger: 'batched' }), config);
  const event = eventOfLetter(letter, batched);
  assert.equal(event.body(0), '{"id":"e-1"}');
  assert.deepEqual(event.relation, { schema: 'public', name: 't' });
  assert.equal(event.commitLsn, 0x16b3748n);
  assert.equal(eventOfLetter({ ...letter, body: inBatchEnvelope('{}') }, single).body(0), '{"events":[{}]}');
});
