import type { Logger } from 'pino';
import type { PipelineMetrics } from '../core/metrics/metrics.js';
import { TableReader } from '../source/table-reader.js';
import type { TypeCatalog } from '../source/type-catalog.js';
import type { TriggerIndex } from '../triggers/matcher.js';
import type { EventRouter } from '../triggers/router.js';
import { Backfills } from './backfills.js';
import { ProgressStore } from './progress-store.js';

export type { Backfills } from './backfills.js';

/**
 * A pipeline's backfills, reading through the stream's type catalog and handing rows to its router.
 * Progress lives next to the dead letters (their table's schema), else in the `walhook` schema.
 */
export function openBackfills(
  config: {
    readonly source: { readonly connection: string; readonly publication: string };
    readonly dead_letter: { readonly table?: string | undefined };
  },
  triggers: TriggerIndex,
  router: EventRouter,
  types: TypeCatalog,
  metrics: PipelineMetrics,
  logger: Logger,
): Backfills {
  const { connection, publication } = config.source;
  const { table } = config.dead_letter;
  const schema = table?.split('.')[0] ?? 'walhook';
  return new Backfills(
    triggers,
    new TableReader(connection, types, publication),
    new ProgressStore(connection, schema),
    ({ table, ...read }) => router.routeRead({ ...read, relation: table.info }),
    (trigger, sent, remaining) => metrics.backfillPage(trigger, sent, remaining),
    logger.child({ stage: 'backfill' }),
  );
}
