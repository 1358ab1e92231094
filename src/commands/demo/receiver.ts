import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedEvent {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> & { id: string };
  raw: string;
}

/** A webhook receiver on 127.0.0.1 that answers 200 to every POST and hands each body on. */
export async function startReceiver(
  onEvent: (event: ReceivedEvent) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      onEvent({ path: req.url ?? '/', headers: req.headers, body: JSON.parse(raw), raw });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
