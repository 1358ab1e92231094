import { formatLsn } from '../../core/lsn.js';
import type { RowImages } from '../../source/row-images.js';
import type { Change } from '../../source/transaction-reader.js';
import type { FilterReason } from '../../triggers/matcher.js';

/** Filtered-out changes kept per trigger. */
export const FILTERED_KEPT = 50;

export interface FilteredChange {
  at: string;
  op: string;
  lsn: string;
  reason: Exclude<FilterReason, null>;
  /** The row's key columns as `name=value`, empty for a table without a key. */
  key: string;
}

/**
 * The last changes each trigger filtered out and why (`server.console.debug_filters`), so an operator
 * can tell a `where` that never matches from changes that never arrive.
 */
export class FilteredChanges {
  readonly #byTrigger = new Map<string, FilteredChange[]>();

  /** A FilteredChangeHook for the router. */
  readonly record = (
    trigger: string,
    reason: Exclude<FilterReason, null>,
    change: Change,
    images: RowImages,
  ): void => {
    let kept = this.#byTrigger.get(trigger);
    if (kept === undefined) {
      kept = [];
      this.#byTrigger.set(trigger, kept);
    }
    kept.push({
      at: new Date().toISOString(),
      op: change.op,
      lsn: formatLsn(change.txn.finalLsn),
      reason,
      key: keyText(change, images),
    });
    if (kept.length > FILTERED_KEPT) kept.shift();
  };

  /** Newest first. */
  of(trigger: string): FilteredChange[] {
    return [...(this.#byTrigger.get(trigger) ?? [])].reverse();
  }
}

function keyText(change: Change, images: RowImages): string {
  const row = images.new ?? images.old ?? change.keyTuple;
  if (row === null) return '';
  const { columns } = change.relation.relation;
  const parts: string[] = [];
  for (const i of change.relation.keyIndexes) {
    const value = row[i];
    if (value !== undefined) parts.push(`${columns[i]?.name}=${value ?? 'null'}`);
  }
  return parts.join(', ');
}
