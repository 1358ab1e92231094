import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { redactText } from '../../core/redact.js';
import { AdminAuth } from './auth.js';
import { HttpError, readJsonBody, sendJson } from './json.js';

/** Admin bodies are small selections; anything larger is a mistake or an attack. */
const MAX_BODY_BYTES = 64 * 1024;

export interface AdminRequest {
  /** The JSON body, `{}` when there is none; handlers validate it. */
  body: unknown;
  /** The values of the route's `:name` segments. */
  params: Record<string, string>;
}

/** A JSON answer; `status` defaults to 200. */
export interface AdminAnswer {
  status?: number;
  body: unknown;
}

export type AdminHandler = (request: AdminRequest) => Promise<AdminAnswer> | AdminAnswer;

interface Route {
  method: string;
  segments: string[];
  handler: AdminHandler;
}

/**
 * The endpoints that change state. Every request with a method other than GET or HEAD is an admin
 * action: it needs the admin token before anything else is looked at (so a stranger learns nothing
 * about the routes), then a route of that method and path; its body is JSON of at most 64 KiB and
 * every answer is JSON. Routes are added with `route`, paths may hold `:name` segments.
 */
export class AdminApi {
  readonly #routes: Route[] = [];
  readonly #auth: AdminAuth;
  readonly #logger: Logger;

  constructor(token: string | undefined, logger: Logger) {
    this.#auth = new AdminAuth(token, logger);
    this.#logger = logger;
  }

  route(method: string, path: string, handler: AdminHandler): this {
    this.#routes.push({ method, segments: path.split('/'), handler });
    return this;
  }

  /** The methods of the admin routes matching `path`; empty when none does. */
  methods(path: string): string[] {
    const segments = path.split('/');
    return this.#routes.filter((r) => matchParams(r.segments, segments) !== null).map((r) => r.method);
  }

  /**
   * Answers an admin action. `otherMethods` are the methods the server serves `path` with apart
   * from the admin routes (GET, HEAD for a read-only endpoint), for the 405's Allow header.
   */
  async handle(req: IncomingMessage, res: ServerResponse, path: string, otherMethods: string[]) {
    const started = Date.now();
    let status = 500;
    try {
      this.#auth.check(req, path);
      const { route, params } = this.#find(req.method ?? '', path, otherMethods);
      const body = await readJsonBody(req, MAX_BODY_BYTES);
      const answer = await route.handler({ body, params });
      status = answer.status ?? 200;
      sendJson(res, status, answer.body);
    } catch (err) {
      status = err instanceof HttpError ? err.status : 500;
      if (err instanceof HttpError) sendJson(res, status, { error: err.message }, err.headers);
      else {
        this.#logger.error({ err, method: req.method, path }, 'admin action failed');
        sendJson(res, 500, { error: redactText(err instanceof Error ? err.message : String(err)) });
      }
    }
    if (status === 401) return;
    this.#logger.info(
      {
        method: req.method,
        path,
        status,
        remote: req.socket.remoteAddress,
        duration_ms: Date.now() - started,
      },
      'admin request',
    );
  }

  #find(
    method: string,
    path: string,
    otherMethods: string[],
  ): { route: Route; params: Record<string, string> } {
    const segments = path.split('/');
    for (const route of this.#routes) {
      if (route.method !== method) continue;
      const params = matchParams(route.segments, segments);
      if (params !== null) return { route, params };
    }
    const allowed = [...otherMethods, ...this.methods(path)];
    if (allowed.length === 0) throw new HttpError(404, `no endpoint ${path}`);
    throw new HttpError(405, `${method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`, {
      allow: allowed.join(', '),
    });
  }
}

/** The `:name` values when `segments` (of a request path) fit the route's, else null. */
function matchParams(route: readonly string[], segments: readonly string[]): Record<string, string> | null {
  if (route.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (const [i, part] of route.entries()) {
    const actual = segments[i] as string;
    if (part.startsWith(':') && actual !== '') {
      const value = decoded(actual);
      if (value === null) return null;
      params[part.slice(1)] = value;
    } else if (part !== actual) return null;
  }
  return params;
}

function decoded(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}
