import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceiverOptions {
  /**
   * `requests` counts one event per POST without reading the body, so the receiver sharing the
   * machine costs walhook as little CPU as possible; `events` parses each body and counts the events
   * of a batch (`{"events": […]}`) as a real batch receiver must.
   */
  count: 'requests' | 'events';
  /** Milliseconds before each answer: a slow receiver that makes walhook hold events in memory. */
  answerDelayMs?: number;
  /** Called with each event's `created_at` (the commit time) as it arrives; implies parsing. */
  onEvent?: (createdAt: string) => void;
}

/** The first request a receiver got, as the HTTP ceiling replays it (see http-ceiling.ts). */
export interface SampleRequest {
  headers: Record<string, string>;
  body: string;
}

/** A webhook receiver on 127.0.0.1 (node:http, keep-alive) that answers 200 and counts events. */
export async function startReceiver(options: ReceiverOptions) {
  const parse = options.count === 'events' || options.onEvent !== undefined;
  let events = 0;
  let requests = 0;
  let bodyBytes = 0;
  let firstAt = 0;
  let lastAt = 0;
  let sample: SampleRequest | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    // Counting requests, bodies are read only until one is kept as the sample: a handful of reads.
    if (parse || sample === undefined) req.on('data', (chunk: Buffer) => chunks.push(chunk));
    else req.resume();
    bodyBytes += Number(req.headers['content-length'] ?? 0);
    req.on('end', () => {
      if (sample === undefined) {
        sample = {
          headers: req.headers as Record<string, string>,
          body: Buffer.concat(chunks).toString('utf8'),
        };
      }
      let received = 1;
      if (parse) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const batch: { created_at: string }[] = Array.isArray(body.events) ? body.events : [body];
        if (options.onEvent) for (const event of batch) options.onEvent(event.created_at);
        received = batch.length;
      }
      lastAt = performance.now();
      if (requests++ === 0) firstAt = lastAt;
      events += received;
      if (options.answerDelayMs) setTimeout(() => res.writeHead(200).end(), options.answerDelayMs);
      else res.writeHead(200).end();
    });
  });
  // Longer than any pause in a run, so every measure reuses its connections as a real sender would.
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    events: () => events,
    requests: () => requests,
    /** Bytes of request bodies received, by their Content-Length. */
    bodyBytes: () => bodyBytes,
    sample: () => sample,
    /** `performance.now()` when the first and the latest request arrived. */
    firstAt: () => firstAt,
    lastAt: () => lastAt,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
