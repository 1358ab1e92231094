import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWalhookError } from '../../src/core/errors.js';
import type { PgoutputMessage, ReplicaIdentity } from '../../src/source/change.js';
import { decodePgoutput } from '../../src/source/pgoutput-decoder.js';
import * as pgo from '../helpers/pgoutput-builder.js';

const ABOVE_2_32 = 0x1_0000_0010n;
const ABOVE_2_53 = 2n ** 53n + 7n;
const MAX_U64 = 2n ** 64n - 1n;

function assertProtocolError(buf: Buffer, message?: RegExp): void {
  assert.throws(
    () => decodePgoutput(buf),
    (err: unknown) => {
      assert.ok(isWalhookError(err, 'WALHOOK_ERR_PROTOCOL'), `expected WALHOOK_ERR_PROTOCOL, got ${err}`);
      assert.doesNotMatch(err.message, /\n/);
      if (message) assert.match(err.message, message);
      return true;
    },
  );
}

const samples: PgoutputMessage[] = [
  { tag: 'begin', finalLsn: ABOVE_2_32, commitTime: 789_012_345_678_901n, xid: 0xfffffff0 },
  { tag: 'begin', finalLsn: ABOVE_2_53, commitTime: MAX_U64, xid: 1 },
  { tag: 'commit', flags: 0, commitLsn: ABOVE_2_53, endLsn: MAX_U64, commitTime: 1n },
  { tag: 'origin', originLsn: ABOVE_2_32, name: 'upstream-é' },
  {
    tag: 'relation',
    relation: {
      id: 0xfffffffe,
      schema: 'app',
      name: 'orders',
      replicaIdentity: 'default',
      columns: [
        { name: 'tenant', typeOid: 23, typeModifier: -1, isKey: true },
        { name: 'id', typeOid: 20, typeModifier: -1, isKey: true },
        { name: 'label', typeOid: 1043, typeModifier: 24, isKey: false },
        { name: 'naïve ✓', typeOid: 25, typeModifier: -1, isKey: false },
      ],
    },
  },
  { tag: 'type', typeOid: 16_385, schema: 'public', name: 'mood' },
  { tag: 'insert', relationId: 16_390, newTuple: ['1', null, undefined, '', 'héllo 🐘 中文'] },
  { tag: 'update', relationId: 1, keyTuple: null, oldTuple: null, newTuple: ['1', undefined] },
  { tag: 'update', relationId: 1, keyTuple: ['1', null], oldTuple: null, newTuple: ['2', 'b'] },
  { tag: 'update', relationId: 1, keyTuple: null, oldTuple: ['1', 'a'], newTuple: ['1', 'b'] },
  { tag: 'delete', relationId: 2, keyTuple: ['7', null], oldTuple: null },
  { tag: 'delete', relationId: 2, keyTuple: null, oldTuple: ['7', 'x'] },
  { tag: 'truncate', relationIds: [1, 0xffffffff], cascade: true, restartIdentity: false },
  { tag: 'truncate', relationIds: [], cascade: false, restartIdentity: true },
  { tag: 'message', transactional: true, lsn: ABOVE_2_53, prefix: 'walhook', content: Buffer.from('x') },
  { tag: 'message', transactional: false, lsn: 1n, prefix: '', content: Buffer.of(0, 255, 0) },
];

test('every message kind round-trips through the builder', () => {
  for (const sample of samples) {
    assert.deepEqual(decodePgoutput(pgo.encode(sample)), sample, sample.tag);
  }
});

test('Begin from hand-written bytes: LSN above 2^32 and 2^53, unsigned xid', () => {
  const buf = Buffer.from(`42${'0000000100000010'}${'0020000000000007'}${'fffffff0'}`, 'hex');
  assert.deepEqual(decodePgoutput(buf), {
    tag: 'begin',
    finalLsn: ABOVE_2_32,
    commitTime: ABOVE_2_53,
    xid: 0xfffffff0,
  });
});

test('Insert from hand-written bytes: text, null and unchanged-TOAST columns', () => {
  const hex = [
    '49', // 'I'
    '00004006', // relation 16390
    '4e', // 'N'
    '0003', // 3 columns
    '74',
    '00000004',
    'f09f9098', // 't', 4 bytes, U+1F418
    '6e', // 'n'
    '75', // 'u'
  ].join('');
  assert.deepEqual(decodePgoutput(Buffer.from(hex, 'hex')), {
    tag: 'insert',
    relationId: 16_390,
    newTuple: ['🐘', null, undefined],
  });
});

