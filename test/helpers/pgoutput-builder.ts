/**
 * Builds pgoutput protocol version 1 messages byte by byte, so decoder and stream tests can feed exact
 * bytes. Each message builder takes the values `decodePgoutput` returns; `ByteWriter` is there for
 * malformed messages.
 */

import type { Lsn } from '../../src/core/lsn.js';
import type { PgoutputMessage, ReplicaIdentity, TupleData } from '../../src/source/change.js';

export class ByteWriter {
  private readonly chunks: Buffer[] = [];

  char(c: string): this {
    return this.bytes(Buffer.from(c, 'latin1'));
  }

  int8(n: number): this {
    return this.bytes(Buffer.of(n & 0xff));
  }

  int16(n: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n & 0xffff);
    return this.bytes(b);
  }

  int32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    return this.bytes(b);
  }

  int64(n: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt.asUintN(64, n));
    return this.bytes(b);
  }

  cstring(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8')).int8(0);
  }

  bytes(b: Buffer): this {
    this.chunks.push(b);
    return this;
  }

  /** TupleData: `null` is sent as 'n', `undefined` as 'u' (unchanged TOAST), a string as 't'. */
  tuple(values: TupleData): this {
    this.int16(values.length);
    for (const value of values) {
      if (value === null) this.char('n');
      else if (value === undefined) this.char('u');
      else {
        const text = Buffer.from(value, 'utf8');
        this.char('t').int32(text.length).bytes(text);
      }
    }
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

const IDENTITY_BYTES: Record<ReplicaIdentity, string> = { default: 'd', nothing: 'n', full: 'f', index: 'i' };

export interface ColumnSpec {
  name: string;
  typeOid: number;
  /** -1 (no modifier) unless given. */
  typeModifier?: number;
  isKey?: boolean;
}

export interface RelationSpec {
  id: number;
  /** 'public' unless given; '' writes what Postgres sends for pg_catalog. */
  schema?: string;
  name: string;
  replicaIdentity?: ReplicaIdentity;
  columns: ColumnSpec[];
}

/** Exactly one of the two: the replica identity key, or the whole old row under REPLICA IDENTITY FULL. */
export type OldRow = { keyTuple: TupleData } | { oldTuple: TupleData };

function writeOldRow(w: ByteWriter, old: OldRow): ByteWriter {
  return 'keyTuple' in old ? w.char('K').tuple(old.keyTuple) : w.char('O').tuple(old.oldTuple);
}

export function begin(m: { finalLsn: Lsn; commitTime: bigint; xid: number }): Buffer {
  return new ByteWriter().char('B').int64(m.finalLsn).int64(m.commitTime).int32(m.xid).toBuffer();
}

export function commit(m: { flags?: number; commitLsn: Lsn; endLsn: Lsn; commitTime: bigint }): Buffer {
  const w = new ByteWriter().char('C').int8(m.flags ?? 0);
  return w.int64(m.commitLsn).int64(m.endLsn).int64(m.commitTime).toBuffer();
}

export function origin(m: { originLsn: Lsn; name: string }): Buffer {
  return new ByteWriter().char('O').int64(m.originLsn).cstring(m.name).toBuffer();
}

export function relation(r: RelationSpec): Buffer {
  const w = new ByteWriter()
    .char('R')
    .int32(r.id)
    .cstring(r.schema ?? 'public')
    .cstring(r.name);
  w.char(IDENTITY_BYTES[r.replicaIdentity ?? 'default']).int16(r.columns.length);
  for (const c of r.columns) {
    w.int8(c.isKey ? 1 : 0)
      .cstring(c.name)
      .int32(c.typeOid)
      .int32(c.typeModifier ?? -1);
  }
  return w.toBuffer();
}

export function type(m: { typeOid: number; schema: string; name: string }): Buffer {
  return new ByteWriter().char('Y').int32(m.typeOid).cstring(m.schema).cstring(m.name).toBuffer();
}

export function insert(relationId: number, newTuple: TupleData): Buffer {
  return new ByteWriter().char('I').int32(relationId).char('N').tuple(newTuple).toBuffer();
}

export function update(relationId: number, newTuple: TupleData, old?: OldRow): Buffer {
  const w = new ByteWriter().char('U').int32(relationId);
  if (old) writeOldRow(w, old);
  return w.char('N').tuple(newTuple).toBuffer();
}

/** The Delete message ('D'); `delete` itself is a reserved word. */
export function del(relationId: number, old: OldRow): Buffer {
  return writeOldRow(new ByteWriter().char('D').int32(relationId), old).toBuffer();
}

export function truncate(
  relationIds: number[],
  options: { cascade?: boolean; restartIdentity?: boolean } = {},
): Buffer {
  const w = new ByteWriter().char('T').int32(relationIds.length);
  w.int8((options.cascade ? 1 : 0) | (options.restartIdentity ? 2 : 0));
  for (const id of relationIds) w.int32(id);
  return w.toBuffer();
}

export function message(m: {
  transactional: boolean;
  lsn: Lsn;
  prefix: string;
  content: Buffer | string;
}): Buffer {
  const content = typeof m.content === 'string' ? Buffer.from(m.content, 'utf8') : m.content;
  const w = new ByteWriter()
    .char('M')
    .int8(m.transactional ? 1 : 0)
    .int64(m.lsn)
    .cstring(m.prefix);
  return w.int32(content.length).bytes(content).toBuffer();
}

/** The inverse of `decodePgoutput`, for round-trip tests over decoded values. */
export function encode(m: PgoutputMessage): Buffer {
  switch (m.tag) {
    case 'begin':
      return begin(m);
    case 'commit':
      return commit(m);
    case 'origin':
      return origin(m);
    case 'relation':
      return relation(m.relation);
    case 'type':
      return type(m);
    case 'insert':
      return insert(m.relationId, m.newTuple);
    case 'update':
      if (m.keyTuple) return update(m.relationId, m.newTuple, { keyTuple: m.keyTuple });
      if (m.oldTuple) return update(m.relationId, m.newTuple, { oldTuple: m.oldTuple });
      return update(m.relationId, m.newTuple);
    case 'delete':
      if (m.keyTuple) return del(m.relationId, { keyTuple: m.keyTuple });
      if (m.oldTuple) return del(m.relationId, { oldTuple: m.oldTuple });
      throw new Error('a pgoutput Delete carries a key or an old tuple');
    case 'truncate':
      return truncate(m.relationIds, m);
    case 'message':
      return message(m);
  }
}
