import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

/** Built by `npm run build`; the same place from src/ (tsx) and from dist/. */
export const ASSETS_DIR = new URL('../../../dist/console-assets/', import.meta.url);

/** The page loads its script and style from its own origin only, and may not be framed. */
const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/** Headers of every console answer, page or API. */
export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
} as const;

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
};

/** A file name of the assets directory: no path, nothing hidden, a known type. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*\.([a-z0-9]+)$/;

/**
 * Answers `/console` (the page) and `/console/assets/<file>`. The files hold no data, so they need no
 * token; a build without them answers 503 with how to make them.
 */
export async function serveAsset(res: ServerResponse, path: string): Promise<void> {
  const name =
    path === '/console' || path === '/console/' ? 'index.html' : path.slice('/console/assets/'.length);
  const match = path.startsWith('/console/assets/') || name === 'index.html' ? ASSET_NAME.exec(name) : null;
  const type = match && TYPES[match[1] as string];
  if (!type) {
    res.writeHead(404, { 'content-type': 'text/plain', ...SECURITY_HEADERS }).end('not found\n');
    return;
  }
  let content: Buffer;
  try {
    content = await readFile(new URL(name, ASSETS_DIR));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const built = await readFile(new URL('index.html', ASSETS_DIR)).then(
      () => true,
      () => false,
    );
    if (built) res.writeHead(404, { 'content-type': 'text/plain', ...SECURITY_HEADERS }).end('not found\n');
    else {
      res
        .writeHead(503, { 'content-type': 'text/plain', 'cache-control': 'no-store', ...SECURITY_HEADERS })
        .end('console assets not built: run npm run build\n');
    }
    return;
  }
  res
    .writeHead(200, {
      'content-type': type,
      'content-length': content.length,
      'cache-control': 'no-cache',
      'content-security-policy': CSP,
      ...SECURITY_HEADERS,
    })
    .end(content);
}
