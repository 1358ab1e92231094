import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { WalhookError } from '../core/errors.js';
import type { Metrics } from '../core/metrics/metrics.js';
import type { Status } from '../service/status.js';
import type { AdminApi } from './admin/admin-api.js';
import { sendJson } from './admin/json.js';
import type { EventConsole } from './console/console.js';
import { METADATA_PATH, type MetadataApi } from './metadata-api/metadata-api.js';

export interface HealthSource {
  /** Ready: streaming and caught up; otherwise a short reason for the operator. */
  readiness(): { ready: boolean; reason: string };
  /** The `/status` document; null while the service is still being built. */
  status(): Status | null;
}

/**
 * The read-only endpoints, open to probes and scrapers: `/healthz` (the process answers), `/readyz`
 * (streaming and caught up), `/status` (JSON for `walhook status`) and `/metrics` (Prometheus text
 * format); the event console's page and API under `/console`; Hasura's metadata API at
 * `/v1/metadata` (admin token). Every other method goes to the admin API, which wants the admin token.
 */
export async function startHttpServer(
  options: { host: string; port: number },
  metrics: Metrics,
  health: HealthSource,
  admin: AdminApi,
  logger: Logger,
  eventConsole: EventConsole | null = null,
  metadata: MetadataApi | null = null,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const readOnly: Record<string, (res: ServerResponse) => void> = {
    '/healthz': (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n'),
    '/readyz': (res) => {
      const { ready, reason } = health.readiness();
      // A reason beside a ready answer says why it is ready without streaming (standby, paused).
      const text = ready ? (reason === 'streaming' ? 'ready' : `ready: ${reason}`) : `not ready: ${reason}`;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${text}\n`);
    },
    '/status': (res) => {
      const status = health.status();
      res
        .writeHead(status ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(`${JSON.stringify(status ?? { error: 'starting' }, null, 2)}\n`);
    },
    '/metrics': (res) => {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => {
          logger.error({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const serve = Object.hasOwn(readOnly, path) ? readOnly[path] : undefined;
    const consolePath = eventConsole !== null && (path === '/console' || path.startsWith('/console/'));
    if (metadata !== null && path === METADATA_PATH) {
      metadata.handle(req, res).catch((err: unknown) => {
        logger.error({ err }, 'metadata request failed');
        res.destroy();
      });
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      admin.handle(req, res, path, serve || consolePath ? ['GET', 'HEAD'] : []).catch((err: unknown) => {
        logger.error({ err }, 'admin request failed');
        res.destroy();
      });
    } else if (consolePath) {
      eventConsole.handle(req, res, path).catch((err: unknown) => {
        logger.error({ err, path }, 'console request failed');
        res.destroy();
      });
    } else if (serve) {
      serve(res);
    } else if (admin.methods(path).length > 0) {
      const allow = admin.methods(path).join(', ');
      sendJson(res, 405, { error: `${req.method} is not allowed on ${path} (allowed: ${allow})` }, { allow });
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, options)));
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

/** Why the server cannot listen, as one line naming the address and the setting that fixes it. */
function listenError(err: NodeJS.ErrnoException, options: { host: string; port: number }): WalhookError {
  const address = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
  const reason =
    err.code === 'EADDRINUSE'
      ? 'the port is in use by another process; set server.port to a free port (or stop the other process)'
      : err.code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges); set server.port to 1024 or above'
        : err.code === 'EADDRNOTAVAIL'
          ? 'the host is not an address of this machine; set server.host to one of its addresses, 127.0.0.1 or 0.0.0.0'
          : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN'
            ? 'the host name does not resolve; set server.host to an address of this machine'
            : `${err.message}; check server.host and server.port`;
  return new WalhookError('WALHOOK_ERR_LISTEN', `cannot listen on ${address}: ${reason}`, { cause: err });
}
