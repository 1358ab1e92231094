import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { redeliverLetters } from '../dead-letters/redeliver.js';
import type { DeadLetterFilter } from '../dead-letters/store.js';
import { type StoreScope, withStoreScopes } from '../dead-letters/store-scope.js';
import type { AdminApi } from './admin-api.js';
import { HttpError } from './json.js';

/** What the admin routes act on: the running service. */
export interface ServiceControl {
  readonly configs: readonly Readonly<Config>[];
  /** Stops (true) or restarts (false) reading a pipeline's slot on an operator's word. */
  setPaused(pipeline: string, paused: boolean): void;
  /** A pipeline's dead-letter store changed outside it: its count is refreshed. */
  deadLettersChanged(pipeline: string): void;
}

const selectionSchema = z
  .strictObject({
    trigger: z.string().min(1).optional(),
    id: z.string().min(1).optional(),
    pipeline: z.string().min(1).optional(),
    all: z.literal(true).optional(),
  })
  .refine(
    (body) => (body.all === true) !== (body.trigger !== undefined || body.id !== undefined),
    'select letters with "trigger" and/or "id", or with "all": true (not both)',
  );

const pipelineSchema = z.strictObject({ pipeline: z.string().min(1).optional() });

/**
 * `POST /dead-letters/redeliver`, `POST /dead-letters/purge`, `POST /pause` and `POST /resume`. Dead
 * letter actions run one at a time, so two redeliveries never send the same letter twice.
 */
export function addAdminRoutes(api: AdminApi, service: ServiceControl, logger: Logger): void {
  let queue: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => {});
    return run;
  };
  const onStores = <T>(pipeline: string | undefined, work: (scopes: StoreScope[]) => Promise<T>) => {
    const selected = pipelines(service, pipeline);
    return oneAtATime(async () => {
      try {
        return await withStoreScopes(service.configs, selected, logger, work);
      } finally {
        for (const config of selected) service.deadLettersChanged(config.pipeline);
      }
    });
  };

  api.route('POST', '/dead-letters/redeliver', async ({ body }) => {
    const selection = parse(selectionSchema, body);
    const filter = letterFilter(selection);
    const results = await onStores(selection.pipeline, (scopes) =>
      redeliverLetters(scopes, service.configs, filter),
    );
    if (results.length === 0 && filter.id !== undefined) throw noLetter(filter.id);
    const redelivered = results.filter((r) => r.outcome === 'delivered').length;
    logger.info(
      { ...selection, redelivered, kept: results.length - redelivered },
      'dead letters redelivered',
    );
    return { body: { redelivered, kept: results.length - redelivered, results } };
  });

  api.route('POST', '/dead-letters/purge', async ({ body }) => {
    const selection = parse(selectionSchema, body);
    const filter = letterFilter(selection);
    const purged = await onStores(selection.pipeline, async (scopes) => {
      let removed = 0;
      for (const scope of scopes) removed += await scope.purge(filter);
      return removed;
    });
    if (purged === 0 && filter.id !== undefined) throw noLetter(filter.id);
    logger.info({ ...selection, purged }, 'dead letters purged');
    return { body: { purged } };
  });

  for (const [path, paused] of [
    ['/pause', true],
    ['/resume', false],
  ] as const) {
    api.route('POST', path, ({ body }) => {
      const selected = pipelines(service, parse(pipelineSchema, body).pipeline);
      for (const config of selected) service.setPaused(config.pipeline, paused);
      return { body: { paused, pipelines: selected.map((c) => c.pipeline) } };
    });
  }
}

function letterFilter(selection: z.output<typeof selectionSchema>): DeadLetterFilter {
  return {
    ...(selection.id !== undefined && { id: selection.id }),
    ...(selection.trigger !== undefined && { trigger: selection.trigger }),
  };
}

/** Every pipeline, or the one named. */
function pipelines(service: ServiceControl, name: string | undefined): readonly Readonly<Config>[] {
  if (name === undefined) return service.configs;
  const selected = service.configs.filter((c) => c.pipeline === name);
  if (selected.length === 0) {
    const known = service.configs.map((c) => c.pipeline).join(', ');
    throw new HttpError(400, `pipeline "${name}" is not in the config (pipelines: ${known})`);
  }
  return selected;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) =>
    issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`,
  );
  throw new HttpError(400, `invalid request body: ${problems.join('; ')}`);
}

function noLetter(id: string): HttpError {
  return new HttpError(404, `no dead letter with id ${id}`);
}
