import { CENSOR, redactText } from '../../core/redact.js';
import { targetHeaders } from './client.js';
import type { WebhookTarget } from './target.js';

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
