import type { Lsn } from '../core/lsn.js';
import type { PauseReason } from './replication-stream.js';
import type { SourceState } from './setup.js';
import type { TransactionHandler } from './transaction-reader.js';
import type { TypeCatalog } from './type-catalog.js';

export type { PauseReason } from './replication-stream.js';

/**
 * Where changes come from, as the pipeline sees it: whole transactions out, in commit order, through
 * the `SourceEvents` it was built with; positions in. The source never decides what may be
 * acknowledged: the pipeline asks the checkpoint and hands the answer to `acknowledge`.
 */
export interface Source {
  /** Streams from the slot's confirmed position (`state.confirmedLsn`), as prepared by `prepareSource`. */
  start(state: SourceState): Promise<void>;
  /** Confirms `lsn` to Postgres; false when not connected (the next connection confirms it). */
  acknowledge(lsn: Lsn): boolean;
  /**
   * The triggers' tables after a reload (one per trigger, named in `triggerNames`): the publication
   * check and the key lookups use them from now on.
   */
  tablesChanged(tables: SourceState['tables'], triggerNames: readonly string[]): void;
  /** Stops reading until every reason it was paused for is resumed; keepalives are still answered. */
  pause(reason: PauseReason): void;
  resume(reason: PauseReason): void;
  isPaused(reason: PauseReason): boolean;
  readonly connected: boolean;
  /** The column types the stream has seen, so rows read from tables render as streamed ones do. */
  readonly types: TypeCatalog;
  /** Hands on the rest of the transaction being read, then nothing more: stopping at a commit. */
  finishTransaction(): Promise<void>;
  /** Stops reading; nothing after this is handed on. */
  close(): Promise<void>;
}

/** What a source reports besides transactions. */
export interface SourceEvents extends TransactionHandler {
  /** The server's WAL position; `replyRequested`: answer now or the server closes the connection. */
  keepalive(walEnd: Lsn, replyRequested: boolean): void;
  connected(): void;
  disconnected(): void;
  /** The stream broke or could not start (`err` says why); it is reopened with backoff. */
  retrying(err: unknown): void;
  /** How many of the triggers' tables the publication lacks, after each check. */
  publicationChecked(unpublished: number): void;
  /** Nothing after this is handed on; nothing unsettled has been confirmed. */
  fatal(err: unknown): void;
}
