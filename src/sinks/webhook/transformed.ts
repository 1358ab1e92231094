import { targetHeaders } from './client.js';
import { signatureHeaders } from './signature.js';
import type { WebhookTarget } from './target.js';
import { renderTransform, type TransformedRequest } from './transform.js';
import type { RequestTransform } from './transform-settings.js';

/** A trigger's headers before its transform, worked out once per target (and User-Agent). */
const baseHeaders = new WeakMap<WebhookTarget, { userAgent: string; headers: Record<string, string> }>();

/** One attempt of a trigger with a `request_transform`: the request and its own (signature) headers. */
export interface TransformedAttempt {
  readonly request: TransformedRequest;
  readonly headers: Record<string, string>;
}

/**
 * Renders `payload` (the body walhook would POST) through the target's `transform` and signs the bytes
 * that go out, so a receiver verifies what it got. Throws TransformError. Shared by deliveries and
 * redelivery, which keep the payload (not what a transform made of it) in their dead letters.
 */
export function transformedAttempt(
  target: WebhookTarget,
  transform: RequestTransform,
  userAgent: string,
  payload: string,
  messageId: string,
): TransformedAttempt {
  let base = baseHeaders.get(target);
  if (base === undefined || base.userAgent !== userAgent) {
    base = { userAgent, headers: targetHeaders(target, userAgent) };
    baseHeaders.set(target, base);
  }
  const request = renderTransform(transform, payload, target.url, base.headers);
  return { request, headers: signatureHeaders(target.secrets, messageId, request.body ?? '') };
}
