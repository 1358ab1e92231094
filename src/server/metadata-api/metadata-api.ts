import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { stringifyJson } from '../../core/json.js';
import { redactText } from '../../core/redact.js';
import { AdminAuth } from '../admin/auth.js';
import { HttpError, readJsonBody } from '../admin/json.js';
import type { MetadataContext, Operation } from './context.js';
import { MetadataError } from './errors.js';
import { EventLogs } from './event-logs.js';
import { exportMetadata } from './export.js';
import { invokeEventTrigger, redeliverEvent } from './invoke.js';
import { testWebhookTransform } from './transform.js';
import { createEventTrigger, deleteEventTrigger } from './trigger-ops.js';

export const METADATA_PATH = '/v1/metadata';

/** Payloads given to pg_invoke_event_trigger can be rows of some size; still a bound. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * `POST /v1/metadata`: the event-trigger part of Hasura's metadata API, for clients written against
 * Hasura. Bodies are `{"type": ..., "args": {...}}`, answers and errors in Hasura's shapes. It wants
 * the admin token (`X-Hasura-Admin-Secret` or `Authorization: Bearer`), and is off without one.
 */
export class MetadataApi {
  readonly #auth: AdminAuth;
  readonly #logs: EventLogs;
  readonly #operations: ReadonlyMap<string, Operation>;

  constructor(
    token: string | undefined,
    private readonly context: MetadataContext,
    private readonly logger: Logger,
  ) {
    this.#auth = new AdminAuth(token, logger);
    this.#logs = new EventLogs(context.configs, logger);
    this.#operations = new Map<string, Operation>([
      ['pg_invoke_event_trigger', invokeEventTrigger],
      ['pg_redeliver_event', redeliverEvent],
      ['pg_get_event_logs', this.#logs.eventLogs],
      ['pg_get_event_invocation_logs', this.#logs.invocationLogs],
      ['pg_get_event_by_id', this.#logs.eventById],
      ['test_webhook_transform', testWebhookTransform],
      ['export_metadata', exportMetadata],
      ['bulk', (args) => this.#bulk(args)],
      ['pg_create_event_trigger', createEventTrigger],
      ['pg_delete_event_trigger', deleteEventTrigger],
    ]);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    let type: string | undefined;
    let status = 200;
    try {
      this.#authorize(req);
      if (req.method !== 'POST') {
        throw new MetadataError('method-not-allowed', `use POST on ${METADATA_PATH}`, '$', 405);
      }
      const body = await readJsonBody(req, MAX_BODY_BYTES);
      type = typeOf(body);
      send(res, 200, await this.#run(body));
    } catch (err) {
      const error = err instanceof MetadataError ? err : this.#unexpected(err, type);
      status = error.status;
      send(res, status, error.json(), status === 405 ? { allow: 'POST' } : {});
    }
    if (status === 401 || status === 404) return;
    this.logger.info(
      {
        path: METADATA_PATH,
        type,
        status,
        remote: req.socket.remoteAddress,
        duration_ms: Date.now() - started,
      },
      'metadata request',
    );
  }

  close(): Promise<void> {
    return this.#logs.close();
  }

  #authorize(req: IncomingMessage): void {
    if (!this.#auth.configured) {
      throw new MetadataError(
        'not-found',
        'the metadata API is off: set server.admin_token (16+ characters) to turn it on',
        '$',
        404,
      );
    }
    const secret = req.headers['x-hasura-admin-secret'];
    const bearer = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = typeof secret === 'string' ? secret : bearer;
    if (token !== undefined && this.#auth.matches(token)) return;
    this.#auth.refused(
      req,
      METADATA_PATH,
      token === undefined ? 'missing admin secret' : 'wrong admin secret',
    );
    throw new MetadataError(
      'access-denied',
      token === undefined
        ? 'x-hasura-admin-secret required, but not found: send X-Hasura-Admin-Secret or Authorization: Bearer with server.admin_token'
        : 'invalid x-hasura-admin-secret',
      '$',
      401,
    );
  }

  async #run(body: unknown): Promise<unknown> {
    const type = typeOf(body);
    if (type === undefined) throw new MetadataError('parse-failed', 'key "type" not found', '$');
    const operation = this.#operations.get(type);
    if (operation === undefined) {
      throw new MetadataError(
        'not-supported',
        `"${type}" is not supported: walhook's metadata API covers event triggers (${[...this.#operations.keys()].join(', ')})`,
        '$.type',
      );
    }
    return operation((body as { args?: unknown }).args ?? {}, this.context);
  }

  /** Each step in order; the first error stops the rest and is the answer, as Hasura's bulk does. */
  async #bulk(args: unknown): Promise<unknown[]> {
    if (!Array.isArray(args)) throw new MetadataError('parse-failed', 'expected a list of queries', '$.args');
    const results: unknown[] = [];
    for (const [i, step] of args.entries()) {
      try {
        results.push(await this.#run(step));
      } catch (err) {
        throw err instanceof MetadataError ? err.under(`$.args[${i}]`) : err;
      }
    }
    return results;
  }

  #unexpected(err: unknown, type: string | undefined): MetadataError {
    if (err instanceof HttpError) {
      return new MetadataError(
        err.status === 400 ? 'invalid-json' : 'bad-request',
        err.message,
        '$',
        err.status,
      );
    }
    this.logger.error({ err, type }, 'metadata request failed');
    const message = redactText(err instanceof Error ? err.message : String(err));
    return new MetadataError('unexpected', `unexpected error: ${message}`, '$', 500);
  }
}

function typeOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { type } = body as { type?: unknown };
  return typeof type === 'string' ? type : undefined;
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res
    .writeHead(status, { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(`${stringifyJson(body)}\n`);
}
