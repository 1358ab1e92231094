import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { CheckpointTracker } from '../../src/checkpoint/tracker.js';
import type { DeliveryTarget } from '../../src/core/delivery-event.js';
import { DEFAULT_RETRY } from '../../src/sinks/retry-policy.js';
import type { TupleData } from '../../src/source/change.js';
import { decodePgoutput } from '../../src/source/pgoutput-decoder.js';
import { rowImages } from '../../src/source/row-images.js';
import type { TableInfo } from '../../src/source/tables.js';
import { type Change, TransactionReader } from '../../src/source/transaction-reader.js';
import { TypeCatalog } from '../../src/source/type-catalog.js';
import { identityNeeds } from '../../src/triggers/identity-needs.js';
import { filterReason, type TriggerDefinition, TriggerIndex } from '../../src/triggers/matcher.js';
import * as b from '../helpers/pgoutput-builder.js';

const INT4 = 23;
const TEXT = 25;
const FULL = 16384;
const KEYED = 16385;
const columns = (full: boolean) => [
  { name: 'id', typeOid: INT4, isKey: true },
  { name: 'status', typeOid: TEXT, isKey: full },
  { name: 'note', typeOid: TEXT, isKey: full },
];

const target: DeliveryTarget = {
  type: 'webhook',
  trigger: 't',
  ordering: 'row',
  concurrency: 1,
  retry: DEFAULT_RETRY,
};

function trigger(name: string, options: Partial<TriggerDefinition> = {}): TriggerDefinition {
  return {
    name,
    table: { schema: 'public', name: 'orders' },
    operations: ['insert', 'update', 'delete', 'truncate'],
    enable_manual: false,
    skip_unchanged_updates: false,
    trigger_on_replication: true,
    payload_format: 'walhook',
    target,
    ...options,
  };
}

/** The changes one transaction of `body` decodes to, after Relation messages for both tables. */
function changes(...body: Buffer[]): Change[] {
  const seen: Change[] = [];
  const tracker = new CheckpointTracker(0n, () => {});
  const reader = new TransactionReader(
    {
      begin: (finalLsn) => tracker.begin(finalLsn),
      change: (change) => seen.push(change),
      message: () => {},
      commit: (txn, endLsn) => tracker.commit(txn.tracked, endLsn),
    },
    pino({ level: 'silent' }),
    new TypeCatalog(),
    () => ['id'],
  );
  const messages = [
    b.begin({ finalLsn: 100n, commitTime: 1n, xid: 7 }),
    ...body,
    b.commit({ commitLsn: 100n, endLsn: 108n, commitTime: 1n }),
  ];
  const relations = [
    b.relation({ id: FULL, name: 'orders', replicaIdentity: 'full', columns: columns(true) }),
    b.relation({ id: KEYED, name: 'orders', columns: columns(false) }),
  ];
  for (const m of [...relations, ...messages]) reader.handle(decodePgoutput(m));
  return seen;
}

function reasonOf(definition: TriggerDefinition, change: Change | undefined) {
  const compiled = new TriggerIndex([definition]).named(definition.name);
  assert.ok(compiled && change);
  return filterReason(compiled, change, rowImages(change));
}

const skip = trigger('skip', { skip_unchanged_updates: true });
const row = (status: string, note: string | undefined): TupleData => ['1', status, note];

test('skip_unchanged_updates with the whole old row: a no-op update does not fire, a real one does', () => {
  const [noop, changed, insert, del] = changes(
    b.update(FULL, row('paid', 'x'), { oldTuple: row('paid', 'x') }),
    b.update(FULL, row('paid', 'y'), { oldTuple: row('paid', 'x') }),
    b.insert(FULL, row('new', 'x')),
    b.del(FULL, { oldTuple: row('paid', 'y') }),
  );
  assert.equal(reasonOf(skip, noop), 'unchanged');
  assert.equal(reasonOf(skip, changed), null);
  // Only updates are compared; and without the option a no-op update fires as before.
  assert.equal(reasonOf(skip, insert), null);
  assert.equal(reasonOf(skip, del), null);
  assert.equal(reasonOf(trigger('plain'), noop), null);
});

