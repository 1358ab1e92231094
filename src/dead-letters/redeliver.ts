import { headerSecrets, maskSecrets } from '../core/redact.js';
import { userAgent } from '../core/version.js';
import type { DeliveryRecorder, SentAttempt } from '../sinks/engine-hooks.js';
import { sinkTarget, type TriggerSink } from '../sinks/registry.js';
import { attemptTrace } from '../sinks/trace.js';
import { WebhookClient } from '../sinks/webhook/client.js';
import { shownTransformed } from '../sinks/webhook/shown-request.js';
import { signatureHeaders } from '../sinks/webhook/signature.js';
import type { WebhookTarget } from '../sinks/webhook/target.js';
import { TransformError } from '../sinks/webhook/transform.js';
import { transformedAttempt } from '../sinks/webhook/transformed.js';
import { eventOfLetter, lastErrorText } from './letter.js';
import type { DeadLetter, DeadLetterFilter, DeadLetterStore } from './store.js';
import type { StoreScope } from './store-scope.js';

/** The triggers of a pipeline, as its config holds them. */
interface PipelineTriggers {
  readonly triggers: readonly TriggerSink[];
  /** The global `user_agent` (shared by every pipeline). */
  readonly user_agent: string;
}

/** What became of one letter: delivered (and removed from the store) or kept, with why. */
export interface RedeliveryResult {
  id: string;
  trigger: string;
  outcome: 'delivered' | 'kept';
  /** The receiver's HTTP status; null when no answer came or no attempt was made. */
  status: number | null;
  /** Why a kept letter was kept. */
  reason?: string;
}

/** Where the running service records a trigger's attempts (its pipeline's invocation log and console). */
export type RecorderOf = (trigger: string) => DeliveryRecorder | undefined;

/**
 * POSTs each matching letter's stored body once, in LSN order per store, with its trigger's current
 * URL, headers, timeout and signing secrets. A delivered letter leaves the store; a failed one stays,
 * with this attempt recorded. Shared by `walhook dlq redeliver` and `POST /dead-letters/redeliver`;
 * `onResult` sees each result as it comes; `recorderOf` records each attempt as the engine's are.
 */
export async function redeliverLetters(
  scopes: readonly StoreScope[],
  configs: readonly PipelineTriggers[],
  filter: DeadLetterFilter,
  onResult: (result: RedeliveryResult) => void = () => {},
  recorderOf: RecorderOf = () => undefined,
): Promise<RedeliveryResult[]> {
  const letters: { letter: DeadLetter; store: DeadLetterStore }[] = [];
  for (const scope of scopes) {
    for (const letter of await scope.list(filter)) letters.push({ letter, store: scope.store });
  }
  const results: RedeliveryResult[] = [];
  if (letters.length === 0) return results;
  const targets = webhookTargets(configs);
  const client = new WebhookClient({ userAgent: configs[0]?.user_agent ?? userAgent() });
  try {
    for (const { letter, store } of letters) {
      const recorder = recorderOf(letter.trigger);
      const result = await redeliverOne(client, targets.get(letter.trigger), letter, store, recorder);
      results.push(result);
      onResult(result);
    }
  } finally {
    await client.close();
  }
  return results;
}

/** Null for a trigger whose sink is not a webhook: redelivery POSTs, so its letters are kept. */
function webhookTargets(configs: readonly PipelineTriggers[]): Map<string, WebhookTarget | null> {
  const targets = new Map<string, WebhookTarget | null>();
  for (const trigger of configs.flatMap((config) => config.triggers)) {
    const target = sinkTarget(trigger);
    targets.set(trigger.name, target.type === 'webhook' ? (target as WebhookTarget) : null);
  }
  return targets;
}

/** One attempt at a letter as it went, in the shape the engine records its attempts in. */
type Sent = Omit<SentAttempt, 'at' | 'currentRetry' | 'outcome'>;

/** One attempt at a letter, or why none was made (its trigger's transform failed on it). */
async function send(
  client: WebhookClient,
  target: WebhookTarget,
  letter: DeadLetter,
): Promise<Sent | string> {
  // The next attempt of the same trace, so receivers can follow it from the original attempts.
  const { traceparent } = attemptTrace(letter.id, letter.attempts + 1);
  const { transform } = target;
  if (transform === undefined) {
    // A batch's letter holds a one-event envelope, a message of its own: it is signed under the event's id.
    const headers = signatureHeaders(target.secrets, letter.id, letter.body);
    headers.traceparent = traceparent;
    return { body: letter.body, headers, result: await client.post(target, letter.body, headers) };
  }
  // The letter keeps the event as walhook renders it: the transform makes the request again.
  try {
    const { request, headers } = transformedAttempt(
      target,
      transform,
      client.userAgent,
      letter.body,
      letter.id,
    );
    headers.traceparent = traceparent;
    return {
      body: request.body ?? '',
      headers,
      letterBody: letter.body,
      sentAs: shownTransformed(target, request),
      result: await client.send(target, request, headers),
    };
  } catch (err) {
    if (err instanceof TransformError) return err.message;
    throw err;
  }
}

async function redeliverOne(
  client: WebhookClient,
  target: WebhookTarget | null | undefined,
  letter: DeadLetter,
  store: DeadLetterStore,
  recorder: DeliveryRecorder | undefined,
): Promise<RedeliveryResult> {
  const { id, trigger } = letter;
  if (target === undefined) {
    return { id, trigger, outcome: 'kept', status: null, reason: 'trigger no longer configured' };
  }
  if (target === null) {
    return { id, trigger, outcome: 'kept', status: null, reason: 'trigger has no webhook to POST it to' };
  }
  const attemptedAt = new Date();
  const sent = await send(client, target, letter);
  if (typeof sent === 'string') return { id, trigger, outcome: 'kept', status: null, reason: sent };
  const { result } = sent;
  recorder?.attempt([eventOfLetter(letter, target)], {
    ...sent,
    at: attemptedAt,
    currentRetry: letter.attempts,
    outcome: result.error === undefined ? 'delivered' : 'failed',
  });
  if (result.error === undefined) {
    await store.remove([letter.id]);
    return { id, trigger, outcome: 'delivered', status: result.status };
  }
  await store.add({
    ...letter,
    attempts: letter.attempts + 1,
    lastStatus: result.status,
    lastError: lastErrorText(result.error),
    // A receiver may echo the request: its header values must not be kept with the letter.
    responseSnippet:
      result.responseSnippet === ''
        ? null
        : maskSecrets(result.responseSnippet, headerSecrets(target.headers)),
    lastAttemptAt: attemptedAt,
  });
  return { id, trigger, outcome: 'kept', status: result.status, reason: result.error.message };
}
