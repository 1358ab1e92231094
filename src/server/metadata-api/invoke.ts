import { z } from 'zod';
import {
  BackfillBadRequest,
  BackfillConflict,
  BackfillForbidden,
  BackfillNotFound,
} from '../../backfill/backfills.js';
import { EventNotFound, RedeliveryRefused } from '../../service/redeliver-event.js';
import { type MetadataContext, notStreaming, type Operation, pipelinesOf, triggerOf } from './context.js';
import { MetadataError, notExists, parseArgs } from './errors.js';

const invokeArgs = z.object({
  name: z.string().min(1),
  source: z.string().min(1).default('default'),
  payload: z.record(z.string(), z.unknown(), 'expected the row to send as a JSON object'),
});

const redeliverArgs = z.object({ event_id: z.string().min(1), source: z.string().min(1).default('default') });

/**
 * `pg_invoke_event_trigger`: the payload as the `new` row of a MANUAL event of the trigger, sent
 * through the trigger's pipeline like any event (after the events before it on the same row). The
 * answer comes once the event is handed on, before it is delivered, as Hasura answers once the event
 * is logged.
 */
export const invokeEventTrigger: Operation = async (args, context) => {
  const { name, source, payload } = parseArgs(invokeArgs, args);
  const { trigger } = triggerOf(context, source, name);
  if (!trigger.enable_manual) {
    throw new MetadataError(
      'not-supported',
      `manual mode is not enabled for event trigger "${name}": set enable_manual: true on it (in the config, then reload walhook; or pg_create_event_trigger with replace)`,
      '$.args.name',
    );
  }
  const backfills = context.backfillsOf(name);
  if (backfills === null) throw notStreaming(name);
  try {
    return await backfills.invokeGiven(name, payload);
  } catch (err) {
    throw metadataError(err);
  }
};

/**
 * `pg_redeliver_event`: a dead letter, or any event of the invocation log (delivered or not), sent
 * again now with its trigger's current settings; delivered, it is no dead letter, else it is one with
 * this attempt recorded. Hasura answers once the event is queued again; walhook once it was sent.
 */
export const redeliverEvent: Operation = async (args, context: MetadataContext) => {
  const { event_id, source } = parseArgs(redeliverArgs, args);
  try {
    await context.redeliver(event_id, pipelinesOf(context, source));
  } catch (err) {
    if (err instanceof EventNotFound) {
      throw notExists(
        `event with id "${event_id}" does not exist among the dead letters or in the invocation log`,
        '$.args.event_id',
      );
    }
    if (err instanceof RedeliveryRefused)
      throw new MetadataError('not-supported', err.message, '$.args.event_id');
    throw err;
  }
  return { message: 'success' };
};

function metadataError(err: unknown): unknown {
  if (err instanceof BackfillNotFound) return notExists(err.message, '$.args.name');
  if (err instanceof BackfillForbidden) return new MetadataError('not-supported', err.message, '$.args.name');
  if (err instanceof BackfillBadRequest)
    return new MetadataError('parse-failed', err.message, '$.args.payload');
  if (err instanceof BackfillConflict) return new MetadataError('unexpected', err.message, '$', 503);
  return err;
}
