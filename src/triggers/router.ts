import type { DeliveryEvent } from '../core/delivery-event.js';
import { eventId } from '../core/event-id.js';
import type { PipelineMetrics } from '../core/metrics/metrics.js';
import type { TriggerMetrics } from '../core/metrics/trigger-metrics.js';
import type { Settlements } from '../core/settlement.js';
import type { TupleData } from '../source/change.js';
import { type RowImages, rowImages, rowKey, rowToJson, tupleKey } from '../source/row-images.js';
import type { Change, RelationInfo, TransactionInfo } from '../source/transaction-reader.js';
import { type CompiledTrigger, type FilterReason, filterReason, type TriggerIndex } from './matcher.js';
import type { RenderedRows } from './payload.js';
import { type EventOrigin, RoutedEvent, type SettleHooks } from './routed-event.js';
import { NO_SESSION, type Session } from './session.js';

/** Sees each change a trigger filtered out, and why (the console's `debug_filters`). */
export type FilteredChangeHook = (
  trigger: string,
  reason: Exclude<FilterReason, null>,
  change: Change,
  images: RowImages,
) => void;

/**
 * The triggers stage: each change becomes one delivery event per trigger that fires, registered with
 * the checkpoint tracker before it leaves. Rows are rendered once per change, and only when a trigger
 * fires.
 */
export class EventRouter {
  constructor(
    private readonly triggers: TriggerIndex,
    private readonly systemId: string,
    private readonly tracker: Settlements,
    private readonly metrics: Pick<PipelineMetrics, 'changesReceived' | 'eventsFiltered' | 'trigger'>,
    private readonly submit: (event: DeliveryEvent) => void,
    /** After every settlement, for backpressure. */
    private readonly onSettled: () => void,
    /** Absent unless asked for: the hot path then pays nothing for it. */
    private readonly onFiltered?: FilteredChangeHook,
  ) {}

  private readonly hooks: SettleHooks = { settled: () => this.onSettled() };
  /** Each trigger's origin for the transaction and table of its latest event (see `EventOrigin`). */
  readonly #origins = new WeakMap<CompiledTrigger, EventOrigin>();