test('skip_unchanged_updates compares only the listed update columns when columns is set', () => {
  const [noteOnly, statusChanged] = changes(
    b.update(FULL, row('paid', 'y'), { oldTuple: row('paid', 'x') }),
    b.update(FULL, row('sent', 'x'), { oldTuple: row('paid', 'x') }),
  );
  const listed = trigger('listed', { skip_unchanged_updates: true, columns: ['status'] });
  assert.equal(reasonOf(listed, noteOnly), 'columns');
  assert.equal(reasonOf(listed, statusChanged), null);
});

test('an unchanged TOASTed value counts as unchanged; a NULL set to a value is a change', () => {
  const [toastOnly, toastAndStatus, fromNull] = changes(
    b.update(FULL, row('paid', undefined), { oldTuple: row('paid', 'big') }),
    b.update(FULL, row('sent', undefined), { oldTuple: row('paid', 'big') }),
    b.update(FULL, ['1', 'paid', 'x'], { oldTuple: ['1', 'paid', null] }),
  );
  assert.equal(reasonOf(skip, toastOnly), 'unchanged');
  assert.equal(reasonOf(skip, toastAndStatus), null);
  assert.equal(reasonOf(skip, fromNull), null);
});

test('without the old row (no REPLICA IDENTITY FULL) every update fires: no change is ever missed', () => {
  const [noop, keyChanged] = changes(
    b.update(KEYED, row('paid', 'x')),
    b.update(KEYED, ['2', 'paid', 'x'], { keyTuple: ['1', null, null] }),
  );
  assert.equal(reasonOf(skip, noop), null);
  assert.equal(reasonOf(skip, keyChanged), null);
  // A key-only update column list is exact even then: the old key travels when it changes.
  assert.equal(reasonOf(trigger('key', { skip_unchanged_updates: true, columns: ['id'] }), noop), 'columns');
});

test('trigger_on_replication: false skips the changes of a transaction with an Origin message', () => {
  const replicated = changes(
    b.origin({ originLsn: 55n, name: 'pg_16401' }),
    b.insert(KEYED, row('new', 'x')),
    b.truncate([KEYED]),
  );
  const local = changes(b.insert(KEYED, row('new', 'x')));
  assert.equal(replicated[0]?.txn.origin, 'pg_16401');
  assert.equal(local[0]?.txn.origin, undefined);
  const hasura = trigger('hasura', { trigger_on_replication: false });
  assert.equal(reasonOf(hasura, replicated[0]), 'origin');
  assert.equal(reasonOf(hasura, replicated[1]), 'origin');
  assert.equal(reasonOf(hasura, local[0]), null);
  assert.equal(reasonOf(trigger('all'), replicated[0]), null);
  // The operation filter still names itself first.
  assert.equal(reasonOf({ ...hasura, operations: ['delete'] }, replicated[0]), 'operation');
});

test('skip_unchanged_updates counts as needing REPLICA IDENTITY FULL, with a warning', () => {
  const table: TableInfo = {
    schema: 'public',
    name: 'orders',
    oid: 1,
    replicaIdentity: 'd',
    hasPrimaryKey: true,
    primaryKey: ['id'],
    partitioned: false,
  };
  const [need] = identityNeeds([{ ...skip, operations: ['update'] }], [table]);
  assert.equal(need?.level, 'warn');
  assert.equal(need?.statement, 'ALTER TABLE "public"."orders" REPLICA IDENTITY FULL');
  assert.deepEqual(need?.reasons, [
    'trigger skip: skip_unchanged_updates cannot compare old values, so every update fires',
    'trigger skip: old rows carry only the key',
  ]);
  // Insert-only, or already FULL: nothing to ask for.
  assert.deepEqual(identityNeeds([{ ...skip, operations: ['insert'] }], [table]), []);
  assert.deepEqual(identityNeeds([skip], [{ ...table, replicaIdentity: 'f' }]), []);
});
