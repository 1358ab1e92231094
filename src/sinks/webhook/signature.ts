import { createHmac, hash } from 'node:crypto';
import { uuidV5 } from '../../core/event-id.js';

/** The key bytes of each `whsec_` secret, decoded once per list of secrets. */
const keysBySecrets = new WeakMap<readonly string[], Buffer[]>();

function keysOf(secrets: readonly string[]): Buffer[] {
  let keys = keysBySecrets.get(secrets);
  if (keys === undefined) {
    keys = secrets.map((secret) => Buffer.from(secret.slice('whsec_'.length), 'base64'));
    keysBySecrets.set(secrets, keys);
  }
  return keys;
}

/**
 * The Standard Webhooks headers of one request: `webhook-id` (the message id, the same on every
 * attempt), `webhook-timestamp` (unix seconds of this attempt) and `webhook-signature`, one `v1,`
 * HMAC-SHA256 of `id.timestamp.body` per secret, space-separated, so a receiver rotating secrets
 * accepts either. `body` must be the exact text sent. An empty list of secrets gives no headers.
 */
export function signatureHeaders(
  secrets: readonly string[],
  messageId: string,
  body: string,
  timestampSec: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  if (secrets.length === 0) return {};
  const timestamp = String(timestampSec);
  const signatures = keysOf(secrets).map(
    (key) =>
      `v1,${createHmac('sha256', key).update(`${messageId}.${timestamp}.`).update(body).digest('base64')}`,
  );
  return {
    'webhook-id': messageId,
    'webhook-timestamp': timestamp,
    'webhook-signature': signatures.join(' '),
  };
}

/** Namespace of batch message ids, a random UUID fixed once, apart from the event ids' namespace. */
const BATCH_NAMESPACE = Buffer.from('3301f5f938ba40c2be0a4f9b5f0e520f', 'hex');

/**
 * The message id of a batch: a name-based (version 5) UUID of its event ids, in order, joined by `,`.
 * Retries of a batch resend the same events, so they share the id a receiver deduplicates by; a batch
 * made of other events (after a restart, say) is another message with another id. Event ids are
 * fixed-length UUIDs, so the joined text can come from one list of ids only.
 */
export function batchMessageId(eventIds: readonly string[]): string {
  const name = Buffer.from(eventIds.join(','));
  return uuidV5(hash('sha1', Buffer.concat([BATCH_NAMESPACE, name]), 'hex'));
}
