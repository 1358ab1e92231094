import { z } from 'zod';
import { strictObject, uniqueList } from '../../core/strict-schema.js';
import { requestTransformSchema } from './transform-settings.js';

/** A webhook's URL: `sink.url`, or the shorthand's `webhook`. */
export const webhookUrl = z.string().refine((text) => {
  if (!URL.canParse(text)) return false;
  const { protocol } = new URL(text);
  return protocol === 'http:' || protocol === 'https:';
}, 'expected an http or https URL');

// RFC 9110 token characters; anything else would make the HTTP client throw at delivery time.
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid HTTP header name');
const headerValue = z.string().regex(/^[^\r\n]*$/, 'header values cannot contain line breaks');

/** A User-Agent header value, per trigger or for every webhook (the top-level `user_agent`). */
export const userAgent = headerValue.min(1, 'expected a User-Agent value such as myapp/1.0');

/**
 * A Standard Webhooks signing secret: `whsec_` and the base64 of 24 to 64 random bytes. Messages never
 * quote the value.
 */
const signingSecret = z.string().superRefine((text, ctx) => {
  const encoded = text.startsWith('whsec_') ? text.slice('whsec_'.length) : null;
  const valid = encoded !== null && /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) && encoded.length % 4 === 0;
  const bytes = valid ? Buffer.from(encoded, 'base64').length : 0;
  if (!valid || bytes < 24 || bytes > 64) {
    ctx.addIssue({
      code: 'custom',
      message:
        'expected whsec_ followed by the base64 of 24 to 64 random bytes (make one with: echo whsec_$(openssl rand -base64 32))',
    });
  }
});

const fileSchema = z.string().min(1);

/** Certificates for https receivers: a private CA to trust, and a client certificate for mutual TLS. */
const tlsSchema = strictObject({
  ca_file: fileSchema.optional(),
  cert_file: fileSchema.optional(),
  key_file: fileSchema.optional(),
}).refine(
  (tls) => (tls.cert_file === undefined) === (tls.key_file === undefined),
  'set cert_file and key_file together (the client certificate and its private key)',
);

const batchSchema = strictObject({
  // 1 keeps Hasura's one event per POST; above it the body becomes {"events": [...]}.
  max_events: z.number().int().min(1).max(10_000).default(1),
  max_wait_ms: z.number().int().min(0).max(60_000).default(50),
});

/**
 * The keys of a webhook besides its URL. The Hasura-style shorthand sets them on the trigger itself,
 * next to `webhook: URL`; a `sink: {type: webhook}` mapping holds them.
 */
export const webhookOptions = {
  headers: z.record(headerName, headerValue).optional(),
  // Several secrets while rotating: each signs, and the receiver accepts any signature it can verify.
  secret: z.union([signingSecret, uniqueList(signingSecret, 'secret', 'secret', false)]).optional(),
  tls: tlsSchema.optional(),
  // Replaces the global `user_agent` for this trigger; a User-Agent in `headers` wins over both.
  user_agent: userAgent.optional(),
  batch: batchSchema.optional(),
  // Hasura's request transform: method, URL, query, headers and body rendered per event by Kriti.
  request_transform: requestTransformSchema.optional(),
};

/** The shorthand's webhook keys, as the config refuses them next to a `sink`. */
export const WEBHOOK_OPTION_KEYS = Object.keys(webhookOptions) as (keyof typeof webhookOptions)[];

type WebhookOptions = z.output<z.ZodObject<typeof webhookOptions>>;

/** Why `tls` cannot go with `url`, or null. */
export function tlsProblem(url: string, tls: WebhookOptions['tls']): string | null {
  return tls !== undefined && !url.startsWith('https:') ? 'only for an https webhook URL' : null;
}

/** Why `request_transform` cannot go with `batch`, or null. */
export function transformProblem(
  options: Pick<WebhookOptions, 'request_transform' | 'batch'>,
): string | null {
  return options.request_transform !== undefined && (options.batch?.max_events ?? 1) > 1
    ? 'not with batch.max_events above 1: a transform renders the request of one event, and a batch is one POST of many'
    : null;
}

/** A webhook's settings as every trigger has them, from the shorthand or from a `sink` mapping. */
export function webhookSink(url: string, options: WebhookOptions) {
  const { headers, secret, tls, user_agent, batch, request_transform } = options;
  return {
    type: 'webhook' as const,
    url,
    ...(headers !== undefined && { headers }),
    ...(user_agent !== undefined && { user_agent }),
    // Always a list, in the order written: the first signs first.
    secrets: secret === undefined ? [] : typeof secret === 'string' ? [secret] : secret,
    ...(tls !== undefined && { tls }),
    batch: batch ?? batchSchema.parse({}),
    ...(request_transform !== undefined && { request_transform }),
  };
}

/** `sink: {type: webhook, url, headers, secret, tls, user_agent, batch, request_transform}`. */
export const webhookSettings = strictObject({
  type: z.literal('webhook'),
  url: webhookUrl,
  ...webhookOptions,
})
  .superRefine((settings, ctx) => {
    const problem = tlsProblem(settings.url, settings.tls);
    if (problem !== null) ctx.addIssue({ code: 'custom', path: ['tls'], message: problem });
    const conflict = transformProblem(settings);
    if (conflict !== null) ctx.addIssue({ code: 'custom', path: ['request_transform'], message: conflict });
  })
  .transform(({ type: _type, url, ...options }) => webhookSink(url, options));

export type WebhookSettings = z.output<typeof webhookSettings>;
