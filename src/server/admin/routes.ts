import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../../config/schema.js';
import { type RecorderOf, redeliverLetters } from '../../dead-letters/redeliver.js';
import type { DeadLetter, DeadLetterFilter } from '../../dead-letters/store.js';
import { StoreScope, withStoreScopes } from '../../dead-letters/store-scope.js';
import { EventNotFound, EventRedeliverer, RedeliveryRefused } from '../../service/redeliver-event.js';
import type { ReloadReport } from '../../service/status.js';
import type { AdminApi } from './admin-api.js';
import { HttpError, parseBody } from './json.js';

/** What the admin routes act on: the running service. */
export interface ServiceControl {
  readonly configs: readonly Readonly<Config>[];
  /** Stops (true) or restarts (false) reading a pipeline's slot on an operator's word. */
  setPaused(pipeline: string, paused: boolean): void;
  /** Holds (true) or lets go (false) the deliveries of the trigger, which is in `configs`. */
  setTriggerPaused(trigger: string, paused: boolean): void;
  /** A pipeline's dead-letter store changed outside it: its count is refreshed. */
  deadLettersChanged(pipeline: string): void;
  /** Reads the config file again and applies its trigger changes (see docs/reload.md). */
  reload(): Promise<ReloadReport>;
  /** Where a trigger's pipeline records attempts while it streams, so redeliveries show in its log. */
  recorderOf: RecorderOf;
}

/** A selection of letters by id (the console's checkboxes) is at most this long. */
const MAX_IDS = 1000;

const selectionSchema = z
  .strictObject({
    trigger: z.string().min(1).optional(),
    id: z.string().min(1).optional(),
    ids: z.array(z.string().min(1)).min(1).max(MAX_IDS).optional(),
    pipeline: z.string().min(1).optional(),
    all: z.literal(true).optional(),
  })
  .refine(
    (body) =>
      (body.all === true) !== (body.trigger !== undefined || body.id !== undefined || body.ids !== undefined),
    'select letters with "trigger", "id" and/or "ids", or with "all": true (not both)',
  )
  .refine((body) => body.id === undefined || body.ids === undefined, 'set either "id" or "ids", not both');

type Selection = z.output<typeof selectionSchema>;

const pipelineSchema = z.strictObject({ pipeline: z.string().min(1).optional() });

/**
 * `POST /dead-letters/redeliver`, `POST /dead-letters/purge`, `POST /events/:id/redeliver`,
 * `POST /pause`, `POST /resume`, `POST /triggers/:name/pause`, `POST /triggers/:name/resume` and
 * `POST /reload`. Dead letter actions run one at a time, so two redeliveries never send the same
 * letter twice. Returns the event redelivery the routes use, for other endpoints (the metadata API)
 * to share.
 */
