import type { DeliveryEvent, ParentTrace } from '../core/delivery-event.js';
import { formatLsn, type Lsn, POSTGRES_EPOCH_MICROS } from '../core/lsn.js';
import { jsonString } from '../source/values.js';
import { NO_SESSION, type Session } from './session.js';

/** What a body says about where its row comes from: a change, or a row read at a watermark. */
export interface BodySource {
  op: DeliveryEvent['op'];
  /** Position among the changes (or rows read) of the transaction. */
  index: number;
  relation: { schema: string; name: string };
  txn: { finalLsn: Lsn; commitTime: bigint; xid: number };
}

/** Row objects of a change rendered once and shared by every trigger it matches. */
export interface RenderedRows {
  newJson: string;
  oldJson: string;
  unchangedToast: readonly string[];
  /** Columns whose unchanged TOASTed value was read from the table after the change. */
  toastFetched: readonly string[];
}

/** The last commit time rendered: every event of a transaction shares it. */
let lastCommitTime = -1n;
let lastCommitTimeIso = '';

/** Commit time as ISO 8601 in UTC with microseconds, like Hasura's `created_at`. */
export function commitTimeIso(commitTime: bigint): string {
  if (commitTime === lastCommitTime) return lastCommitTimeIso;
  lastCommitTime = commitTime;
  lastCommitTimeIso = renderCommitTime(commitTime);
  return lastCommitTimeIso;
}

function renderCommitTime(commitTime: bigint): string {
  const micros = commitTime + POSTGRES_EPOCH_MICROS;
  const seconds = micros / 1_000_000n;
  const fraction = (micros % 1_000_000n).toString().padStart(6, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

/**
 * Hasura's event-trigger body. Everything but `delivery_info.current_retry` is fixed per event, so
 * the text is built once and each attempt only splices in its retry number.
 */
export class HasuraBody {
  readonly #head: string;
  readonly #tail: string;
  /** Size of the body in bytes. */
  readonly bytes: number;
  /** The trace of the change's transaction, when its session named one. */
  readonly trace: ParentTrace | undefined;

  constructor(
    change: BodySource,
    rows: RenderedRows,
    trigger: { name: string; maxRetries: number; payloadFormat: 'walhook' | 'hasura' },
    id: string,
    session: Session = NO_SESSION,
  ) {
    this.trace = session.trace;
    const { relation, txn } = change;
    const walhookFields = trigger.payloadFormat === 'walhook';
    let toast = '';
    if (walhookFields && rows.unchangedToast.length > 0)
      toast += `,"unchanged_toast_columns":${JSON.stringify(rows.unchangedToast)}`;
    if (walhookFields && rows.toastFetched.length > 0)
      toast += `,"toast_fetched_columns":${JSON.stringify(rows.toastFetched)}`;
    this.#head =
      `{"id":"${id}","created_at":"${commitTimeIso(txn.commitTime)}",` +
      `"trigger":{"name":${jsonString(trigger.name)}},` +
      `"table":{"schema":${jsonString(relation.schema)},"name":${jsonString(relation.name)}},` +
      `"event":{"op":"${change.op}","data":{"old":${rows.oldJson},"new":${rows.newJson}},` +
      `${session.fields}${toast}},` +
      `"delivery_info":{"max_retries":${trigger.maxRetries},"current_retry":`;
    this.#tail = walhookFields
      ? `},"source":{"lsn":"${formatLsn(txn.finalLsn)}","xid":${txn.xid},"index":${change.index}}}`
      : '}}';
    // Kept as text, not bytes: converting back and forth cost more per event than the memory it would
    // save, since the in-flight limits bound how many bodies wait. Measuring the length also flattens
    // the concatenation, so a waiting body is one string, not a tree of its pieces.
    this.bytes = Buffer.byteLength(this.#head) + this.#tail.length + 1;
  }

  /** The body of the attempt after `currentRetry` failed ones. */
  render(currentRetry: number): string {
    return this.#head + currentRetry + this.#tail;
  }
}
