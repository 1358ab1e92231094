import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Acknowledger } from '../../src/checkpoint/acknowledger.js';
import { CheckpointTracker } from '../../src/checkpoint/tracker.js';
import { decodePgoutput } from '../../src/source/pgoutput-decoder.js';
import { type Change, TransactionReader } from '../../src/source/transaction-reader.js';
import { TypeCatalog } from '../../src/source/type-catalog.js';
import * as b from '../helpers/pgoutput-builder.js';

const INT4 = 23;
const TEXT = 25;
const RELATION = b.relation({
  id: 16384,
  name: 'orders',
  columns: [
    { name: 'id', typeOid: INT4, isKey: true },
    { name: 'note', typeOid: TEXT },
  ],
});

/** Reader, tracker and acknowledger wired as in the pipeline, fed with pgoutput bytes. */
function harness() {
  const logger = pino({ level: 'silent' });
  const sent: bigint[] = [];
  const changes: Change[] = [];
  const settles: (() => void)[] = [];
  const tracker = new CheckpointTracker(0n, () => {});
  const acknowledger = new Acknowledger(
    tracker,
    (lsn) => {
      sent.push(lsn);
      return true;
    },
    logger,
  );
  const reader = new TransactionReader(
    {
      begin: (finalLsn) => tracker.begin(finalLsn),
      change: (change) => {
        changes.push(change);
        tracker.add(change.txn.tracked);
        settles.push(() => tracker.settle(change.txn.tracked));
      },
      message: () => {},
      commit: (txn, endLsn) => tracker.commit(txn.tracked, endLsn),
    },
    logger,
    new TypeCatalog(),
  );
  const feed = (...messages: Buffer[]) => {
    for (const m of messages) reader.handle(decodePgoutput(m));
  };
  return { tracker, acknowledger, reader, feed, sent, changes, settles };
}

const txn = (finalLsn: bigint, ids: number[], endLsn = finalLsn + 40n) => [
  b.begin({ finalLsn, commitTime: 1n, xid: Number(finalLsn) }),
  ...ids.map((id) => b.insert(16384, [String(id), `row ${id}`])),
  b.commit({ commitLsn: finalLsn, endLsn, commitTime: 1n }),
];

test('a keepalive mid-transaction carrying a position past its commit confirms nothing', () => {
  const h = harness();
  const [beginMsg, ...rest] = txn(1000n, [1, 2, 3]);
  h.feed(RELATION, beginMsg as Buffer, ...rest.slice(0, 2));
  h.acknowledger.keepalive(9000n, true);
  assert.deepEqual(h.sent, [0n], 'the reply carries the confirmable position, not the server position');
  h.feed(...rest.slice(2));
  h.acknowledger.keepalive(9000n, true);
  assert.equal(h.tracker.confirmable, 0n, 'committed but unsettled');
  for (const settle of h.settles) settle();
  assert.equal(h.tracker.confirmable, 1040n);
  h.acknowledger.keepalive(9000n, true);
  assert.deepEqual(h.sent.at(-1), 9000n, 'idle: the server position');
  h.acknowledger.stop();
});

test('after a reconnect, transactions already received are skipped and a cut-off one resumes at its index', () => {
  const h = harness();
  h.feed(RELATION, ...txn(1000n, [1, 2]));
  const second = txn(2000n, [3, 4, 5, 6]);
  h.feed(RELATION, ...second.slice(0, 3));
  assert.deepEqual(
    h.changes.map((c) => [c.txn.finalLsn, c.index]),
    [
      [1000n, 0],
      [1000n, 1],
      [2000n, 0],
      [2000n, 1],
    ],
  );

  h.reader.reset();
  // Postgres resends from the confirmed position: both transactions again, then a new one.
  h.feed(RELATION, ...txn(1000n, [1, 2]), RELATION, ...second, ...txn(3000n, [7]));
  assert.deepEqual(
    h.changes.map((c) => [c.txn.finalLsn, c.index, c.newTuple?.[0]]),
    [
      [1000n, 0, '1'],
      [1000n, 1, '2'],
      [2000n, 0, '3'],
      [2000n, 1, '4'],
      [2000n, 2, '5'],
      [2000n, 3, '6'],
      [3000n, 0, '7'],
    ],
    'nothing twice, nothing missing, indexes stable',
  );
  for (const settle of h.settles) settle();
  assert.equal(h.tracker.confirmable, 3040n);
  assert.equal(h.tracker.unsettledTransactions, 0);
  h.acknowledger.stop();
});

test('a truncate of several tables counts one change per table', () => {
  const h = harness();
  const other = b.relation({
    id: 16390,
    name: 'items',
    columns: [{ name: 'id', typeOid: INT4, isKey: true }],
  });
  h.feed(
    RELATION,
    other,
    b.begin({ finalLsn: 500n, commitTime: 1n, xid: 9 }),
    b.insert(16384, ['1', null]),
    b.truncate([16384, 16390], { cascade: false, restartIdentity: false }),
    b.commit({ commitLsn: 500n, endLsn: 540n, commitTime: 1n }),
  );
  assert.deepEqual(
    h.changes.map((c) => [c.op, c.relation.name, c.index]),
    [
      ['INSERT', 'orders', 0],
      ['TRUNCATE', 'orders', 1],
      ['TRUNCATE', 'items', 2],
    ],
  );
  h.acknowledger.stop();
});

test('a change for an unknown relation is a protocol error', () => {
  const h = harness();
  assert.throws(
    () => h.feed(b.begin({ finalLsn: 10n, commitTime: 1n, xid: 1 }), b.insert(77, ['1'])),
    (err: Error & { code?: string }) => err.code === 'WALHOOK_ERR_PROTOCOL',
  );
  h.acknowledger.stop();
});

test('finishTransaction hands on the open transaction to its commit and nothing after it', async () => {
  const h = harness();
  const first = txn(1000n, [1, 2]);
  const second = txn(2000n, [3]);
  h.feed(RELATION, ...first.slice(0, 2));
  let finished = false;
  const done = h.reader.finishTransaction().then(() => {
    finished = true;
  });
  await Promise.resolve();
  assert.equal(finished, false, 'the transaction is still open');
  h.feed(...first.slice(2), ...second);
  await done;
  assert.deepEqual(
    h.changes.map((c) => c.newTuple?.[0]),
    ['1', '2'],
    'the second transaction, already parsed, is not handed on',
  );
  for (const settle of h.settles) settle();
  assert.equal(h.tracker.confirmable, 1040n, 'the finished transaction is confirmable in whole');
  h.acknowledger.stop();
});

test('finishTransaction between transactions resolves at once and hands on nothing more', async () => {
  const h = harness();
  h.feed(RELATION, ...txn(1000n, [1]));
  await h.reader.finishTransaction();
  h.feed(...txn(2000n, [2]));
  assert.deepEqual(
    h.changes.map((c) => c.newTuple?.[0]),
    ['1'],
  );
  h.acknowledger.stop();
});
