import type { Logger } from 'pino';
import { WalhookError } from '../core/errors.js';
import { formatLsn, type Lsn } from '../core/lsn.js';
import type { TrackedTransaction } from '../core/settlement.js';
import type { PgoutputMessage, Relation, TupleData } from './change.js';
import { jsonString, type ValueRenderer } from './values.js';

export type Operation = 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';

/** A relation as last described by the stream, with lookups computed once per Relation message. */
export interface RelationInfo {
  relation: Relation;
  schema: string;
  name: string;
  /** `schema.name`, as events and metrics name the table. */
  table: string;
  columnIndex: ReadonlyMap<string, number>;
  /** Columns identifying a row: the replica identity key, or the primary key under REPLICA IDENTITY FULL. */
  keyIndexes: readonly number[];
  /** `relationId:`, what every ordering key of its rows starts with (see row-images.ts). */
  keyPrefix: string;
  /** Per column: its text form to JSON as row_to_json renders it. */
  renderers: readonly ValueRenderer[];
  /** Per column: its JSON key and colon (`"name":`), then the same after a comma, made once per relation. */
  jsonKeys: readonly string[];
  jsonKeysAfterComma: readonly string[];
  /** Per column: the type `where` compares it as (a domain compares as its base type). */
  compareTypes: readonly number[];
}

/** What the source knows about column types (see type-catalog.ts). */
export interface ColumnTypes {
  renderer(typeOid: number): ValueRenderer;
  comparable(typeOid: number): number;
}

/** Primary key columns of a table, from the catalog: pgoutput flags every column as key under FULL. */
export type PrimaryKeyLookup = (schema: string, name: string) => readonly string[] | undefined;

/** A transactional logical message (pg_logical_emit_message), in its transaction. */
export interface LogicalMessage {
  prefix: string;
  content: Buffer;
  txn: TransactionInfo;
}

export interface TransactionInfo {
  finalLsn: Lsn;
  /** Microseconds since 2000-01-01 UTC. */
  commitTime: bigint;
  xid: number;
  tracked: TrackedTransaction;
  /** The replication origin of a transaction applied by logical replication from another server. */
  origin?: string;
}

export interface Change {
  op: Operation;
  relation: RelationInfo;
  /** Position among all changes of the transaction, published tables only. */
  index: number;
  txn: TransactionInfo;
  newTuple: TupleData | null;
  /** The whole old row, sent under REPLICA IDENTITY FULL. */
  oldTuple: TupleData | null;
  /** The old key, sent when an update changed it or on delete under a key identity. */
  keyTuple: TupleData | null;
  /** Columns whose unchanged TOASTed value was read from the table (source.toast: fetch). */
  toastFetched?: string[];
}

/** What the reader hands on, in stream order. */
export interface TransactionHandler {
  /** A new transaction; returns what counts its events until they settle (the checkpoint's entry). */
  begin(finalLsn: Lsn): TrackedTransaction;
  change(change: Change): void;
  /** Transactional messages, in order with the changes around them; replays included. */
  message(message: LogicalMessage): void;
  commit(txn: TransactionInfo, endLsn: Lsn): void;
}

/**
 * Turns the message stream into transactions of changes, each change with its index. Survives
 * reconnects: Postgres resends from the confirmed LSN, so whole transactions already received are
 * skipped and a transaction cut off mid-way resumes after the changes already dispatched (the
 * (commit LSN, index) restart point), without a second `begin`.
 */
export class TransactionReader {
  private readonly relations = new Map<number, RelationInfo>();
  private current: TransactionInfo | null = null;
  /** Begun and not yet committed; kept across a reconnect, which resends it from its Begin. */
  private open: TransactionInfo | null = null;
  private skipping = false;
  private nextIndex = 0;
  /** Changes of the open transaction already handed on, kept across reconnects. */
  private dispatched = 0;
  private lastCommitLsn: Lsn = 0n;
  /** Set by `finishTransaction`: called at the open transaction's commit, after which nothing is handed on. */
  private onFinished: (() => void) | null = null;
  private finished = false;

  constructor(
    private readonly handler: TransactionHandler,
    private readonly logger: Logger,
    private readonly types: ColumnTypes,
    private readonly primaryKey: PrimaryKeyLookup = () => undefined,
  ) {}

  /** The stream broke: what follows starts again at a Begin. */
  reset(): void {
    this.current = null;
    this.skipping = false;
  }

