import { type DeliveryTarget, shownMaxRetries } from '../core/delivery-event.js';
import type { FilterReason } from '../core/metrics/trigger-metrics.js';
import type { TableName } from '../core/table-name.js';
import type { TupleData } from '../source/change.js';
import type { RowImages } from '../source/row-images.js';
import type { Change, Operation, RelationInfo } from '../source/transaction-reader.js';
import { compileWhere, type RowAccessor } from './where.js';
import type { WhereExpression } from './where-schema.js';

/** A trigger as the config holds it, with the target its sink built (see src/sinks/registry.ts). */
export interface TriggerDefinition {
  name: string;
  table: TableName;
  operations: readonly ('insert' | 'update' | 'delete' | 'truncate')[];
  columns?: readonly string[] | undefined;
  where?: WhereExpression | undefined;
  payload_columns?: readonly string[] | undefined;
  enable_manual: boolean;
  skip_unchanged_updates: boolean;
  trigger_on_replication: boolean;
  payload_format: PayloadFormat;
  target: DeliveryTarget;
}

export interface CompiledTrigger {
  name: string;
  table: TableName;
  operations: ReadonlySet<Operation>;
  columns: readonly string[] | null;
  where: ReturnType<typeof compileWhere> | null;
  target: DeliveryTarget;
  maxRetries: number;
  /** The columns `old` and `new` carry besides the key; null for all. */
  payloadColumns: ReadonlySet<string> | null;
  enableManual: boolean;
  /** An update that changes none of its update columns (`columns`, or every column) does not fire. */
  skipUnchanged: boolean;
  /** Changes applied by logical replication from another server fire too. */
  onReplication: boolean;
  payloadFormat: PayloadFormat;
}

/** `hasura`: exactly Hasura's body; `walhook` adds where the row came from and which TOASTed values were not sent. */
export type PayloadFormat = 'walhook' | 'hasura';

export type { FilterReason } from '../core/metrics/trigger-metrics.js';

/**
 * Triggers indexed by table, so matching a change costs the triggers of its table only.
 * The lookup by relation is cached per Relation message.
 */
export class TriggerIndex {
  private byTable = new Map<string, CompiledTrigger[]>();
  private byRelation = new WeakMap<RelationInfo, CompiledTrigger[]>();
  private byName = new Map<string, CompiledTrigger>();

  constructor(triggers: readonly TriggerDefinition[]) {
    for (const trigger of triggers) {
      const key = tableKey(trigger.table.schema, trigger.table.name);
      const list = this.byTable.get(key) ?? [];
      const compiled = compileTrigger(trigger);
      list.push(compiled);
      this.byTable.set(key, list);
      this.byName.set(trigger.name, compiled);
    }
  }

  /**
   * Takes `next`'s triggers, all at once (a reload, between two transactions): whoever holds this
   * index (the router, the backfills) matches with them from now on. Neither index changes its maps
   * after construction, so sharing them with `next` is safe.
   */
  adopt(next: TriggerIndex): void {
    this.byTable = next.byTable;
    this.byName = next.byName;
    this.byRelation = new WeakMap();
  }

  named(name: string): CompiledTrigger | undefined {
    return this.byName.get(name);
  }

  all(): CompiledTrigger[] {
    return [...this.byName.values()];
  }

  forRelation(relation: RelationInfo): readonly CompiledTrigger[] {
    let triggers = this.byRelation.get(relation);
    if (!triggers) {
      triggers = this.byTable.get(tableKey(relation.schema, relation.name)) ?? [];
      this.byRelation.set(relation, triggers);
    }
    return triggers;
  }
}

function tableKey(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}

function compileTrigger(trigger: TriggerDefinition): CompiledTrigger {
  return {
    name: trigger.name,
    table: trigger.table,
    operations: new Set(trigger.operations.map((op) => op.toUpperCase() as Operation)),
    columns: trigger.columns ?? null,
    where: trigger.where ? compileWhere(trigger.where) : null,
    target: trigger.target,
    maxRetries: shownMaxRetries(trigger.target.retry),
    payloadColumns: trigger.payload_columns ? new Set(trigger.payload_columns) : null,
    enableManual: trigger.enable_manual,
    skipUnchanged: trigger.skip_unchanged_updates,
    onReplication: trigger.trigger_on_replication,
    payloadFormat: trigger.payload_format,
  };
}

/**
 * Applies a trigger's operations, origin, columns and where filters to a change. A TRUNCATE carries
 * no row, so only `operations` and the origin apply to it.
 */
export function filterReason(trigger: CompiledTrigger, change: Change, images: RowImages): FilterReason {
  if (!trigger.operations.has(change.op)) return 'operation';
  if (!trigger.onReplication && change.txn.origin !== undefined) return 'origin';
  if (change.op === 'TRUNCATE') return null;
  if (change.op === 'UPDATE') {
    if (trigger.columns && !anyColumnChanged(trigger.columns, change)) return 'columns';
    if (
      !trigger.columns &&
      trigger.skipUnchanged &&
      !anyColumnChanged(change.relation.columnIndex.keys(), change)
    ) {
      return 'unchanged';
    }
  }
  if (
    trigger.where &&
    !trigger.where({
      new: images.new && accessor(change.relation, images.new),
      old: images.old && accessor(change.relation, images.old),
    })
  ) {
    return 'where';
  }
  return null;
}

/**
 * Whether an update changed one of `columns`, as Hasura's trigger compares OLD and NEW: with the full
 * old row (REPLICA IDENTITY FULL) this is exact, and an unchanged TOASTed value counts as unchanged.
 * Without it only the key (unchanged unless pgoutput sent the old key) and omitted TOAST values
 * (unchanged by definition) are known; any other column counts as changed, so no change is missed.
 */
function anyColumnChanged(columns: Iterable<string>, change: Change): boolean {
  const { relation, newTuple, oldTuple, keyTuple } = change;
  if (!newTuple) return false;
  for (const column of columns) {
    const i = relation.columnIndex.get(column);
    if (i === undefined) continue;
    const value = newTuple[i];
    if (value === undefined) continue;
    if (oldTuple) {
      if (oldTuple[i] !== value) return true;
    } else if (relation.relation.columns[i]?.isKey) {
      if (keyTuple && keyTuple[i] !== value) return true;
    } else {
      return true;
    }
  }
  return false;
}

/** A row read from the table passes a `where` (the trigger's, a backfill's) as the `new` row. */
export function readRowMatches(
  where: ReturnType<typeof compileWhere> | null,
  relation: RelationInfo,
  row: TupleData,
): boolean {
  return where === null || where({ new: accessor(relation, row), old: null });
}

function accessor(relation: RelationInfo, values: TupleData): RowAccessor {
  return (column) => {
    const i = relation.columnIndex.get(column);
    if (i === undefined) return undefined;
    const text = values[i];
    if (text === undefined) return undefined;
    return { text, typeOid: relation.compareTypes[i] ?? 0 };
  };
}
