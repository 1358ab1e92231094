import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { WebhookClient } from '../../src/sinks/webhook/client.js';
import type { WebhookTarget, WebhookTls } from '../../src/sinks/webhook/target.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';

let pki: TestPki;
const client = new WebhookClient({ userAgent: 'walhook-test/1.0' });
const closers: (() => void)[] = [];

before(() => {
  pki = makeTestPki();
});

after(async () => {
  for (const close of closers) close();
  await client.close();
});

/** An https receiver answering 200 with the CN of the client certificate it saw (or "none"). */
async function httpsReceiver(options: ServerOptions, host = '127.0.0.1'): Promise<number> {
  const server = createServer(options, (req, res) => {
    req.resume();
    const subject = (req.socket as TLSSocket).getPeerCertificate().subject;
    req.on('end', () => res.end(subject?.CN ?? 'none'));
  });
  // Refused handshakes are the point here; the server's view of them is not.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  closers.push(() => server.close());
  closers.push(() => server.closeAllConnections());
  return (server.address() as AddressInfo).port;
}

function target(url: string, tls: WebhookTls | null): WebhookTarget {
  return {
    type: 'webhook',
    trigger: 'orders',
    url,
    headers: {},
    retry: {
      numRetries: 0,
      intervalSec: 0,
      timeoutSec: 5,
      backoff: 'fixed',
      maxIntervalSec: 0,
      finalStatuses: [],
      retryAfter: 'throttling',
    },
    ordering: 'row',
    concurrency: 1,
    batch: { maxEvents: 1, maxWaitMs: 0 },
    secrets: [],
    tls,
  };
}

const server = () => ({ cert: pki.server.cert, key: pki.server.key });

test('a receiver whose certificate comes from a private CA: refused without ca_file, delivered with it', async () => {
  const url = `https://127.0.0.1:${await httpsReceiver(server())}/hook`;
  const refused = await client.post(target(url, null), '{}');
  assert.equal(refused.status, null);
  assert.deepEqual(refused.error, {
    type: 'connect',
    message: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate',
  });
  const trusted = await client.post(target(url, { caFile: pki.ca.certFile }), '{}');
  assert.equal(trusted.error, undefined);
  assert.equal(trusted.status, 200);
});

test('a certificate for another host is refused even from the trusted CA', async () => {
  // The server certificate names localhost and 127.0.0.1 only.
  const port = await httpsReceiver(server(), '127.0.0.2');
  const result = await client.post(target(`https://127.0.0.2:${port}/`, { caFile: pki.ca.certFile }), '{}');
  assert.equal(result.error?.type, 'connect');
  assert.match(result.error?.message ?? '', /^ERR_TLS_CERT_ALTNAME_INVALID: .*127\.0\.0\.2/);
});

test("a receiver with another CA's certificate is refused though ca_file names ours", async () => {
  const port = await httpsReceiver({ cert: pki.stranger.cert, key: pki.stranger.key });
  const result = await client.post(target(`https://localhost:${port}/`, { caFile: pki.ca.certFile }), '{}');
  assert.equal(result.error?.type, 'connect');
  assert.match(result.error?.message ?? '', /unable to verify the first certificate/);
});

test('mutual TLS: refused without a client certificate, delivered with one, the receiver sees its CN', async () => {
  const port = await httpsReceiver({
    ...server(),
    ca: pki.ca.cert,
    requestCert: true,
    rejectUnauthorized: true,
  });
  const url = `https://127.0.0.1:${port}/hook`;
  // Under TLS 1.3 the refusal arrives after the request was written: the alert still names it.
  const refused = await client.post(target(url, { caFile: pki.ca.certFile }), '{}');
  assert.equal(refused.status, null);
  assert.deepEqual(refused.error, {
    type: 'connect',
    message: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: tlsv13 alert certificate required',
  });
  const files = { caFile: pki.ca.certFile, certFile: pki.client.certFile, keyFile: pki.client.keyFile };
  const accepted = await client.post(target(url, files), '{}');
  assert.equal(accepted.status, 200);
  assert.equal(accepted.responseSnippet, 'walhook');
});

test('plain HTTP behind an https URL is a connect error, not a crash', async () => {
  const plain = createHttpServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  closers.push(() => plain.close());
  const { port } = plain.address() as AddressInfo;
  const result = await client.post(target(`https://127.0.0.1:${port}/`, null), '{}');
  assert.deepEqual(result.error, {
    type: 'connect',
    message: 'ERR_SSL_WRONG_VERSION_NUMBER: wrong version number',
  });
});

test('a TLS file that cannot be read fails the attempt as a connect error, naming trigger and key', async () => {
  const missing = join(pki.dir, 'missing.pem');
  const result = await client.post(target('https://127.0.0.1:9/', { caFile: missing }), '{}');
  assert.equal(result.status, null);
  assert.equal(result.error?.type, 'connect');
  assert.equal(
    result.error?.message,
    `trigger orders: tls.ca_file ${missing}: cannot read file: ENOENT: no such file or directory; fix the path or the file's permissions`,
  );
});
