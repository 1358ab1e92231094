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

export type BodyTrigger = { name: string; maxRetries: number; payloadFormat: 'walhook' | 'hasura' };

/**
 * The text between an event's id and its `old` row, and between its rows and its retry number, for the
 * body last rendered: consecutive events of a transaction mostly share trigger, table, operation and
 * session, so these are made once for a run of them instead of once per event.
 */
const parts = {
  trigger: null as BodyTrigger | null,
  relation: null as BodySource['relation'] | null,
  op: '',
  commitTime: -1n,
  session: null as Session | null,
  finalLsn: -1n,
  xid: -1,
  /** `","created_at":…,"data":{"old":` */
  beforeOld: '',
  /** `},<session fields>`: what follows the `new` row, before the toast columns. */
  afterRows: '',
  /** `},"source":{"lsn":…,"index":` (walhook's format) or `}}` (Hasura's, with no index after it). */
  tail: '',
};

function refreshParts(change: BodySource, trigger: BodyTrigger, session: Session): void {
  const { relation, txn } = change;
  const walhookFields = trigger.payloadFormat === 'walhook';
  if (
    parts.trigger !== trigger ||
    parts.relation !== relation ||
    parts.op !== change.op ||
    parts.commitTime !== txn.commitTime
  ) {
    parts.beforeOld =
      `","created_at":"${commitTimeIso(txn.commitTime)}",` +
      `"trigger":{"name":${jsonString(trigger.name)}},` +
      `"table":{"schema":${jsonString(relation.schema)},"name":${jsonString(relation.name)}},` +
      `"event":{"op":"${change.op}","data":{"old":`;
    parts.op = change.op;
    parts.commitTime = txn.commitTime;
  }
  if (parts.trigger !== trigger || parts.session !== session) {
    parts.afterRows = `},${session.fields}`;
    parts.session = session;
  }
  if (parts.trigger !== trigger || parts.finalLsn !== txn.finalLsn || parts.xid !== txn.xid) {
    parts.tail = walhookFields
      ? `},"source":{"lsn":"${formatLsn(txn.finalLsn)}","xid":${txn.xid},"index":`
      : '}}';
    parts.finalLsn = txn.finalLsn;
    parts.xid = txn.xid;
  }
  parts.trigger = trigger;
  parts.relation = relation;
}

/**
 * Hasura's event-trigger body. Everything but `delivery_info.current_retry` is fixed per event, so
 * the text is built once and each attempt only splices in its retry number.
 */
export class HasuraBody {
  readonly #head: string;
  /** Shared by the events of a transaction (see `parts`). */
  readonly #tail: string;
  /** The change's index, in walhook's format: the only part of the tail of its own; -1 in Hasura's. */
  readonly #index: number;
  /** Size of the body in bytes. */
  readonly bytes: number;
  /** The trace of the change's transaction, when its session named one. */
  readonly trace: ParentTrace | undefined;

  constructor(
    change: BodySource,
    rows: RenderedRows,
    trigger: BodyTrigger,
    id: string,
    session: Session = NO_SESSION,
  ) {
    this.trace = session.trace;
    refreshParts(change, trigger, session);
    const walhookFields = trigger.payloadFormat === 'walhook';
    let toast = '';
    if (walhookFields && rows.unchangedToast.length > 0)
      toast += `,"unchanged_toast_columns":${JSON.stringify(rows.unchangedToast)}`;
    if (walhookFields && rows.toastFetched.length > 0)
      toast += `,"toast_fetched_columns":${JSON.stringify(rows.toastFetched)}`;
    this.#head =
      `{"id":"${id}${parts.beforeOld}${rows.oldJson},"new":${rows.newJson}${parts.afterRows}${toast}},` +
      `"delivery_info":{"max_retries":${trigger.maxRetries},"current_retry":`;
    this.#tail = parts.tail;
    this.#index = walhookFields ? change.index : -1;
    // Kept as text, not bytes: converting back and forth cost more per event than the memory it would
    // save, since the in-flight limits bound how many bodies wait. Measuring the length also flattens
    // the concatenation, so a waiting body is one string, not a tree of its pieces (a tree costs the
    // garbage collector more than the copy: measured in docs/benchmarks.md).
    this.bytes =
      Buffer.byteLength(this.#head) +
      1 +
      this.#tail.length +
      (walhookFields ? String(change.index).length + 2 : 0);
  }

  /** The body of the attempt after `currentRetry` failed ones. */
  render(currentRetry: number): string {
    return this.#index < 0
      ? this.#head + currentRetry + this.#tail
      : `${this.#head}${currentRetry}${this.#tail}${this.#index}}}`;
  }
}
