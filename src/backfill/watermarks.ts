import type { TupleData } from '../source/change.js';
import { rowImages, tupleKey } from '../source/row-images.js';
import type { Change, LogicalMessage, RelationInfo, TransactionInfo } from '../source/transaction-reader.js';

/** The prefix of walhook's watermark messages in the WAL. */
const WATERMARK_PREFIX = 'walhook-watermark';

/** The statement that writes a watermark: a transactional logical message, a transaction of its own. */
export const WATERMARK_SQL = `SELECT pg_logical_emit_message(true, '${WATERMARK_PREFIX}', $1)`;

export type Mark = 'low' | 'high';

export function watermarkContent(chunk: string, mark: Mark): string {
  return JSON.stringify({ chunk, mark });
}

/**
 * Rows read from a table between a low and a high watermark (the DBLog approach that Debezium's
 * incremental snapshots use). Every row changed in the stream between the two marks is dropped from
 * the chunk, since the stream itself carries its state at least as new as the read; the rest are
 * handed on at the high mark, in the stream's order, so that per-row ordering puts them before any
 * later change of the same row and no read image ever overtakes a newer change.
 */
export interface Chunk {
  id: string;
  relation: RelationInfo;
  /** Set once read, which is before the high mark is written. */
  rows: TupleData[] | null;
  /** At the high mark: the rows no change touched in between, inside the high mark's transaction. */
  emit(rows: TupleData[], txn: TransactionInfo): void;
}

interface Window {
  chunk: Chunk;
  open: boolean;
  changed: Set<string>;
  truncated: boolean;
}

/** The chunks between their marks, fed with the stream's changes and messages in order. */
export class ChunkWindows {
  readonly #windows = new Map<string, Window>();

  /** Before its low mark is written. */
  register(chunk: Chunk): void {
    this.#windows.set(chunk.id, { chunk, open: false, changed: new Set(), truncated: false });
  }

  /** A chunk given up before its high mark (the reading failed, the pipeline stops). */
  forget(id: string): void {
    this.#windows.delete(id);
  }

  get size(): number {
    return this.#windows.size;
  }

  /** Every change of the stream, while any chunk is registered. */
  observe(change: Change): void {
    for (const window of this.#windows.values()) {
      if (!window.open || window.chunk.relation.relation.id !== change.relation.relation.id) continue;
      if (change.op === 'TRUNCATE') {
        window.truncated = true;
        continue;
      }
      const images = rowImages(change);
      // Both keys of an update that changed the key: the row left the old one.
      if (images.new) window.changed.add(tupleKey(change.relation, images.new));
      if (images.old) window.changed.add(tupleKey(change.relation, images.old));
    }
  }

  /**
   * A transactional message of the stream. Replays resend marks already handled, and a restarted
   * process sees marks of chunks it never registered: both are ignored.
   */
  message(message: LogicalMessage): void {
    if (message.prefix !== WATERMARK_PREFIX) return;
    const mark = parseMark(message.content);
    const window = mark && this.#windows.get(mark.chunk);
    if (!mark || !window) return;
    if (mark.mark === 'low') {
      window.open = true;
      return;
    }
    if (!window.open || window.chunk.rows === null) return;
    this.#windows.delete(mark.chunk);
    const { chunk } = window;
    const rows = window.truncated
      ? []
      : (chunk.rows as TupleData[]).filter((row) => !window.changed.has(tupleKey(chunk.relation, row)));
    chunk.emit(rows, message.txn);
  }
}

function parseMark(content: Buffer): { chunk: string; mark: Mark } | null {
  try {
    const value = JSON.parse(content.toString('utf8')) as { chunk?: unknown; mark?: unknown };
    if (typeof value.chunk !== 'string' || (value.mark !== 'low' && value.mark !== 'high')) return null;
    return { chunk: value.chunk, mark: value.mark };
  } catch {
    return null;
  }
}