  #origin(
    trigger: CompiledTrigger,
    relation: RelationInfo,
    txn: TransactionInfo,
    metrics: TriggerMetrics,
    hooks: SettleHooks,
  ): EventOrigin {
    return {
      target: trigger.target,
      table: relation.table,
      relation,
      commitLsn: txn.finalLsn,
      commitTime: txn.commitTime,
      metrics,
      tracker: this.tracker,
      transaction: txn.tracked,
      hooks,
    };
  }

  /**
   * A row read from the table (a backfill page, a manual invocation) as an event of `trigger`, in the
   * transaction of the watermark it is handed on at: the checkpoint does not pass that transaction
   * before the event settles, and the row's ordering key is the one its changes have.
   */
  routeRead(read: {
    trigger: CompiledTrigger;
    relation: RelationInfo;
    row: TupleData;
    op: 'MANUAL' | 'READ';
    txn: TransactionInfo;
    index: number;
    onSettled: (outcome: 'delivered' | 'failed') => void;
    /** A row given as JSON: the payload's `new`, as it is; `row` then only orders it. */
    given?: string;
  }): string {
    const { trigger, relation, row, txn, index } = read;
    const id = eventId(this.systemId, txn.finalLsn, index, trigger.name);
    const rows =
      read.given === undefined
        ? readRows(relation, row, trigger.payloadColumns ? payloadMask(trigger, relation) : undefined)
        : { newJson: read.given, oldJson: 'null', unchangedToast: [], toastFetched: [] };
    const metrics = this.metrics.trigger(trigger.name);
    metrics.matched.inc();
    this.tracker.add(txn.tracked);
    const hooks: SettleHooks = {
      settled: (outcome) => {
        this.onSettled();
        read.onSettled(outcome);
      },
    };
    const origin = this.#origin(trigger, relation, txn, metrics, hooks);
    const source = { op: read.op, index, relation, txn };
    this.submit(new RoutedEvent(id, tupleKey(relation, row), read.op, origin, source, rows, trigger));
    return id;
  }

  /** `session`: what the change's transaction said of its session (see session.ts). */
  route(change: Change, session: Session = NO_SESSION): void {
    const { relation, txn } = change;
    const { table } = relation;
    this.metrics.changesReceived.inc({ table, op: change.op });
    const triggers = this.triggers.forRelation(relation);
    if (triggers.length === 0) return;
    const images = rowImages(change);
    // Shared by the triggers that show every column.
    let rows: RenderedRows | null = null;
    let key: string | null = null;
    for (const trigger of triggers) {
      const reason = filterReason(trigger, change, images);
      if (reason) {
        this.metrics.eventsFiltered.inc({ trigger: trigger.name, reason });
        this.onFiltered?.(trigger.name, reason, change, images);
        continue;
      }
      let triggerRows: RenderedRows;
      if (trigger.payloadColumns) {
        triggerRows = renderRows(change, images, payloadMask(trigger, relation));
      } else {
        rows ??= renderRows(change, images, undefined);
        triggerRows = rows;
      }
      key ??= rowKey(change, images);
      const id = eventId(this.systemId, txn.finalLsn, change.index, trigger.name);
      let origin = this.#origins.get(trigger);
      if (origin === undefined || origin.transaction !== txn.tracked || origin.relation !== relation) {
        origin = this.#origin(trigger, relation, txn, this.metrics.trigger(trigger.name), this.hooks);
        this.#origins.set(trigger, origin);
      }
      origin.metrics.matched.inc();
      this.tracker.add(txn.tracked);
      this.submit(new RoutedEvent(id, key, change.op, origin, change, triggerRows, trigger, session));
    }
  }
}

/** The fields of a row read from the table; `old` is null, as in Hasura's manual invocation. */
function readRows(
  relation: RelationInfo,
  row: TupleData,
  shown: readonly boolean[] | undefined,
): RenderedRows {
  return { newJson: rowToJson(relation, row, shown), oldJson: 'null', unchangedToast: [], toastFetched: [] };
}

function renderRows(change: Change, images: RowImages, shown: readonly boolean[] | undefined): RenderedRows {
  const { relation } = change;
  const visible = (names: readonly string[]) =>
    shown === undefined ? names : names.filter((name) => shown[relation.columnIndex.get(name) ?? -1]);
  return {
    newJson: images.new ? rowToJson(relation, images.new, shown) : 'null',
    oldJson: images.old ? rowToJson(relation, images.old, shown) : 'null',
    unchangedToast: visible(images.unchangedToast),
    toastFetched: visible(change.toastFetched ?? []),
  };
}

const masks = new WeakMap<RelationInfo, WeakMap<CompiledTrigger, boolean[]>>();

/**
 * Per column of the relation, whether a trigger's payload shows it: a listed column or a key column,
 * which receivers need to know which row changed (Hasura's body shows the listed ones only). Worked
 * out once per Relation message and trigger (per definition: a reloaded trigger gets its own).
 */
function payloadMask(trigger: CompiledTrigger, relation: RelationInfo): boolean[] {
  let byTrigger = masks.get(relation);
  if (byTrigger === undefined) {
    byTrigger = new WeakMap();
    masks.set(relation, byTrigger);
  }
  let mask = byTrigger.get(trigger);
  if (mask === undefined) {
    const listed = trigger.payloadColumns as ReadonlySet<string>;
    const keys = new Set(trigger.payloadFormat === 'walhook' ? relation.keyIndexes : []);
    mask = relation.relation.columns.map((column, i) => listed.has(column.name) || keys.has(i));
    byTrigger.set(trigger, mask);
  }
  return mask;
}
