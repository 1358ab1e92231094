import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { JsonSyntaxError, parseJson } from '../../core/json.js';

/** An answer other than success, with the JSON `{"error": message}` body it is sent as. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: OutgoingHttpHeaders = {},
  ) {
    super(message);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  res
    .writeHead(status, { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(`${JSON.stringify(body)}\n`);
}

/**
 * The request body parsed as JSON, every digit kept (a key or a filter names exactly what was sent);
 * an empty body is `{}`, so actions without parameters need none.
 * A body past `maxBytes` is refused (413) as soon as it is known to be, without reading the rest.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const tooLarge = () =>
    new HttpError(413, `request body larger than ${maxBytes} bytes`, { connection: 'close' });
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return parseJson(text);
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    throw new HttpError(400, `request body is not valid JSON: ${err.message}`);
  }
}

/** A request body checked against its schema; every problem in one 400 answer. */
export function parseBody<T>(schema: z.ZodType<T, unknown>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) =>
    issue.path.length === 0 ? issue.message : `${issue.path.join('.')}: ${issue.message}`,
  );
  throw new HttpError(400, `invalid request body: ${problems.join('; ')}`);
}
