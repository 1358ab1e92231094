import type { Lsn } from '../core/lsn.js';

/** The decoded shape of pgoutput (protocol version 1) messages, shared by the source and later stages. */

export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

export interface RelationColumn {
  name: string;
  typeOid: number;
  typeModifier: number;
  /** Part of the replica identity (the primary key by default). */
  isKey: boolean;
}

export interface Relation {
  id: number;
  schema: string;
  name: string;
  replicaIdentity: ReplicaIdentity;
  columns: RelationColumn[];
}

/**
 * Column values as pgoutput sent them, in relation column order: the text form, `null` for SQL NULL,
 * or `undefined` for a TOASTed value the update left unchanged (pgoutput omits those).
 */
export type TupleData = (string | null | undefined)[];

export type PgoutputMessage =
  | { tag: 'begin'; finalLsn: Lsn; commitTime: bigint; xid: number }
  | { tag: 'commit'; flags: number; commitLsn: Lsn; endLsn: Lsn; commitTime: bigint }
  | { tag: 'origin'; originLsn: Lsn; name: string }
  | { tag: 'relation'; relation: Relation }
  | { tag: 'type'; typeOid: number; schema: string; name: string }
  | { tag: 'insert'; relationId: number; newTuple: TupleData }
  | {
      tag: 'update';
      relationId: number;
      /** Sent when the replica identity key changed (default or index identity). */
      keyTuple: TupleData | null;
      /** Sent under REPLICA IDENTITY FULL. */
      oldTuple: TupleData | null;
      newTuple: TupleData;
    }
  | { tag: 'delete'; relationId: number; keyTuple: TupleData | null; oldTuple: TupleData | null }
  | { tag: 'truncate'; relationIds: number[]; cascade: boolean; restartIdentity: boolean }
  | { tag: 'message'; transactional: boolean; lsn: Lsn; prefix: string; content: Buffer };
