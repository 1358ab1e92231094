import { z } from 'zod';
import { parseJson, stringifyJson } from '../../core/json.js';
import { renderTransform, TransformError } from '../../sinks/webhook/transform.js';
import { requestTransformSchema } from '../../sinks/webhook/transform-settings.js';
import type { Operation } from './context.js';
import { MetadataError, parseArgs } from './errors.js';

const transformArgs = z.object({
  webhook_url: z.url({ protocol: /^https?$/, error: 'expected an http or https URL' }),
  body: z
    .unknown()
    .refine((body) => body !== undefined && body !== null, 'expected the body ($body) to transform'),
  request_transform: requestTransformSchema,
  session_variables: z.record(z.string(), z.string()).optional(),
});

/** The headers a webhook request carries before a transform adds or removes any. */
const BASE_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json' };

/**
 * `test_webhook_transform`: the request a `request_transform` makes of a body, rendered by the
 * sink's own renderer and not sent. Headers are Hasura's list of `[name, value]` pairs; the body is
 * JSON when it is JSON, else its text (a form), null when the transform removes it.
 */
export const testWebhookTransform: Operation = async (args) => {
  const { webhook_url, body, request_transform, session_variables } = parseArgs(transformArgs, args);
  try {
    const request = renderTransform(
      request_transform,
      stringifyJson(body),
      webhook_url,
      BASE_HEADERS,
      session_variables,
    );
    return {
      method: request.method,
      webhook_url: request.url,
      body: request.body === null ? null : jsonOrText(request.body),
      headers: Object.entries(request.headers),
    };
  } catch (err) {
    if (!(err instanceof TransformError)) throw err;
    throw new MetadataError('validation-failed', err.message, '$.args.request_transform');
  }
};

function jsonOrText(text: string): unknown {
  try {
    return parseJson(text);
  } catch {
    return text;
  }
}
