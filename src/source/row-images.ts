import type { TupleData } from './change.js';
import type { Change, RelationInfo } from './transaction-reader.js';
import type { ValueRenderer } from './values.js';

/**
 * The row before and after a change, as far as the WAL tells: a value is `undefined` where the
 * stream did not carry it (columns outside the replica identity in `old`, an unchanged TOASTed
 * value in `new` that no old image can fill in).
 */
export interface RowImages {
  new: TupleData | null;
  old: TupleData | null;
  /** Columns of `new` left out because pgoutput omitted their unchanged TOASTed value. */
  unchangedToast: string[];
}

export function rowImages(change: Change): RowImages {
  const { relation } = change;
  const old = oldImage(change);
  let next = change.newTuple;
  const unchangedToast: string[] = [];
  if (next?.includes(undefined)) {
    next = next.slice();
    for (let i = 0; i < next.length; i++) {
      if (next[i] !== undefined) continue;
      // Unchanged means the old value is the new value, when the old image has it.
      next[i] = old?.[i];
      if (next[i] === undefined) unchangedToast.push(relation.relation.columns[i]?.name ?? String(i));
    }
  }
  return { new: next, old, unchangedToast };
}

function oldImage(change: Change): TupleData | null {
  const { relation, op } = change;
  if (op === 'TRUNCATE' || op === 'INSERT') return null;
  if (change.oldTuple) return change.oldTuple;
  if (relation.keyIndexes.length === 0) return null;
  // Without an old tuple on UPDATE the key did not change, so the new row holds the old key.
  const source = change.keyTuple ?? (op === 'UPDATE' ? change.newTuple : null);
  if (!source) return null;
  return keyOnly(relation, source);
}

function keyOnly(relation: RelationInfo, source: TupleData): TupleData {
  const image: TupleData = new Array(source.length).fill(undefined);
  for (const i of relation.keyIndexes) image[i] = source[i];
  return image;
}

/**
 * A row as `row_to_json` renders it, leaving out the columns the image does not carry and, with
 * `shown`, the columns it does not list (by index).
 */
export function rowToJson(relation: RelationInfo, values: TupleData, shown?: readonly boolean[]): string {
  const { renderers } = relation;
  // Two pieces per column, each key made once per relation: fewer pieces for the string to flatten.
  let json = '{';
  let keys = relation.jsonKeys;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === undefined || (shown !== undefined && !shown[i])) continue;
    const key = keys[i];
    if (key === undefined) continue;
    json += key;
    json += value === null ? 'null' : (renderers[i] as ValueRenderer)(value);
    keys = relation.jsonKeysAfterComma;
  }
  return `${json}}`;
}

/**
 * Identifies the row an event is about, for per-row ordering: the replica identity key when the
 * table has one (the new key on update, the old key on delete), else the whole row.
 */
export function rowKey(change: Change, images: RowImages): string {
  const row = images.new ?? images.old;
  return row ? tupleKey(change.relation, row) : change.relation.keyPrefix;
}

/** The ordering key of a row of the relation, the same for a streamed row and one read from the table. */
export function tupleKey(relation: RelationInfo, row: TupleData): string {
  const prefix = relation.keyPrefix;
  if (relation.keyIndexes.length > 0) {
    let key = prefix;
    for (const i of relation.keyIndexes)
      key += `${row[i] === null ? '\\N' : JSON.stringify(row[i] ?? null)},`;
    return key;
  }
  return prefix + rowToJson(relation, row);
}
