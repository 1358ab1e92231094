import { z } from 'zod';
import { strictObject } from '../../core/strict-schema.js';
import {
  compileKriti,
  compileKritiString,
  type KritiStringTemplate,
  KritiSyntaxError,
  type KritiTemplate,
} from '../../triggers/kriti/index.js';

/**
 * A trigger's `request_transform`, with Hasura's keys and versions: version 1 takes `body` as a Kriti
 * template and `content_type`, version 2 takes `body` as `{action, …}` and `query_params` also as one
 * template. Every template is compiled here, once, when the config is loaded.
 */

export const TRANSFORM_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type TransformMethod = (typeof TRANSFORM_METHODS)[number];

export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

// Header names as the sink's own headers take them; values are templates, checked when rendered.
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid HTTP header name');

const bodyV2 = z.discriminatedUnion('action', [
  strictObject({ action: z.literal('transform'), template: z.string() }),
  strictObject({ action: z.literal('remove') }),
  strictObject({
    action: z.literal('x_www_form_urlencoded'),
    form_template: z.record(z.string(), z.string()),
  }),
]);

/** The body of the request: the JSON a template gives, form fields, or none. */
export type TransformBody =
  | { readonly kind: 'json'; readonly template: KritiTemplate; readonly form: boolean }
  | { readonly kind: 'form'; readonly fields: readonly (readonly [string, KritiStringTemplate])[] }
  | { readonly kind: 'remove' };

/** A compiled `request_transform`: each part absent leaves that part of the request as walhook makes it. */
export interface RequestTransform {
  readonly method?: TransformMethod;
  readonly url?: KritiStringTemplate;
  /** Pairs of key and value templates (both are templates, as in Hasura), or one template of a query string. */
  readonly queryParams?:
    | readonly (readonly [KritiStringTemplate, KritiStringTemplate])[]
    | KritiStringTemplate;
  /** Lower-case names, removed before `addHeaders` are added. */
  readonly removeHeaders: readonly string[];
  readonly addHeaders: readonly (readonly [string, KritiStringTemplate])[];
  readonly body?: TransformBody;
}

const rawTransform = strictObject({
  // Hasura's default when the key is left out.
  version: z.union([z.literal(1), z.literal(2)]).default(1),
  template_engine: z.literal('Kriti').optional(),
  method: z
    .string()
    .transform((text) => text.toUpperCase())
    .pipe(z.enum(TRANSFORM_METHODS))
    .optional(),
  url: z.string().min(1).optional(),
  query_params: z.union([z.record(z.string(), z.string()), z.string()]).optional(),
  request_headers: strictObject({
    add_headers: z.record(headerName, z.string()).optional(),
    remove_headers: z.array(headerName).optional(),
  }).optional(),
  body: z.union([z.string(), bodyV2]).optional(),
  content_type: z.enum(['application/json', FORM_CONTENT_TYPE]).optional(),
});

type RawTransform = z.output<typeof rawTransform>;

/** `request_transform:` as the config takes it; its output is compiled. */
export const requestTransformSchema = rawTransform.superRefine(versionProblems).transform((raw, ctx) => {
  try {
    return compileTransform(raw);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    // `nameTrigger`: the loader puts the trigger's name in front, since a template error is found here.
    ctx.addIssue({ code: 'custom', path: err.path, message: err.message, params: { nameTrigger: true } });
    return z.NEVER;
  }
});

function versionProblems(raw: RawTransform, ctx: z.core.$RefinementCtx<RawTransform>): void {
  const issue = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if (raw.version === 1) {
    if (typeof raw.body === 'object')
      issue(['body'], 'version 1 takes body as a template; {action: …} needs version: 2');
    if (typeof raw.query_params === 'string')
      issue(['query_params'], 'version 1 takes query_params as a mapping; one template needs version: 2');
  } else {
    if (typeof raw.body === 'string')
      issue(
        ['body'],
        'version 2 takes body as {action: transform, template: …}; a bare template is version 1',
      );
    if (raw.content_type !== undefined)
      issue(['content_type'], 'only for version 1; version 2 says body: {action: x_www_form_urlencoded, …}');
  }
}

/** A template that does not compile, at its key path inside `request_transform`. */
class TemplateError extends Error {
  constructor(
    readonly path: (string | number)[],
    error: KritiSyntaxError,
  ) {
    super(error.message);
  }
}

function compileAt<T>(path: (string | number)[], compile: (text: string) => T, text: string): T {
  try {
    return compile(text);
  } catch (err) {
    if (err instanceof KritiSyntaxError) throw new TemplateError(path, err);
    throw err;
  }
}

function compileTransform(raw: RawTransform): RequestTransform {
  const headers = raw.request_headers ?? {};
  const transform: {
    -readonly [K in keyof RequestTransform]: RequestTransform[K];
  } = {
    removeHeaders: (headers.remove_headers ?? []).map((name) => name.toLowerCase()),
    addHeaders: Object.entries(headers.add_headers ?? {}).map(([name, text]) => [
      name.toLowerCase(),
      compileAt(['request_headers', 'add_headers', name], compileKritiString, text),
    ]),
  };
  if (raw.method !== undefined) transform.method = raw.method;
  if (raw.url !== undefined) transform.url = compileAt(['url'], compileKritiString, raw.url);
  const params = raw.query_params;
  if (typeof params === 'string') {
    transform.queryParams = compileAt(['query_params'], compileKritiString, params);
  } else if (params !== undefined) {
    transform.queryParams = Object.entries(params).map(([key, value]) => [
      compileAt(['query_params', key], compileKritiString, key),
      compileAt(['query_params', key], compileKritiString, value),
    ]);
  }
  if (raw.body !== undefined) transform.body = compileBody(raw.body, raw.content_type);
  return transform;
}

function compileBody(
  body: NonNullable<RawTransform['body']>,
  contentType: string | undefined,
): TransformBody {
  if (typeof body === 'string') {
    return {
      kind: 'json',
      template: compileAt(['body'], compileKriti, body),
      form: contentType === FORM_CONTENT_TYPE,
    };
  }
  switch (body.action) {
    case 'remove':
      return { kind: 'remove' };
    case 'transform':
      return {
        kind: 'json',
        template: compileAt(['body', 'template'], compileKriti, body.template),
        form: false,
      };
    case 'x_www_form_urlencoded':
      return {
        kind: 'form',
        fields: Object.entries(body.form_template).map(([key, text]) => [
          key,
          compileAt(['body', 'form_template', key], compileKritiString, text),
        ]),
      };
  }
}
