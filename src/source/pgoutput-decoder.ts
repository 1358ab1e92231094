import { WalhookError } from '../core/errors.js';
import type { PgoutputMessage, RelationColumn, ReplicaIdentity, TupleData } from './change.js';

// Tag and kind bytes, compared as numbers so the hot path never builds a one-character string.
const BEGIN = 0x42; // B
const COMMIT = 0x43; // C
const ORIGIN = 0x4f; // O
const RELATION = 0x52; // R
const TYPE = 0x59; // Y
const INSERT = 0x49; // I
const UPDATE = 0x55; // U
const DELETE = 0x44; // D
const TRUNCATE = 0x54; // T
const MESSAGE = 0x4d; // M
const KEY_TUPLE = 0x4b; // K
const OLD_TUPLE = 0x4f; // O
const NEW_TUPLE = 0x4e; // N
const TEXT_VALUE = 0x74; // t
const NULL_VALUE = 0x6e; // n
const UNCHANGED_TOAST_VALUE = 0x75; // u
const BINARY_VALUE = 0x62; // b

const MESSAGE_NAMES: Readonly<Record<number, string>> = {
  [BEGIN]: 'Begin',
  [COMMIT]: 'Commit',
  [ORIGIN]: 'Origin',
  [RELATION]: 'Relation',
  [TYPE]: 'Type',
  [INSERT]: 'Insert',
  [UPDATE]: 'Update',
  [DELETE]: 'Delete',
  [TRUNCATE]: 'Truncate',
  [MESSAGE]: 'Message',
};

const REPLICA_IDENTITIES: Readonly<Record<number, ReplicaIdentity>> = {
  100: 'default',
  110: 'nothing',
  102: 'full',
  105: 'index',
};

function describeByte(byte: number): string {
  const hex = `0x${byte.toString(16).padStart(2, '0')}`;
  return byte >= 0x20 && byte < 0x7f ? `${hex} ('${String.fromCharCode(byte)}')` : hex;
}

/** A forward-only cursor that checks every read, so malformed input becomes a coded error, not a RangeError. */
class Reader {
  offset = 0;

  constructor(private readonly buf: Buffer) {}

  fail(problem: string, at: number): WalhookError {
    const name = MESSAGE_NAMES[this.buf[0] ?? -1];
    const what = name === undefined ? 'pgoutput' : `pgoutput ${name}`;
    return new WalhookError('WALHOOK_ERR_PROTOCOL', `${what}: ${problem} at offset ${at}`);
  }

  /** Reserves `n` bytes and returns where they start. */
  private take(n: number): number {
    const at = this.offset;
    if (at + n > this.buf.length) {
      throw this.fail(`truncated, needs ${n} bytes but ${this.buf.length - at} left`, at);
    }
    this.offset = at + n;
    return at;
  }

  u8(): number {
    return this.buf.readUInt8(this.take(1));
  }

  u16(): number {
    return this.buf.readUInt16BE(this.take(2));
  }

  u32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }

  i32(): number {
    return this.buf.readInt32BE(this.take(4));
  }

  u64(): bigint {
    return this.buf.readBigUInt64BE(this.take(8));
  }

  cstring(): string {
    const start = this.offset;
    const end = this.buf.indexOf(0, start);
    if (end === -1) throw this.fail('string without NUL terminator', start);
    this.offset = end + 1;
    return this.buf.toString('utf8', start, end);
  }

  text(length: number): string {
    const start = this.take(length);
    // What toString('utf8', …) calls once it has checked its arguments: `take` has checked the bounds,
    // and this runs once per column value.
    return (this.buf as Utf8Slicing).utf8Slice(start, start + length);
  }

  /** A copy: the input is usually a view into the connection's read buffer, which pg-protocol reuses. */
  bytes(length: number): Buffer {
    const start = this.take(length);
    return Buffer.from(this.buf.subarray(start, start + length));
  }
}

/** Node's Buffer method behind `toString('utf8', start, end)`, left out of its type declarations. */
type Utf8Slicing = Buffer & { utf8Slice(start: number, end: number): string };

function readTuple(r: Reader): TupleData {
  const count = r.u16();
  // Sized at once: growing from empty by push would reserve room for 17 values per row.
  const values: TupleData = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = r.offset;
    const kind = r.u8();
    if (kind === TEXT_VALUE) values[i] = r.text(r.u32());
    else if (kind === NULL_VALUE) values[i] = null;
    else if (kind === UNCHANGED_TOAST_VALUE) values[i] = undefined;
    else if (kind === BINARY_VALUE) throw r.fail(`binary value in column ${i}, walhook asks for text`, at);
    else throw r.fail(`unknown tuple value kind ${describeByte(kind)} in column ${i}`, at);
  }
  return values;
}

