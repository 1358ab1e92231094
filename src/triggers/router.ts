import type { CheckpointTracker } from '../checkpoint/tracker.js';
import type { PipelineMetrics } from '../observability/metrics.js';
import type { DeliveryEvent } from '../sink/delivery-event.js';
import { eventId } from '../sink/event-id.js';
import { HasuraBody, type RenderedRows } from '../sink/payload.js';
import { rowImages, rowKey, rowToJson } from '../source/row-images.js';
import type { Change } from '../source/transaction-reader.js';
import { filterReason, type TriggerIndex } from './matcher.js';
import { RoutedEvent, type SettleHooks } from './routed-event.js';

/**
 * The triggers stage: each change becomes one delivery event per trigger that fires, registered with
 * the checkpoint tracker before it leaves. Rows are rendered once per change, and only when a trigger
 * fires.
 */
export class EventRouter {
  constructor(
    private readonly triggers: TriggerIndex,
    private readonly systemId: string,
    private readonly tracker: CheckpointTracker,
    private readonly metrics: Pick<PipelineMetrics, 'changesReceived' | 'eventsFiltered' | 'trigger'>,
    private readonly submit: (event: DeliveryEvent) => void,
    /** After every settlement, for backpressure. */
    private readonly onSettled: () => void,
  ) {}

  private readonly hooks: SettleHooks = { settled: () => this.onSettled() };

  route(change: Change): void {
    const { relation, txn } = change;
    const { table } = relation;
    this.metrics.changesReceived.inc({ table, op: change.op });
    const triggers = this.triggers.forRelation(relation);
    if (triggers.length === 0) return;
    const images = rowImages(change);
    let rows: RenderedRows | null = null;
    let key: string | null = null;
    for (const trigger of triggers) {
      const reason = filterReason(trigger, change, images);
      if (reason) {
        this.metrics.eventsFiltered.inc({ trigger: trigger.name, reason });
        continue;
      }
      rows ??= {
        newJson: images.new ? rowToJson(relation, images.new) : 'null',
        oldJson: images.old ? rowToJson(relation, images.old) : 'null',
        unchangedToast: images.unchangedToast,
        toastFetched: change.toastFetched ?? [],
      };
      key ??= rowKey(change, images);
      const id = eventId(this.systemId, txn.finalLsn, change.index, trigger.name);
      const triggerMetrics = this.metrics.trigger(trigger.name);
      triggerMetrics.matched.inc();
      this.tracker.add(txn.tracked);
      this.submit(
        new RoutedEvent(
          id,
          trigger.target,
          key,
          change.op,
          table,
          relation,
          txn.finalLsn,
          txn.commitTime,
          new HasuraBody(change, rows, trigger, id),
          triggerMetrics,
          this.tracker,
          txn.tracked,
          this.hooks,
        ),
      );
    }
  }
}
