import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import type { Status } from './status.js';

export interface HealthSource {
  /** Ready: streaming and caught up; otherwise a short reason for the operator. */
  readiness(): { ready: boolean; reason: string };
  /** The `/status` document; null while the service is still being built. */
  status(): Status | null;
}

/**
 * `/healthz` (the process answers), `/readyz` (streaming and caught up), `/status` (JSON for
 * `walhook status`) and `/metrics` (Prometheus text format).
 */
export async function startHttpServer(
  options: { host: string; port: number },
  metrics: Metrics,
  health: HealthSource,
  logger: Logger,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const { ready, reason } = health.readiness();
      res
        .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
        .end(ready ? 'ready\n' : `not ready: ${reason}\n`);
    } else if (path === '/status') {
      const status = health.status();
      res
        .writeHead(status ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(`${JSON.stringify(status ?? { error: 'starting' }, null, 2)}\n`);
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => {
          logger.error({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: options.host, port }, 'http server listening');
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