function expectNewTuple(r: Reader): TupleData {
  const at = r.offset;
  const kind = r.u8();
  if (kind !== NEW_TUPLE) throw r.fail(`expected new tuple 'N', got ${describeByte(kind)}`, at);
  return readTuple(r);
}

/** Postgres sends an empty namespace for pg_catalog. */
function readNamespace(r: Reader): string {
  const schema = r.cstring();
  return schema === '' ? 'pg_catalog' : schema;
}

function readRelation(r: Reader): PgoutputMessage {
  const id = r.u32();
  const schema = readNamespace(r);
  const name = r.cstring();
  const identityAt = r.offset;
  const identityByte = r.u8();
  const replicaIdentity = REPLICA_IDENTITIES[identityByte];
  if (replicaIdentity === undefined) {
    throw r.fail(`unknown replica identity ${describeByte(identityByte)}`, identityAt);
  }
  const count = r.u16();
  const columns: RelationColumn[] = [];
  for (let i = 0; i < count; i++) {
    const flags = r.u8();
    columns.push({ name: r.cstring(), typeOid: r.u32(), typeModifier: r.i32(), isKey: (flags & 1) !== 0 });
  }
  return { tag: 'relation', relation: { id, schema, name, replicaIdentity, columns } };
}

function readUpdate(r: Reader): PgoutputMessage {
  const relationId = r.u32();
  let keyTuple: TupleData | null = null;
  let oldTuple: TupleData | null = null;
  const at = r.offset;
  const kind = r.u8();
  if (kind === KEY_TUPLE) keyTuple = readTuple(r);
  else if (kind === OLD_TUPLE) oldTuple = readTuple(r);
  else if (kind === NEW_TUPLE)
    return { tag: 'update', relationId, keyTuple, oldTuple, newTuple: readTuple(r) };
  else throw r.fail(`expected tuple 'K', 'O' or 'N', got ${describeByte(kind)}`, at);
  return { tag: 'update', relationId, keyTuple, oldTuple, newTuple: expectNewTuple(r) };
}

function readDelete(r: Reader): PgoutputMessage {
  const relationId = r.u32();
  const at = r.offset;
  const kind = r.u8();
  if (kind === KEY_TUPLE) return { tag: 'delete', relationId, keyTuple: readTuple(r), oldTuple: null };
  if (kind === OLD_TUPLE) return { tag: 'delete', relationId, keyTuple: null, oldTuple: readTuple(r) };
  throw r.fail(`expected tuple 'K' or 'O', got ${describeByte(kind)}`, at);
}

function readTruncate(r: Reader): PgoutputMessage {
  const count = r.u32();
  const options = r.u8();
  const relationIds: number[] = [];
  for (let i = 0; i < count; i++) relationIds.push(r.u32());
  return { tag: 'truncate', relationIds, cascade: (options & 1) !== 0, restartIdentity: (options & 2) !== 0 };
}

function readMessage(r: Reader): PgoutputMessage {
  const flags = r.u8();
  const lsn = r.u64();
  const prefix = r.cstring();
  return { tag: 'message', transactional: (flags & 1) !== 0, lsn, prefix, content: r.bytes(r.u32()) };
}

/**
 * Decodes one pgoutput protocol version 1 message: the payload of an XLogData message, or one `data`
 * value of `pg_logical_slot_peek_binary_changes`. Bytes after the message are ignored.
 * @throws WalhookError WALHOOK_ERR_PROTOCOL on an unknown tag, truncated input or a binary value.
 */
export function decodePgoutput(buf: Buffer): PgoutputMessage {
  const r = new Reader(buf);
  const tag = r.u8();
  switch (tag) {
    case BEGIN:
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.u64(), xid: r.u32() };
    case COMMIT:
      return { tag: 'commit', flags: r.u8(), commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.u64() };
    case ORIGIN:
      return { tag: 'origin', originLsn: r.u64(), name: r.cstring() };
    case RELATION:
      return readRelation(r);
    case TYPE:
      return { tag: 'type', typeOid: r.u32(), schema: readNamespace(r), name: r.cstring() };
    case INSERT:
      return { tag: 'insert', relationId: r.u32(), newTuple: expectNewTuple(r) };
    case UPDATE:
      return readUpdate(r);
    case DELETE:
      return readDelete(r);
    case TRUNCATE:
      return readTruncate(r);
    case MESSAGE:
      return readMessage(r);
    default:
      throw r.fail(`unknown tag ${describeByte(tag)}`, 0);
  }
}
