import type { BatchLimits, DeliveryTarget } from '../../core/delivery-event.js';
import type { TriggerDelivery } from '../plugin.js';
import { DEFAULT_RETRY } from '../retry-policy.js';
import type { WebhookSettings } from './settings.js';
import type { RequestTransform } from './transform-settings.js';

/** A receiver that takes Hasura's event-trigger POSTs. */
export interface WebhookTarget extends DeliveryTarget {
  type: 'webhook';
  url: string;
  headers: Readonly<Record<string, string>>;
  /** The trigger's `user_agent`; absent for the global one. A User-Agent in `headers` wins over both. */
  userAgent?: string;
  /** With `maxEvents` above 1, events go in batches, as `{"events": [...]}`. */
  batch: BatchLimits;
  /** Standard Webhooks signing secrets (`whsec_…`); each signs every request. Empty: unsigned. */
  secrets: readonly string[];
  /** Files for an https receiver: a CA to trust instead of the system's, a client certificate. */
  tls: WebhookTls | null;
  /** The trigger's `request_transform`, compiled; absent, the payload is POSTed as is. */
  transform?: RequestTransform;
}

export interface WebhookTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** The target of a trigger whose events are POSTed to a webhook. */
export function webhookTarget(trigger: TriggerDelivery, settings: WebhookSettings): WebhookTarget {
  const { url, headers } = credentialsAsHeader(settings.url, settings.headers ?? {});
  return {
    type: 'webhook',
    trigger: trigger.name,
    url,
    headers,
    ...(settings.user_agent !== undefined && { userAgent: settings.user_agent }),
    retry: trigger.retry ?? DEFAULT_RETRY,
    ordering: trigger.ordering,
    concurrency: trigger.concurrency,
    batch: { maxEvents: settings.batch.max_events, maxWaitMs: settings.batch.max_wait_ms },
    secrets: settings.secrets,
    tls: settings.tls === undefined ? null : webhookTls(settings.tls),
    ...(settings.request_transform !== undefined && { transform: settings.request_transform }),
  };
}

function webhookTls(tls: NonNullable<WebhookSettings['tls']>): WebhookTls {
  const files: WebhookTls = {};
  if (tls.ca_file !== undefined) files.caFile = tls.ca_file;
  if (tls.cert_file !== undefined) files.certFile = tls.cert_file;
  if (tls.key_file !== undefined) files.keyFile = tls.key_file;
  return files;
}

/**
 * HTTP clients do not send a URL's user:password; receivers expecting Basic auth would reject every
 * request. The credentials become an Authorization header (unless one is configured) and leave the
 * URL, which is then safe to log.
 */
function credentialsAsHeader(
  webhook: string,
  headers: Readonly<Record<string, string>>,
): { url: string; headers: Readonly<Record<string, string>> } {
  const url = new URL(webhook);
  if (!url.username && !url.password) return { url: webhook, headers };
  const basic = Buffer.from(
    `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
  ).toString('base64');
  url.username = '';
  url.password = '';
  const configured = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
  return {
    url: url.toString(),
    headers: configured ? headers : { ...headers, Authorization: `Basic ${basic}` },
  };
}
