import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Acknowledger } from '../../src/checkpoint/acknowledger.js';
import { CheckpointTracker } from '../../src/checkpoint/tracker.js';
import { isWalhookError } from '../../src/core/errors.js';
import type { TrackedTransaction } from '../../src/core/settlement.js';

/** Registers one event of `txn` and returns what settles it, as the router and a routed event do. */
function track(t: CheckpointTracker, txn: TrackedTransaction): () => void {
  t.add(txn);
  return () => t.settle(txn);
}

function tracker() {
  const advances: bigint[] = [];
  const t = new CheckpointTracker(0n, (lsn) => advances.push(lsn));
  return { t, advances };
}

test('out-of-order settlement confirms only the settled prefix', () => {
  const { t, advances } = tracker();
  const a = t.begin(100n);
  const settleA = track(t, a);
  t.commit(a, 110n);
  const b = t.begin(200n);
  const settleB = track(t, b);
  t.commit(b, 210n);
  const c = t.begin(300n);
  const settleC = track(t, c);
  t.commit(c, 310n);

  settleC();
  settleB();
  assert.equal(t.confirmable, 0n, 'the oldest transaction is still unsettled');
  settleA();
  assert.equal(t.confirmable, 310n);
  assert.deepEqual(advances, [310n]);
  assert.equal(t.unsettledTransactions, 0);
  assert.equal(t.inFlightEvents, 0);
});

test('a transaction that matched nothing is settled at its commit', () => {
  const { t } = tracker();
  const a = t.begin(100n);
  t.commit(a, 120n);
  assert.equal(t.confirmable, 120n);
});

test('a transaction waits for every one of its events', () => {
  const { t } = tracker();
  const a = t.begin(100n);
  const s1 = track(t, a);
  const s2 = track(t, a);
  t.commit(a, 120n);
  s1();
  assert.equal(t.confirmable, 0n);
  s2();
  assert.equal(t.confirmable, 120n);
});

test('events settled before the commit arrives do not settle the transaction early', () => {
  const { t } = tracker();
  const a = t.begin(100n);
  track(t, a)();
  assert.equal(t.confirmable, 0n);
  t.commit(a, 130n);
  assert.equal(t.confirmable, 130n);
});

test('a keepalive mid-transaction never confirms past the open transaction', () => {
  const { t } = tracker();
  const a = t.begin(1000n);
  const settle = track(t, a);
  t.serverPosition(5000n);
  assert.equal(t.confirmable, 0n, 'half-received transaction');
  t.commit(a, 1010n);
  t.serverPosition(5000n);
  assert.equal(t.confirmable, 0n, 'committed but unsettled');
  settle();
  assert.equal(t.confirmable, 1010n);
  t.serverPosition(5000n);
  assert.equal(t.confirmable, 5000n, 'idle: follow the server');
});

test('a keepalive behind the confirmed position is ignored', () => {
  const { t } = tracker();
  t.serverPosition(5000n);
  t.serverPosition(4000n);
  assert.equal(t.confirmable, 5000n);
});

test('a transaction may begin exactly at the confirmed position', () => {
  const { t } = tracker();
  t.serverPosition(5000n);
  const a = t.begin(5000n);
  t.commit(a, 5050n);
  assert.equal(t.confirmable, 5050n);
});

test('an attempt to move the position back throws', () => {
  const { t } = tracker();
  t.serverPosition(5000n);
  assert.throws(
    () => t.begin(4000n),
    (err) => isWalhookError(err, 'WALHOOK_ERR_CHECKPOINT_REGRESSION'),
  );
});

test('begin while another transaction is open throws', () => {
  const { t } = tracker();
  t.begin(100n);
  assert.throws(
    () => t.begin(200n),
    (err) => isWalhookError(err, 'WALHOOK_ERR_CHECKPOINT_REGRESSION'),
  );
});

test('the queue compacts without losing order over many transactions', () => {
  const { t } = tracker();
  const settles: (() => void)[] = [];
  for (let i = 1; i <= 5000; i++) {
    const txn = t.begin(BigInt(i * 10));
    settles.push(track(t, txn));
    t.commit(txn, BigInt(i * 10 + 5));
  }
  for (let i = 0; i < 4000; i++) settles[i]?.();
  assert.equal(t.confirmable, 40005n);
  assert.equal(t.unsettledTransactions, 1000);
  assert.equal(t.oldestUnsettled?.finalLsn, 40010n);
  for (let i = 4999; i >= 4000; i--) settles[i]?.();
  assert.equal(t.confirmable, 50005n);
});

test('the commit time of the oldest unsettled transaction follows the settled prefix', () => {
  const { t } = tracker();
  assert.equal(t.oldestUnsettledCommitTime, null, 'nothing unsettled');
  const a = t.begin(100n);
  assert.equal(t.oldestUnsettledCommitTime, null, 'not known yet');
  a.commitTime = 1_000n;
  const settleA = track(t, a);
  t.commit(a, 110n);
  const b = t.begin(200n);
  b.commitTime = 2_000n;
  const settleB = track(t, b);
  t.commit(b, 210n);
  assert.equal(t.oldestUnsettledCommitTime, 1_000n);
  settleB();
  assert.equal(t.oldestUnsettledCommitTime, 1_000n, 'a newer settlement does not move it');
  settleA();
  assert.equal(t.oldestUnsettledCommitTime, null);
});

test('the acknowledger keeps the newest server WAL end reported by keepalives', () => {
  const t = new CheckpointTracker();
  const ack = new Acknowledger(t, () => true, pino({ level: 'silent' }));
  assert.equal(ack.serverWalEnd, 0n);
  ack.keepalive(5000n, false);
  ack.keepalive(4000n, false);
  assert.equal(ack.serverWalEnd, 5000n, 'a reconnect may report an older position');
  const a = t.begin(6000n);
  track(t, a);
  ack.keepalive(9000n, false);
  assert.equal(ack.serverWalEnd, 9000n, 'reported even while the confirmed position cannot follow');
  assert.equal(t.confirmable, 5000n);
  ack.stop();
});