test('Relation: every replica identity, key flags from bit 1 only, pg_catalog namespace', () => {
  const identities: ReplicaIdentity[] = ['default', 'nothing', 'full', 'index'];
  for (const replicaIdentity of identities) {
    const decoded = decodePgoutput(pgo.relation({ id: 5, name: 't', replicaIdentity, columns: [] }));
    assert.equal(decoded.tag === 'relation' && decoded.relation.replicaIdentity, replicaIdentity);
  }
  const buf = new pgo.ByteWriter().char('R').int32(5).cstring('').cstring('t').char('i').int16(2);
  buf.int8(0b11).cstring('a').int32(23).int32(-1).int8(0b10).cstring('b').int32(23).int32(-1);
  const decoded = decodePgoutput(buf.toBuffer());
  assert.equal(decoded.tag, 'relation');
  assert.equal(decoded.relation.schema, 'pg_catalog');
  assert.deepEqual(
    decoded.relation.columns.map((c) => c.isKey),
    [true, false],
  );
});

test('Truncate options: cascade is bit 1, restart identity bit 2', () => {
  for (const [options, cascade, restartIdentity] of [
    [0, false, false],
    [1, true, false],
    [2, false, true],
    [3, true, true],
  ] as const) {
    const buf = new pgo.ByteWriter().char('T').int32(1).int8(options).int32(42).toBuffer();
    assert.deepEqual(decodePgoutput(buf), { tag: 'truncate', relationIds: [42], cascade, restartIdentity });
  }
});

test('Message content is a copy that outlives the input buffer', () => {
  const buf = pgo.message({ transactional: true, lsn: 1n, prefix: 'p', content: 'abc' });
  const decoded = decodePgoutput(buf);
  buf.fill(0);
  assert.equal(decoded.tag === 'message' && decoded.content.toString(), 'abc');
});

test('bytes after a complete message are ignored', () => {
  const buf = Buffer.concat([pgo.insert(3, ['a']), Buffer.from('garbage')]);
  assert.deepEqual(decodePgoutput(buf), { tag: 'insert', relationId: 3, newTuple: ['a'] });
});

test('every truncation of every message kind is a protocol error', () => {
  for (const sample of samples) {
    const buf = pgo.encode(sample);
    for (let length = 0; length < buf.length; length++) assertProtocolError(buf.subarray(0, length));
  }
});

test('malformed messages throw WALHOOK_ERR_PROTOCOL naming what and where', () => {
  const w = () => new pgo.ByteWriter();
  assertProtocolError(Buffer.alloc(0), /truncated.* at offset 0$/);
  assertProtocolError(Buffer.from('Z'), /unknown tag 0x5a \('Z'\) at offset 0$/);
  assertProtocolError(Buffer.of(0), /unknown tag 0x00 at offset 0$/);
  // Binary values are only sent when asked for with the `binary` option, which walhook never sets.
  assertProtocolError(
    w().char('I').int32(1).char('N').int16(1).char('b').int32(1).int8(7).toBuffer(),
    /binary/,
  );
  assertProtocolError(
    w().char('I').int32(1).char('N').int16(2).char('n').char('x').toBuffer(),
    /Insert: unknown tuple value kind 0x78 \('x'\) in column 1 at offset 9$/,
  );
  assertProtocolError(w().char('I').int32(1).char('K').tuple(['1']).toBuffer(), /expected new tuple 'N'/);
  assertProtocolError(
    w().char('U').int32(1).char('X').tuple(['1']).toBuffer(),
    /'K', 'O' or 'N'.* offset 5$/,
  );
  assertProtocolError(w().char('U').int32(1).char('K').tuple(['1']).char('O').tuple(['1']).toBuffer(), /'N'/);
  assertProtocolError(w().char('D').int32(1).char('N').tuple(['1']).toBuffer(), /Delete: expected/);
  assertProtocolError(
    w().char('R').int32(1).cstring('public').cstring('t').char('z').int16(0).toBuffer(),
    /unknown replica identity 0x7a \('z'\) at offset 14$/,
  );
  assertProtocolError(w().char('Y').int32(1).char('p').toBuffer(), /without NUL terminator at offset 5$/);
  assertProtocolError(
    w().char('I').int32(1).char('N').int16(1).char('t').int32(1000).char('a').toBuffer(),
    /1000/,
  );
  assertProtocolError(w().char('I').int32(1).char('N').int16(0xffff).char('n').toBuffer(), /truncated/);
  assertProtocolError(w().char('T').int32(0xffffffff).int8(0).int32(1).toBuffer(), /Truncate: truncated/);
  assertProtocolError(
    w().char('M').int8(1).int64(1n).cstring('p').int32(-1).toBuffer(),
    /^pgoutput Message: truncated/,
  );
});

test('random bytes after a valid tag never escape as anything but a protocol error', () => {
  let seed = 42;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed;
  };
  const tags = 'BCORYIUDTM';
  for (let i = 0; i < 5000; i++) {
    const buf = Buffer.alloc(1 + (next() % 40));
    for (let j = 0; j < buf.length; j++) buf[j] = next() % 256;
    buf[0] = tags.charCodeAt(next() % tags.length);
    try {
      decodePgoutput(buf);
    } catch (err) {
      assert.ok(isWalhookError(err, 'WALHOOK_ERR_PROTOCOL'), `${buf.toString('hex')}: ${err}`);
    }
  }
});
