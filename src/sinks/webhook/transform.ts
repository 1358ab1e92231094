import { parseJson } from '../../core/json.js';
import {
  aesonEncode,
  interpolated,
  type KritiStringTemplate,
  type KritiVariables,
  wellFormed,
} from '../../triggers/kriti/index.js';
import { FORM_CONTENT_TYPE, type RequestTransform, type TransformBody } from './transform-settings.js';

/** A request as a transform made it: what the client sends instead of POSTing the payload to the URL. */
export interface TransformedRequest {
  readonly method: string;
  readonly url: string;
  /** Lower-case names. */
  readonly headers: Record<string, string>;
  /** The exact body; null when the transform removed it. */
  readonly body: string | null;
}

/** Why a transform failed on an event: final, since it would fail the same way on every attempt. */
export class TransformError extends Error {
  override readonly name = 'TransformError';
}

/** Longest rendered URL quoted in an error: enough to see what the template made of it. */
const QUOTED_URL = 200;

/**
 * Renders one request: `payload` is the body walhook would send (`$body`), `baseUrl` the trigger's
 * URL (`$base_url`, its query as `$query_params`) and `headers` those it would send, lower-case.
 * `$session_variables` are the payload's, unless `sessionVariables` are given (a test of a transform).
 * Throws {@link TransformError} naming the key whose template failed.
 */
export function renderTransform(
  transform: RequestTransform,
  payload: string,
  baseUrl: string,
  headers: Readonly<Record<string, string>>,
  sessionVariables?: Readonly<Record<string, string>>,
): TransformedRequest {
  const body = at('$body', () => parseJson(payload));
  const event = (body as { event?: { session_variables?: unknown } }).event;
  const variables: KritiVariables = {
    $body: body,
    $base_url: baseUrl,
    $session_variables: sessionVariables ?? event?.session_variables ?? null,
    $query_params: queryParams(baseUrl),
  };
  const url = renderUrl(transform, variables, baseUrl);
  const rendered = renderBody(transform.body, variables, payload);
  const sent: Record<string, string> = { ...headers };
  if (rendered.contentType === null) delete sent['content-type'];
  else sent['content-type'] = rendered.contentType;
  for (const name of transform.removeHeaders) delete sent[name];
  for (const [name, template] of transform.addHeaders) {
    const value = at(`request_headers.add_headers.${name}`, () => template.render(variables));
    if (/[\r\n]/.test(value))
      throw new TransformError(
        `request_transform.request_headers.add_headers.${name}: the value has a line break`,
      );
    sent[name] = value;
  }
  return { method: transform.method ?? 'POST', url, headers: sent, body: rendered.body };
}

/**
 * Runs a template (or reads or writes a value for one), its error prefixed with the key it is under.
 * Any error: one the JSON reader or Kriti raises for a value nested too deep, say, would fail the same
 * way on every attempt, and is this event's alone.
 */
function at<T>(key: string, render: () => T): T {
  try {
    return render();
  } catch (err) {
    if (err instanceof TransformError) throw err;
    throw new TransformError(`request_transform.${key}: ${(err as Error).message}`);
  }
}

/** The last base URL's query, as `$query_params`: a trigger's URL is the same for all its events. */
let lastQuery: { baseUrl: string; params: Readonly<Record<string, string>> } | undefined;

function queryParams(baseUrl: string): Readonly<Record<string, string>> {
  if (lastQuery?.baseUrl !== baseUrl) {
    lastQuery = { baseUrl, params: Object.freeze(Object.fromEntries(new URL(baseUrl).searchParams)) };
  }
  return lastQuery.params;
}

/** `text` as a URL, or null; parsed once (URL.canParse and then new URL would parse it twice). */
function parsedUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

function renderUrl(transform: RequestTransform, variables: KritiVariables, baseUrl: string): string {
  const text =
    transform.url === undefined
      ? baseUrl
      : at('url', () => (transform.url as KritiStringTemplate).render(variables));
  const url = parsedUrl(text);
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TransformError(
      `request_transform.url: ${JSON.stringify(text.slice(0, QUOTED_URL))} is not an http or https URL`,
    );
  }
  const params = transform.queryParams;
  if (params === undefined) return url.toString();
  if (!Array.isArray(params)) {
    // Version 2's one template gives the query string itself.
    url.search = at('query_params', () => (params as KritiStringTemplate).render(variables)).replace(
      /^\?/,
      '',
    );
    return url.toString();
  }
  const pairs: [string, string][] = [];
  for (const [keyTemplate, valueTemplate] of params) {
    const key = at('query_params', () => keyTemplate.render(variables));
    const value = at(`query_params.${key}`, () => valueTemplate.render(variables));
    // Hasura leaves out a parameter whose key or value renders as null.
    if (key !== 'null' && value !== 'null') pairs.push([key, value]);
  }
  url.search = formEncoded(pairs);
  return url.toString();
}

function renderBody(
  body: TransformBody | undefined,
  variables: KritiVariables,
  payload: string,
): { body: string | null; contentType: string | null } {
  if (body === undefined) return { body: payload, contentType: 'application/json' };
  switch (body.kind) {
    case 'remove':
      return { body: null, contentType: null };
    case 'form': {
      const pairs = body.fields.map(([key, template]): [string, string] => [
        key,
        at(`body.form_template.${key}`, () => template.render(variables)),
      ]);
      return { body: formEncoded(pairs), contentType: FORM_CONTENT_TYPE };
    }
    case 'json': {
      const value = at('body', () => body.template.evaluate(variables));
      if (!body.form) return { body: at('body', () => aesonEncode(value)), contentType: 'application/json' };
      // Version 1 with the form content type: the template's object, one field per member.
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new TransformError('request_transform.body: a form body needs the template to give an object');
      }
      const pairs = Object.entries(value).map(([key, item]): [string, string] => [
        key,
        at('body', () => interpolated(item)),
      ]);
      return { body: formEncoded(pairs), contentType: FORM_CONTENT_TYPE };
    }
  }
}

/** `k=v&…`, everything but RFC 3986's unreserved characters percent-encoded, as Hasura encodes forms. */
export function formEncoded(pairs: readonly (readonly [string, string])[]): string {
  return pairs.map(([key, value]) => `${escapeComponent(key)}=${escapeComponent(value)}`).join('&');
}

function escapeComponent(text: string): string {
  // A lone surrogate has no UTF-8 form: it is sent as U+FFFD, as Kriti shows it.
  return encodeURIComponent(wellFormed(text)).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