  /**
   * Hands on the rest of the open transaction, if any, and nothing after its commit. Messages already
   * parsed from the socket keep coming after a pause, so stopping there would hand on part of a
   * transaction: delivered now, unconfirmed, and delivered again in whole after the restart.
   */
  finishTransaction(): Promise<void> {
    if (this.open === null || this.finished) {
      this.finished = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.onFinished = resolve;
    });
  }

  handle(message: PgoutputMessage): void {
    if (this.finished) return;
    switch (message.tag) {
      case 'begin':
        this.begin(message.finalLsn, message.commitTime, message.xid);
        break;
      case 'commit':
        this.commit(message.commitLsn, message.endLsn);
        break;
      case 'relation':
        this.relationMessage(message.relation);
        break;
      case 'insert':
        this.change('INSERT', message.relationId, message.newTuple, null, null);
        break;
      case 'update':
        this.change('UPDATE', message.relationId, message.newTuple, message.oldTuple, message.keyTuple);
        break;
      case 'delete':
        this.change('DELETE', message.relationId, null, message.oldTuple, message.keyTuple);
        break;
      case 'truncate':
        for (const relationId of message.relationIds) this.change('TRUNCATE', relationId, null, null, null);
        break;
      case 'message':
        if (message.transactional && !this.skipping && this.current) {
          this.handler.message({ prefix: message.prefix, content: message.content, txn: this.current });
        }
        break;
      case 'origin':
        // Sent after Begin, before the changes, when the transaction was replayed under an origin.
        if (this.current) this.current.origin = message.name;
        break;
      case 'type':
        break;
    }
  }

  private begin(finalLsn: Lsn, commitTime: bigint, xid: number): void {
    this.nextIndex = 0;
    if (finalLsn <= this.lastCommitLsn) {
      this.skipping = true;
      this.logger.debug({ lsn: formatLsn(finalLsn) }, 'skipping a transaction already received');
      return;
    }
    this.skipping = false;
    const { open } = this;
    if (open && open.finalLsn !== finalLsn) {
      throw new WalhookError(
        'WALHOOK_ERR_PROTOCOL',
        `transaction ${formatLsn(open.finalLsn)} was cut off and the server resent ${formatLsn(finalLsn)} instead`,
      );
    }
    if (open) {
      this.current = open;
      return;
    }
    this.dispatched = 0;
    this.current = { finalLsn, commitTime, xid, tracked: this.handler.begin(finalLsn) };
    this.open = this.current;
  }

  private commit(commitLsn: Lsn, endLsn: Lsn): void {
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    const txn = this.requireTransaction('Commit');
    this.current = null;
    this.open = null;
    this.lastCommitLsn = commitLsn;
    this.handler.commit(txn, endLsn);
    if (this.onFinished) {
      this.finished = true;
      this.onFinished();
      this.onFinished = null;
    }
  }

  private change(
    op: Operation,
    relationId: number,
    newTuple: TupleData | null,
    oldTuple: TupleData | null,
    keyTuple: TupleData | null,
  ): void {
    if (this.skipping) return;
    const txn = this.requireTransaction(op);
    const index = this.nextIndex++;
    if (index < this.dispatched) return;
    this.dispatched = index + 1;
    const relation = this.relations.get(relationId);
    if (!relation) {
      throw new WalhookError(
        'WALHOOK_ERR_PROTOCOL',
        `${op} for relation ${relationId} before its Relation message`,
      );
    }
    this.handler.change({ op, relation, index, txn, newTuple, oldTuple, keyTuple });
  }

  private relationMessage(relation: Relation): void {
    this.relations.set(relation.id, describeRelation(relation, this.types, this.primaryKey));
  }

  private requireTransaction(what: string): TransactionInfo {
    if (!this.current)
      throw new WalhookError('WALHOOK_ERR_PROTOCOL', `${what} message outside a transaction`);
    return this.current;
  }
}

/** What the later stages need to know of a relation, worked out once per Relation message. */
export function describeRelation(
  relation: Relation,
  types: ColumnTypes,
  primaryKey: PrimaryKeyLookup,
): RelationInfo {
  const columnIndex = new Map(relation.columns.map((column, i) => [column.name, i]));
  let keyIndexes: number[] = [];
  relation.columns.forEach((column, i) => {
    if (column.isKey) keyIndexes.push(i);
  });
  if (relation.replicaIdentity === 'full') {
    const indexes = (primaryKey(relation.schema, relation.name) ?? []).map((column) =>
      columnIndex.get(column),
    );
    if (indexes.length > 0 && indexes.every((i) => i !== undefined)) keyIndexes = indexes as number[];
  }
  return {
    relation,
    schema: relation.schema,
    name: relation.name,
    table: `${relation.schema}.${relation.name}`,
    columnIndex,
    keyIndexes,
    keyPrefix: `${relation.id}:`,
    renderers: relation.columns.map((column) => types.renderer(column.typeOid)),
    jsonKeys: relation.columns.map((column) => `${jsonString(column.name)}:`),
    jsonKeysAfterComma: relation.columns.map((column) => `,${jsonString(column.name)}:`),
    compareTypes: relation.columns.map((column) => types.comparable(column.typeOid)),
  };
}
