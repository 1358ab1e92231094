import type { Backfills } from '../../backfill/open.js';
import type { StoredTrigger } from '../../config/hasura/trigger-store.js';
import { DEFAULT_PIPELINE } from '../../config/load.js';
import type { Config, TriggerConfig } from '../../config/schema.js';
import type { EventRedelivery } from '../../service/redeliver-event.js';
import { MetadataError, notExists } from './errors.js';

/** What the operations act on: the running service. */
export interface MetadataContext {
  readonly configs: readonly Readonly<Config>[];
  /** The backfills of the pipeline streaming `trigger` in this process; null while it does not. */
  backfillsOf(trigger: string): Backfills | null;
  /** Redelivers a dead letter or logged event of `pipelines` (src/service/redeliver-event.ts). */
  redeliver(id: string, pipelines: readonly Readonly<Config>[]): Promise<EventRedelivery>;
  /**
   * Changes the triggers of the metadata store and applies them to the running pipelines (see
   * src/commands/reloader.ts); throws, changing nothing, when `edit` throws or the result is refused.
   */
  changeStore(why: string, edit: (stored: StoredTrigger[]) => StoredTrigger[]): Promise<unknown>;
}

/** An operation: its arguments (unchecked) to its answer, or a {@link MetadataError}. */
export type Operation = (args: unknown, context: MetadataContext) => Promise<unknown>;

/**
 * The pipelines a Hasura `source` names: `default` (what Hasura calls its one database, and what its
 * clients send) is every pipeline; a pipeline's name is that pipeline.
 */
export function pipelinesOf(context: MetadataContext, source: string): readonly Readonly<Config>[] {
  if (source === DEFAULT_PIPELINE) return context.configs;
  const named = context.configs.filter((c) => c.pipeline === source);
  if (named.length === 0) {
    const known = ['default', ...context.configs.map((c) => c.pipeline)];
    throw notExists(
      `source with name "${source}" does not exist (walhook's sources are its pipelines: ${[...new Set(known)].join(', ')})`,
      '$.args.source',
    );
  }
  return named;
}

/** The trigger `name` of a pipeline of `source`, with its pipeline's config. */
export function triggerOf(
  context: MetadataContext,
  source: string,
  name: string,
): { config: Readonly<Config>; trigger: Readonly<TriggerConfig> } {
  for (const config of pipelinesOf(context, source)) {
    const trigger = config.triggers.find((t) => t.name === name);
    if (trigger !== undefined) return { config, trigger };
  }
  throw notExists(`event trigger "${name}" does not exist`, '$.args.name');
}

/** Errors with what the operator can do about them, for a state rather than a request. */
export function notStreaming(trigger: string): MetadataError {
  return new MetadataError(
    'unexpected',
    `the pipeline of event trigger "${trigger}" is not streaming in this process (starting, or a standby); ask the active one`,
    '$',
    503,
  );
}
