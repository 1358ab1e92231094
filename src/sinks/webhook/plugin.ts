import { headerSecrets } from '../../core/redact.js';
import type { AttemptResult, Delivery, Request, SinkPlugin, Transport } from '../plugin.js';
import { WebhookClient } from './client.js';
import { type WebhookSettings, webhookSettings } from './settings.js';
import { batchMessageId, signatureHeaders } from './signature.js';
import { type WebhookTarget, webhookTarget } from './target.js';
import { tlsKey } from './tls-files.js';

/** One POST: its target, the exact body and the attempt's own headers. */
interface Post extends Request {
  readonly target: WebhookTarget;
  readonly headers: Record<string, string>;
}

/** Hasura's event triggers: one POST per event, or `{"events": [...]}` per batch, over keep-alive pools. */
export const webhookPlugin: SinkPlugin<WebhookTarget, WebhookSettings> = {
  type: 'webhook',
  settings: webhookSettings,
  target: webhookTarget,
  waitHoldsSlot: false,
  failureLog: 'each',
  secrets: (target) => headerSecrets(target.headers),
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
    return this.#client.post(post.target, post.body, post.headers);
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}

/** The body of a batch: its events' bodies, in order, in one envelope. */
function batchBody(deliveries: readonly Delivery[], currentRetry: number): string {
  let body = '{"events":[';
  for (let i = 0; i < deliveries.length; i++) {
    body += (i === 0 ? '' : ',') + (deliveries[i] as Delivery).event.body(currentRetry);
  }
  return `${body}]}`;
}
