import type { AttemptError } from '../../core/delivery-event.js';
import type { AttemptResult, Delivery, Request, SinkPlugin, Transport } from '../plugin.js';
import { WebhookClient } from './client.js';
import { type WebhookSettings, webhookSettings } from './settings.js';
import { shownTransformed, webhookSecrets } from './shown-request.js';
import { batchMessageId, signatureHeaders } from './signature.js';
import { type WebhookTarget, webhookTarget } from './target.js';
import { tlsKey } from './tls-files.js';
import { TransformError, type TransformedRequest } from './transform.js';
import type { RequestTransform } from './transform-settings.js';
import { transformedAttempt } from './transformed.js';

/** One POST: its target, the exact body and the attempt's own headers. */
interface Post extends Request {
  readonly target: WebhookTarget;
  readonly headers: Record<string, string>;
  /** What the trigger's `request_transform` made of the event, sent instead of a POST of `body`. */
  readonly transformed?: TransformedRequest;
  /** Why the transform failed on this event: nothing is sent, and the failure is final. */
  readonly failure?: AttemptError;
}

/** Hasura's event triggers: one POST per event, or `{"events": [...]}` per batch, over keep-alive pools. */
export const webhookPlugin: SinkPlugin<WebhookTarget, WebhookSettings> = {
  type: 'webhook',
  settings: webhookSettings,
  target: webhookTarget,
  waitHoldsSlot: false,
  failureLog: 'each',
  secrets: webhookSecrets,
  open: ({ userAgent }) => new WebhookTransport(new WebhookClient({ userAgent })),
  // Loaded with the first probe: only `walhook validate` and start-up checks probe.
  probe: async (target, timeoutMs) => (await import('./probe.js')).probeWebhook(target, timeoutMs),
  probeKey: (target) => JSON.stringify(['webhook', new URL(target.url).origin, tlsKey(target.tls)]),
};

class WebhookTransport implements Transport<WebhookTarget> {
  readonly #client: WebhookClient;

  constructor(client: WebhookClient) {
    this.#client = client;
  }

  request(deliveries: readonly Delivery<WebhookTarget>[], currentRetry: number, traceparent: string): Post {
    const { target } = (deliveries[0] as Delivery<WebhookTarget>).event;
    if (target.transform !== undefined) {
      // Config refuses a transform with batches: the request is one event's.
      const { event } = deliveries[0] as Delivery<WebhookTarget>;
      return this.#transformed(target, target.transform, event.id, event.body(currentRetry), traceparent);
    }
    const batched = target.batch.maxEvents > 1;
    const body = batched
      ? batchBody(deliveries, currentRetry)
      : (deliveries[0] as Delivery).event.body(currentRetry);
    // Signed per attempt: the body (its current_retry) and the timestamp are this attempt's. An unsigned
    // trigger's hot path pays nothing for signing.
    if (target.secrets.length === 0) return { target, body, headers: { traceparent } };
    const messageId = batched
      ? batchMessageId(deliveries.map((d) => d.event.id))
      : (deliveries[0] as Delivery).event.id;
    const headers = signatureHeaders(target.secrets, messageId, body);
    headers.traceparent = traceparent;
    return { target, body, headers };
  }

  send(post: Post): Promise<AttemptResult> {
    if (post.failure !== undefined) {
      return Promise.resolve({
        status: null,
        durationMs: 0,
        responseSnippet: '',
        error: post.failure,
        final: true,
      });
    }
    if (post.transformed !== undefined) return this.#client.send(post.target, post.transformed, post.headers);
    return this.#client.post(post.target, post.body, post.headers);
  }

  /** The dead letter keeps `payload`, so that redelivery renders it again through the transform. */
  #transformed(
    target: WebhookTarget,
    transform: RequestTransform,
    messageId: string,
    payload: string,
    traceparent: string,
  ): Post {
    try {
      const { request, headers } = transformedAttempt(
        target,
        transform,
        this.#client.userAgent,
        payload,
        messageId,
      );
      headers.traceparent = traceparent;
      return {
        target,
        body: request.body ?? '',
        headers,
        transformed: request,
        letterBody: payload,
        sentAs: shownTransformed(target, request),
      };
    } catch (err) {
      if (!(err instanceof TransformError)) throw err;
      const failure: AttemptError = { type: 'transform', message: err.message };
      return { target, body: payload, headers: { traceparent }, failure };
    }
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}

/**
 * The body of a batch: its events' bodies, in order, in one envelope. Joined rather than concatenated,
 * so the text is one flat string at once, not a tree of every piece for the client to flatten again.
 */
function batchBody(deliveries: readonly Delivery[], currentRetry: number): string {
  const bodies = new Array<string>(deliveries.length);
  for (let i = 0; i < deliveries.length; i++)
    bodies[i] = (deliveries[i] as Delivery).event.body(currentRetry);
  return `{"events":[${bodies.join(',')}]}`;
}
