import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restartKey } from '../../src/config/live-keys.js';
import { parseConfigs } from '../../src/config/load.js';
import type { DeliveryTarget } from '../../src/core/delivery-event.js';
import type { RelationInfo } from '../../src/source/transaction-reader.js';
import { type TriggerDefinition, TriggerIndex } from '../../src/triggers/matcher.js';
import { anyChange, canonical, triggerChanges } from '../../src/triggers/trigger-changes.js';

const base = (triggers: string, extra = '') => `
source:
  connection: postgres://u@localhost/db
  slot: walhook
${extra}triggers:
${triggers}`;

const hook = (name: string, table = 'public.orders', ops = '[insert]', url = 'http://r/x') => `
  - name: ${name}
    table: ${table}
    operations: ${ops}
    webhook: ${url}`;

const load = (text: string) => parseConfigs(text, 'walhook.yaml', {});

test('triggerChanges: added, removed, changed and unchanged, by name and value', () => {
  const before = load(base(hook('a') + hook('b') + hook('c')))[0]?.triggers ?? [];
  const after =
    load(base(hook('a') + hook('b', 'public.orders', '[insert, update]') + hook('d')))[0]?.triggers ?? [];
  const changes = triggerChanges(before, after);
  assert.deepEqual(changes, { added: ['d'], removed: ['c'], changed: ['b'], unchanged: ['a'] });
  assert.equal(anyChange(changes), true);
  assert.equal(anyChange(triggerChanges(before, before)), false);
});

test('triggerChanges: the same settings written in another order are unchanged; a where literal counts', () => {
  const one =
    load(
      base(`
  - name: a
    table: public.orders
    operations: [insert]
    webhook: http://r/x
    where: {new: {amount: {_gt: 9007199254740993}}}`),
    )[0]?.triggers ?? [];
  const two =
    load(
      base(`
  - webhook: http://r/x
    where: {new: {amount: {_gt: 9007199254740993}}}
    operations: [insert]
    table: public.orders
    name: a`),
    )[0]?.triggers ?? [];
  const three =
    load(
      base(`
  - name: a
    table: public.orders
    operations: [insert]
    webhook: http://r/x
    where: {new: {amount: {_gt: 9007199254740992}}}`),
    )[0]?.triggers ?? [];
  assert.deepEqual(triggerChanges(one, two).unchanged, ['a']);
  assert.deepEqual(triggerChanges(one, three).changed, ['a']);
});

test('canonical: key order does not matter, values do', () => {
  assert.equal(canonical({ a: 1, b: [1n, 'x'] }), canonical({ b: [1n, 'x'], a: 1 }));
  assert.notEqual(canonical({ a: 1 }), canonical({ a: '1' }));
  assert.notEqual(canonical({ a: 1n }), canonical({ a: 1 }));
  assert.equal(canonical({ a: undefined, b: 2 }), canonical({ b: 2 }));
  assert.equal(canonical(new Set([2, 1])), canonical(new Set([1, 2])));
});

test('restartKey: triggers and in-flight limits change live, the rest names its key', () => {
  const running = load(base(hook('a')));
  assert.equal(restartKey(running, load(base(hook('a') + hook('b')))), null);
  assert.equal(restartKey(running, load(base(hook('a'), 'max_in_flight_events: 5\n'))), null);
  assert.equal(
    restartKey(running, load(base(hook('a')).replace('slot: walhook', 'slot: other'))),
    'source.slot',
  );
  assert.equal(restartKey(running, load(base(hook('a'), 'server:\n  port: 1234\n'))), 'server.port');
  assert.equal(
    restartKey(running, load(base(hook('a'), 'dead_letter:\n  file: /tmp/x.jsonl\n'))),
    'dead_letter.file',
  );
  const pipelines = (slot: string, name = 'p1') =>
    load(`
pipelines:
  - name: ${name}
    source: {connection: 'postgres://u@localhost/db', slot: ${slot}}
    triggers: [{name: a, table: public.orders, operations: [insert], webhook: 'http://r/x'}]
`);
  assert.equal(restartKey(pipelines('s1'), pipelines('s1')), null);
  assert.equal(restartKey(pipelines('s1'), pipelines('s2')), 'pipelines[0].source.slot');
  assert.equal(restartKey(pipelines('s1'), pipelines('s1', 'p2')), 'pipelines');
  assert.equal(restartKey(running, pipelines('walhook', 'default')), null);
});

test('TriggerIndex.adopt: the holder matches with the new triggers from then on', () => {
  const target = { type: 'webhook', trigger: 'x', retry: { numRetries: 0 } } as unknown as DeliveryTarget;
  const definition = (name: string, table: string): TriggerDefinition => ({
    name,
    table: { schema: 'public', name: table },
    operations: ['insert'],
    enable_manual: false,
    skip_unchanged_updates: false,
    trigger_on_replication: false,
    payload_format: 'hasura',
    target,
  });
  const relation = { schema: 'public', name: 'orders' } as RelationInfo;
  const index = new TriggerIndex([definition('a', 'orders'), definition('b', 'items')]);
  assert.deepEqual(
    index.forRelation(relation).map((t) => t.name),
    ['a'],
  );
  index.adopt(
    new TriggerIndex([definition('b', 'items'), definition('c', 'orders'), definition('d', 'orders')]),
  );
  // The lookup cached per relation is dropped with the old triggers.
  assert.deepEqual(
    index.forRelation(relation).map((t) => t.name),
    ['c', 'd'],
  );
  assert.equal(index.named('a'), undefined);
  assert.deepEqual(
    index.all().map((t) => t.name),
    ['b', 'c', 'd'],
  );
});