export function addAdminRoutes(api: AdminApi, service: ServiceControl, logger: Logger): EventRedeliverer {
  let queue: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => {});
    return run;
  };
  const onStores = <T>(selection: Selection, work: (scopes: StoreScope[]) => Promise<T>) => {
    const selected = pipelines(service, selection.pipeline);
    const ids = selection.ids === undefined ? null : new Set(selection.ids);
    return oneAtATime(async () => {
      try {
        return await withStoreScopes(service.configs, selected, logger, (scopes) =>
          work(ids === null ? scopes : scopes.map((scope) => new IdSelection(scope, ids))),
        );
      } finally {
        for (const config of selected) service.deadLettersChanged(config.pipeline);
      }
    });
  };

  api.route('POST', '/dead-letters/redeliver', async ({ body }) => {
    const selection = parseBody(selectionSchema, body);
    const filter = letterFilter(selection);
    const results = await onStores(selection, (scopes) =>
      redeliverLetters(scopes, service.configs, filter, undefined, service.recorderOf),
    );
    if (results.length === 0) throwIfNamed(selection);
    const redelivered = results.filter((r) => r.outcome === 'delivered').length;
    logger.info(
      { ...selection, redelivered, kept: results.length - redelivered },
      'dead letters redelivered',
    );
    return { body: { redelivered, kept: results.length - redelivered, results } };
  });

  const events = new EventRedeliverer(
    service.configs,
    (selected, work) =>
      oneAtATime(async () => {
        try {
          return await withStoreScopes(service.configs, selected, logger, work);
        } finally {
          for (const config of selected) service.deadLettersChanged(config.pipeline);
        }
      }),
    service.recorderOf,
  );

  // A dead letter or any event of the invocation log; 404 when neither, 409 when it cannot be sent.
  api.route('POST', '/events/:id/redeliver', async ({ body, params }) => {
    parseBody(z.strictObject({}), body);
    const id = params.id as string;
    try {
      const result = await events.redeliver(id);
      logger.info({ id, from: result.from, outcome: result.outcome }, 'event redelivered');
      const { outcome, from, status, reason } = result;
      return { body: { event_id: id, outcome, from, status, ...(reason !== undefined && { reason }) } };
    } catch (err) {
      if (err instanceof EventNotFound) throw new HttpError(404, err.message);
      if (err instanceof RedeliveryRefused) throw new HttpError(409, err.message);
      throw err;
    }
  });

  api.route('POST', '/dead-letters/purge', async ({ body }) => {
    const selection = parseBody(selectionSchema, body);
    const filter = letterFilter(selection);
    const purged = await onStores(selection, async (scopes) => {
      let removed = 0;
      for (const scope of scopes) removed += await scope.purge(filter);
      return removed;
    });
    if (purged === 0) throwIfNamed(selection);
    logger.info({ ...selection, purged }, 'dead letters purged');
    return { body: { purged } };
  });

  for (const [path, paused] of [
    ['/pause', true],
    ['/resume', false],
  ] as const) {
    api.route('POST', path, ({ body }) => {
      const selected = pipelines(service, parseBody(pipelineSchema, body).pipeline);
      for (const config of selected) service.setPaused(config.pipeline, paused);
      return { body: { paused, pipelines: selected.map((c) => c.pipeline) } };
    });
  }

  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    api.route('POST', `/triggers/:name/${action}`, ({ params }) => {
      const trigger = params.name as string;
      const config = service.configs.find((c) => c.triggers.some((t) => t.name === trigger));
      if (config === undefined) {
        const known = service.configs.flatMap((c) => c.triggers.map((t) => t.name)).join(', ');
        throw new HttpError(404, `no trigger named ${trigger} in the config (triggers: ${known})`);
      }
      service.setTriggerPaused(trigger, paused);
      return { body: { trigger, pipeline: config.pipeline, paused } };
    });
  }

  // 200 with what changed once applied; 409 with the reason when refused (the running config stays).
  api.route('POST', '/reload', async () => {
    const report = await service.reload();
    return report.result === 'ok' ? { body: report } : { status: 409, body: report };
  });

  return events;
}

function letterFilter(selection: Selection): DeadLetterFilter {
  // One id among `ids` is looked up by id; several are picked out of the listing by IdSelection.
  const id = selection.id ?? (selection.ids?.length === 1 ? selection.ids[0] : undefined);
  return {
    ...(id !== undefined && { id }),
    ...(selection.trigger !== undefined && { trigger: selection.trigger }),
  };
}

/**
 * A scope narrowed to the letters of a selection by ids: listing and purging see only those. The
 * store keeps no index of an id set, so the scope's listing is filtered.
 */
class IdSelection extends StoreScope {
  constructor(
    private readonly scope: StoreScope,
    private readonly ids: ReadonlySet<string>,
  ) {
    super(scope.store, null);
  }

  override async list(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    return (await this.scope.list(filter)).filter((letter) => this.ids.has(letter.id));
  }

  override async purge(filter: DeadLetterFilter): Promise<number> {
    return this.store.remove((await this.list(filter)).map((letter) => letter.id));
  }
}

/** Naming letters that are not there is a mistake worth a 404; a trigger or `all` with none is not. */
function throwIfNamed(selection: Selection): void {
  if (selection.id !== undefined) throw noLetter(selection.id);
  if (selection.ids !== undefined) {
    const [first] = selection.ids;
    throw selection.ids.length === 1 && first !== undefined
      ? noLetter(first)
      : new HttpError(404, `none of the ${selection.ids.length} ids selected is a dead letter`);
  }
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

function noLetter(id: string): HttpError {
  return new HttpError(404, `no dead letter with id ${id}`);
}
