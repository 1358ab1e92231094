import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  // biome-ignore lint/suspicious/noExplicitAny: payload assertions read arbitrary fields
  body: any;
  at: number;
  /** The answer given, once given. */
  status?: Answer;
}

/**
 * Decides the answer to a request: a status, `null` to leave it hanging until the client gives up or
 * the receiver closes, or `'reset'` to destroy the connection without an answer.
 */
export type Answer = number | null | 'reset';
export type Responder = (delivery: Delivery, attempt: number) => Answer | Promise<Answer>;

/** A real HTTP receiver on 127.0.0.1:0 that records every request, answered in arrival order per call. */
export async function startReceiver(respond: Responder = () => 200, port = 0) {
  const deliveries: Delivery[] = [];
  const attemptsById = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const delivery: Delivery = {
        method: req.method ?? '',
        path: req.url ?? '/',
        headers: req.headers,
        raw,
        body: JSON.parse(raw),
        at: Date.now(),
      };
      const attempt = (attemptsById.get(delivery.body.id) ?? 0) + 1;
      attemptsById.set(delivery.body.id, attempt);
      deliveries.push(delivery);
      const answer = await respond(delivery, attempt);
      delivery.status = answer;
      if (answer === 'reset') req.socket.destroy();
      else if (answer !== null) res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deliveries,
    /** Deliveries answered with a 2xx so far, in arrival order. */
    accepted(path = '/'): Delivery[] {
      return deliveries.filter(
        (d) => d.path.startsWith(path) && typeof d.status === 'number' && d.status >= 200 && d.status < 300,
      );
    },
    /** Deliveries recorded so far whose path starts with `path`. */
    at(path: string): Delivery[] {
      return deliveries.filter((d) => d.path.startsWith(path));
    },
    async waitFor(count: number, path = '/', timeoutMs = 30_000): Promise<Delivery[]> {
      await waitUntil(() => this.at(path).length >= count, `${count} deliveries at ${path}`, timeoutMs);
      return this.at(path);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
