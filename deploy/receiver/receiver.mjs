// An example webhook receiver for deploy/compose.yaml: prints each delivery and answers STATUS (200 by
// default; set RECEIVER_STATUS=503 in compose to watch retries, dead letters and the alerts). Node's
// standard library only, so the plain node image runs it.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 8080);
// All interfaces, so other containers reach it; HOST narrows it (the tests use 127.0.0.1).
const host = process.env.HOST ?? '0.0.0.0';
const status = Number(process.env.STATUS ?? 200);

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    let body = raw;
    try {
      body = JSON.parse(raw);
    } catch {
      // Not JSON: printed as received.
    }
    const line = {
      at: new Date().toISOString(),
      method: req.method,
      path: req.url,
      answered: status,
      // The header's presence, not its value: the token is a secret even in an example.
      authorization: req.headers.authorization === undefined ? 'absent' : 'present',
      body,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    res
      .writeHead(status, { 'content-type': 'text/plain' })
      .end(status < 300 ? 'ok\n' : 'failing on purpose\n');
  });
});

server.listen(port, host, () => {
  process.stdout.write(`receiver listening on port ${server.address().port}, answering ${status}\n`);
});

// As PID 1 in a container, Node ignores SIGTERM unless it handles it; nothing here needs draining.
process.on('SIGTERM', () => process.exit(0));
