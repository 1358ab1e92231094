import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { ChunkWindows, WATERMARK_SQL, watermarkContent } from '../../src/backfill/watermarks.js';
import { CheckpointTracker } from '../../src/checkpoint/tracker.js';
import type { TupleData } from '../../src/source/change.js';
import { decodePgoutput } from '../../src/source/pgoutput-decoder.js';
import {
  describeRelation,
  type TransactionInfo,
  TransactionReader,
} from '../../src/source/transaction-reader.js';
import { TypeCatalog } from '../../src/source/type-catalog.js';
import * as b from '../helpers/pgoutput-builder.js';

const INT4 = 23;
const TEXT = 25;
const ORDERS = 16384;
const OTHER = 16390;
// Spelt out: it stands in the WAL, where whatever else decodes the database's logical messages sees it.
const WATERMARK_PREFIX = 'walhook-watermark';
const columns = [
  { name: 'id', typeOid: INT4, typeModifier: -1, isKey: true },
  { name: 'note', typeOid: TEXT, typeModifier: -1, isKey: false },
];

/** The chunk's relation as the table reader builds it: the same id and key as the stream's. */
const relation = describeRelation(
  { id: ORDERS, schema: 'public', name: 'orders', replicaIdentity: 'default', columns: [...columns] },
  new TypeCatalog(),
  () => undefined,
);

function harness() {
  const windows = new ChunkWindows();
  const tracker = new CheckpointTracker(0n, () => {});
  const reader = new TransactionReader(
    {
      begin: (finalLsn) => tracker.begin(finalLsn),
      change: (change) => windows.observe(change),
      message: (message) => windows.message(message),
      commit: (txn, endLsn) => tracker.commit(txn.tracked, endLsn),
    },
    pino({ level: 'silent' }),
    new TypeCatalog(),
    () => undefined,
  );
  let lsn = 1000n;
  const txn = (...body: Buffer[]) => {
    lsn += 100n;
    const messages = [
      b.begin({ finalLsn: lsn, commitTime: 1n, xid: Number(lsn) }),
      ...body,
      b.commit({ commitLsn: lsn, endLsn: lsn + 8n, commitTime: 1n }),
    ];
    for (const m of messages) reader.handle(decodePgoutput(m));
  };
  const mark = (chunk: string, which: 'low' | 'high') =>
    b.message({
      transactional: true,
      lsn,
      prefix: WATERMARK_PREFIX,
      content: watermarkContent(chunk, which),
    });
  txn(b.relation({ id: ORDERS, name: 'orders', columns }), b.relation({ id: OTHER, name: 'other', columns }));
  return { windows, txn, mark };
}

function chunk(id: string, ids: number[]) {
  const emitted: { rows: TupleData[]; txn: TransactionInfo; committedThen: boolean }[] = [];
  return {
    emitted,
    chunk: {
      id,
      relation,
      rows: ids.map((n): TupleData => [String(n), `row ${n}`]),
      emit: (rows: TupleData[], txn: TransactionInfo) =>
        emitted.push({ rows, txn, committedThen: txn.tracked.committed }),
    },
  };
}

const ids = (rows: TupleData[]) => rows.map((row) => Number(row[0]));

test('rows changed between the marks are left to the stream; the rest are handed on at the high mark', () => {
  const h = harness();
  const c = chunk('run/1', [1, 2, 3, 4, 5, 6]);
  h.windows.register(c.chunk);
  // Before the low mark: the read saw these, so the rows stay in the chunk.
  h.txn(b.update(ORDERS, ['1', 'early']));
  h.txn(h.mark('run/1', 'low'));
  h.txn(b.update(ORDERS, ['2', 'changed']));
  h.txn(b.del(ORDERS, { keyTuple: ['3', null] }));
  // A key change: the row left key 4.
  h.txn(b.update(ORDERS, ['40', 'moved'], { keyTuple: ['4', null] }));
  // Another table's row 5 is another row.
  h.txn(b.update(OTHER, ['5', 'other table']));
  assert.equal(c.emitted.length, 0);
  h.txn(h.mark('run/1', 'high'));
  assert.equal(c.emitted.length, 1);
  assert.deepEqual(ids(c.emitted[0]?.rows ?? []), [1, 5, 6]);
  assert.equal(h.windows.size, 0);
  // After the high mark the chunk is gone: a change of its rows goes its own way.
  h.txn(b.update(ORDERS, ['6', 'later']));
  assert.equal(c.emitted.length, 1);
});

test('the rows are handed on inside the high mark transaction, whose LSN the checkpoint holds', () => {
  const h = harness();
  const c = chunk('run/2', [1]);
  h.windows.register(c.chunk);
  h.txn(h.mark('run/2', 'low'));
  h.txn(h.mark('run/2', 'high'));
  const handed = c.emitted[0];
  assert.ok(handed);
  assert.equal(handed.txn.tracked.finalLsn, handed.txn.finalLsn);
  assert.equal(handed.committedThen, false, 'handed on before the commit, so its events hold it');
});

test('a truncate between the marks empties the chunk', () => {
  const h = harness();
  const c = chunk('run/3', [1, 2]);
  h.windows.register(c.chunk);
  h.txn(h.mark('run/3', 'low'));
  h.txn(b.truncate([ORDERS]));
  h.txn(h.mark('run/3', 'high'));
  assert.deepEqual(c.emitted[0]?.rows, []);
});

test('marks of unknown chunks, replayed marks and a high mark without its low one do nothing', () => {
  const h = harness();
  const c = chunk('run/4', [1]);
  h.txn(h.mark('run/4', 'low'));
  h.windows.register(c.chunk);
  // Its low mark went by before it was registered: no window, so the high mark cannot hand it on.
  h.txn(h.mark('run/4', 'high'));
  assert.equal(c.emitted.length, 0);
  h.txn(h.mark('run/4', 'low'));
  h.txn(h.mark('someone-else/1', 'high'));
  h.txn(
    b.message({ transactional: true, lsn: 1n, prefix: WATERMARK_PREFIX, content: 'not json' }),
    b.message({ transactional: true, lsn: 1n, prefix: 'walhook', content: '2026-11-28T00:00:00Z' }),
  );
  h.txn(h.mark('run/4', 'high'));
  assert.equal(c.emitted.length, 1);
  h.txn(h.mark('run/4', 'high'));
  assert.equal(c.emitted.length, 1);
});

test('a chunk whose rows are not read yet is not handed on; forget drops it', () => {
  const h = harness();
  const c = chunk('run/5', [1]);
  const unread = { ...c.chunk, rows: null };
  h.windows.register(unread);
  h.txn(h.mark('run/5', 'low'));
  h.txn(h.mark('run/5', 'high'));
  assert.equal(c.emitted.length, 0);
  h.windows.forget('run/5');
  assert.equal(h.windows.size, 0);
});

test('the marks are written with the prefix they are read by', () => {
  assert.match(WATERMARK_SQL, new RegExp(`pg_logical_emit_message\\(true, '${WATERMARK_PREFIX}', \\$1\\)`));
});
