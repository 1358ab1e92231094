import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { DeliveryEvent } from '../../src/core/delivery-event.js';
import { entryFields, fieldsProblem } from '../../src/sinks/redis/fields.js';
import { ReplicaWaits } from '../../src/sinks/redis/replica-waits.js';
import { keyName, StreamTemplate, streamTemplateProblem } from '../../src/sinks/redis/stream-name.js';

test('the default template names one stream per table; usual names stay as they are', () => {
  const template = new StreamTemplate('walhook:{schema}.{table}');
  assert.equal(template.render({ schema: 'public', name: 'orders' }), 'walhook:public.orders');
  assert.equal(template.render({ schema: 'Sales_2', name: 'order-lines' }), 'walhook:Sales_2.order-lines');
  assert.equal(new StreamTemplate('cdc').render({ schema: 'public', name: 'orders' }), 'cdc');
  assert.equal(
    new StreamTemplate('{table}@{schema}').render({ schema: 'public', name: 'orders' }),
    'orders@public',
  );
});

test('other bytes of a name are percent-encoded, so no two tables share a key by accident', () => {
  const template = new StreamTemplate('walhook:{schema}.{table}');
  assert.equal(template.render({ schema: 'a.b', name: 'c' }), 'walhook:a%2Eb.c');
  assert.equal(template.render({ schema: 'a', name: 'b.c' }), 'walhook:a.b%2Ec');
  assert.equal(keyName('My Schema'), 'My%20Schema');
  assert.equal(keyName('100%'), '100%25');
  assert.equal(keyName('a:b{c}'), 'a%3Ab%7Bc%7D');
  assert.equal(keyName('café'), 'caf%C3%A9');
});

test('the encoding keeps any name to safe characters and decodes back to it', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), (name) => {
      const encoded = keyName(name);
      assert.match(encoded, /^[A-Za-z0-9_%-]+$/);
      assert.equal(decodeURIComponent(encoded), name);
    }),
  );
});

test('a template with an unknown placeholder or a stray brace is refused', () => {
  assert.equal(streamTemplateProblem('walhook:{schema}.{table}'), null);
  assert.equal(streamTemplateProblem(''), 'must not be empty');
  assert.equal(
    streamTemplateProblem('walhook:{table}.{op}'),
    'unknown placeholder {op} (expected {schema} or {table})',
  );
  assert.equal(streamTemplateProblem('walhook:{table'), '{ and } only around {schema} and {table}');
  assert.throws(() => new StreamTemplate('x}'), /stream template "x}": \{ and \} only around/);
});

const event = {
  id: '5b4a7c1e-0000-5000-8000-000000000001',
  op: 'UPDATE',
  table: 'public.orders',
  commitLsn: (0x1n << 32n) | 0x2a0n,
  target: { trigger: 'orders_out' },
} as unknown as DeliveryEvent;

test('an entry carries the chosen fields in the order given, the payload as one JSON field', () => {
  assert.deepEqual(entryFields(['id', 'op', 'table', 'lsn', 'payload'], event, '{"id":"x"}'), [
    'id',
    event.id,
    'op',
    'UPDATE',
    'table',
    'public.orders',
    'lsn',
    '1/2A0',
    'payload',
    '{"id":"x"}',
  ]);
  assert.deepEqual(entryFields(['payload', 'trigger'], event, '{}'), [
    'payload',
    '{}',
    'trigger',
    'orders_out',
  ]);
});

test('fields must carry the event id, as id or inside payload', () => {
  assert.equal(fieldsProblem(['id']), null);
  assert.equal(fieldsProblem(['payload']), null);
  assert.match(fieldsProblem(['op', 'table', 'lsn']) ?? '', /^must hold id or payload/);
});

/** A WAIT whose answer the test gives by hand. */
function manualWaits() {
  const sent: { resolve: (count: number) => void; reject: (err: Error) => void }[] = [];
  const waits = new ReplicaWaits(
    () =>
      new Promise<number>((resolve, reject) => {
        sent.push({ resolve, reject });
      }),
  );
  return { waits, sent };
}

const WAIT = { replicas: 1, timeoutMs: 100 };

test('entries answered while a WAIT is out share the next WAIT, sent once the first answers', async () => {
  const { waits, sent } = manualWaits();
  const first = waits.after(WAIT);
  const second = waits.after(WAIT);
  const third = waits.after(WAIT);
  assert.equal(sent.length, 1, 'one WAIT out at a time: it blocks the connection anyway');
  sent[0]?.resolve(1);
  assert.equal(await first, 1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(sent.length, 2, 'the entries that came meanwhile get a WAIT sent after them');
  sent[1]?.resolve(2);
  assert.deepEqual(await Promise.all([second, third]), [2, 2]);
  const fourth = waits.after(WAIT);
  assert.equal(sent.length, 3, 'with none out, a WAIT goes at once');
  sent[2]?.resolve(1);
  assert.equal(await fourth, 1);
});

test('a failed WAIT fails its entries only; the next one is still sent', async () => {
  const { waits, sent } = manualWaits();
  const first = waits.after(WAIT);
  const second = waits.after(WAIT);
  sent[0]?.reject(new Error('Connection is closed.'));
  await assert.rejects(first, /Connection is closed/);
  await new Promise((resolve) => setImmediate(resolve));
  sent[1]?.resolve(1);
  assert.equal(await second, 1);
});

test('different replica counts or timeouts wait apart', () => {
  const { waits, sent } = manualWaits();
  void waits.after(WAIT);
  void waits.after({ replicas: 2, timeoutMs: 100 });
  void waits.after({ replicas: 1, timeoutMs: 200 });
  assert.equal(sent.length, 3);
});
