import { z } from 'zod';
import {
  BackfillBadRequest,
  BackfillConflict,
  BackfillForbidden,
  BackfillNotFound,
  type Backfills,
} from '../../backfill/backfills.js';
import { isWalhookError } from '../../core/errors.js';
import { whereSchema } from '../../triggers/where-schema.js';
import type { AdminApi } from './admin-api.js';
import { HttpError, parseBody } from './json.js';

const invokeSchema = z.strictObject({ key: z.record(z.string(), z.unknown()) });

const backfillSchema = z.strictObject({
  where: whereSchema.nullable().default(null),
  batch_size: z.number().int().min(1).max(100_000).default(1000),
  op: z.enum(['MANUAL', 'READ']).default('MANUAL'),
  restart: z.boolean().default(false),
});

/**
 * `POST /triggers/:name/invoke`, `POST /triggers/:name/backfill` and `…/backfill/cancel`: rows read
 * from the table and sent through the trigger by the pipeline that streams it. `backfillsOf` gives
 * that pipeline's backfills, or null while it is not streaming (starting, standby).
 */
export function addBackfillRoutes(api: AdminApi, backfillsOf: (trigger: string) => Backfills | null): void {
  const on = async <T>(name: string, work: (backfills: Backfills) => Promise<T>): Promise<T> => {
    const backfills = backfillsOf(name);
    if (backfills === null) {
      throw new HttpError(
        503,
        `the pipeline of trigger ${name} is not streaming in this process (starting, or a standby); ask the active one`,
      );
    }
    try {
      return await work(backfills);
    } catch (err) {
      throw httpError(err);
    }
  };

  api.route('POST', '/triggers/:name/invoke', async ({ body, params }) => {
    const name = params.name as string;
    const { key } = parseBody(invokeSchema, body);
    return { body: await on(name, (backfills) => backfills.invoke(name, key)) };
  });

  api.route('POST', '/triggers/:name/backfill', async ({ body, params }) => {
    const name = params.name as string;
    const request = parseBody(backfillSchema, body);
    const report = await on(name, (backfills) =>
      backfills.start({
        trigger: name,
        where: request.where,
        batchSize: request.batch_size,
        op: request.op,
        restart: request.restart,
      }),
    );
    return { status: 202, body: report };
  });

  api.route('POST', '/triggers/:name/backfill/cancel', async ({ params }) => {
    const name = params.name as string;
    const report = await on(name, (backfills) => backfills.cancel(name));
    if (report === null) throw new HttpError(404, `no backfill of trigger ${name} runs in this process`);
    return { body: report };
  });
}

function httpError(err: unknown): unknown {
  if (err instanceof BackfillNotFound) return new HttpError(404, err.message);
  if (err instanceof BackfillForbidden) return new HttpError(403, err.message);
  if (err instanceof BackfillConflict) return new HttpError(409, err.message);
  if (err instanceof BackfillBadRequest) return new HttpError(400, err.message);
  if (isWalhookError(err) && err.exitCode === 2) return new HttpError(409, err.message);
  return err;
}
