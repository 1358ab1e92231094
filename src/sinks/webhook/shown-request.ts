import { CENSOR, headerSecrets, redactText } from '../../core/redact.js';
import type { SentAs } from '../plugin.js';
import { targetHeaders } from './client.js';
import type { WebhookTarget } from './target.js';
import type { TransformedRequest } from './transform.js';

/** Headers whose values are credentials whatever the trigger's config says. */
export const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'webhook-signature',
]);

/** A webhook URL without its userinfo, and with password-like query parameters masked. */
export function safeUrl(text: string): string {
  if (!URL.canParse(text)) return redactText(text);
  const url = new URL(text);
  url.username = '';
  url.password = '';
  return redactText(url.toString());
}

/**
 * What is masked wherever a response may echo the request: the configured header values, and the
 * literal text of a request transform's added headers (what a template renders from an event is not
 * known in advance; its literal words of 8 characters or more are).
 */
export function webhookSecrets(target: WebhookTarget): string[] {
  const added: Record<string, string> = {};
  for (const [name, template] of target.transform?.addHeaders ?? []) {
    const { source } = template;
    added[name] = source.includes('{{')
      ? source
          .replace(/\{\{[\s\S]*?\}\}/g, ' ')
          .split(/\s+/)
          .filter((word) => word.length >= 8)
          .join(' ')
      : source;
  }
  return headerSecrets({ ...target.headers, ...added });
}

/**
 * A request a transform made, as it may be shown or kept: its URL without credentials, and its
 * headers masked as `shownTargetHeaders` masks them, the transform's added headers counting as
 * configured.
 */
export function shownTransformed(target: WebhookTarget, request: TransformedRequest): SentAs {
  const configured = new Set(Object.keys(target.headers).map((name) => name.toLowerCase()));
  for (const [name] of target.transform?.addHeaders ?? []) configured.add(name.toLowerCase());
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = configured.has(name) || SECRET_HEADERS.has(name) ? CENSOR : value;
  }
  return { method: request.method, url: safeUrl(request.url), headers };
}

/**
 * The headers every request to `target` carries, as they may be shown or kept: every configured
 * header's value is masked (a webhook's headers exist to carry credentials), and so are the
 * credential headers whoever set them. The console and the invocation log show requests this way.
 */
export function shownTargetHeaders(target: WebhookTarget, userAgent: string): Record<string, string> {
  const configured = new Set(Object.keys(target.headers).map((name) => name.toLowerCase()));
  const headers = targetHeaders(target, userAgent);
  for (const name of Object.keys(headers)) {
    if (configured.has(name) || SECRET_HEADERS.has(name)) headers[name] = CENSOR;
  }
  return headers;
}

/** `shown` (from `shownTargetHeaders`) with an attempt's own headers, its signature masked. */
export function withAttemptHeaders(
  shown: Readonly<Record<string, string>>,
  attempt: Readonly<Record<string, string>>,
): Record<string, string> {
  const headers = { ...shown };
  for (const [name, value] of Object.entries(attempt)) {
    headers[name] = SECRET_HEADERS.has(name) ? CENSOR : value;
  }
  return headers;
}
