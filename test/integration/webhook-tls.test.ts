import assert from 'node:assert/strict';
import { createServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { type Database, startDatabase } from '../helpers/database.js';
import { waitUntil } from '../helpers/receiver.js';
import { type LogLine, runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

const ROWS = 5;
const SLOT = 'webhook_tls_test';

interface TlsDelivery {
  path: string;
  /** The CN of the client certificate presented, or null. */
  clientCn: string | null;
}

/** A real https receiver on 127.0.0.1 recording each request's path and client certificate. */
async function httpsReceiver(options: ServerOptions) {
  const deliveries: TlsDelivery[] = [];
  const server = createServer(options, (req, res) => {
    req.resume();
    req.on('end', () => {
      const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
      deliveries.push({ path: req.url ?? '/', clientCn: typeof cn === 'string' ? cn : null });
      res.end();
    });
  });
  // Refused handshakes are what several triggers are here for.
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    at: (path: string) => deliveries.filter((d) => d.path === path),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type HttpsReceiver = Awaited<ReturnType<typeof httpsReceiver>>;

let pki: TestPki;
let db: Database;
let plain: HttpsReceiver;
let mutual: HttpsReceiver;
let stranger: HttpsReceiver;
let walhook: WalhookProcess | undefined;

before(async () => {
  pki = makeTestPki();
  db = await startDatabase('webhooktls');
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
  plain = await httpsReceiver({ cert: pki.server.cert, key: pki.server.key });
  mutual = await httpsReceiver({
    cert: pki.server.cert,
    key: pki.server.key,
    ca: pki.ca.cert,
    requestCert: true,
    rejectUnauthorized: true,
  });
  stranger = await httpsReceiver({ cert: pki.stranger.cert, key: pki.stranger.key });
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await Promise.all([plain?.close(), mutual?.close(), stranger?.close()]);
  await db?.close();
});

function config(triggers: string): string {
  return `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
server:
  host: 127.0.0.1
  port: \${PORT}
triggers:
${triggers}`;
}

function trigger(name: string, url: string, tls: Record<string, string> | null): string {
  const files = tls === null ? '' : `\n    tls: ${JSON.stringify(tls)}`;
  return `  - name: ${name}
    table: orders
    operations: [insert]
    webhook: ${url}/${name}
    retry: { num_retries: 1, interval_sec: 0.05, max_interval_sec: 0.1, timeout_sec: 2 }${files}
`;
}

test('https receivers: private CA, mutual TLS and a stranger, side by side in one process', async () => {
  const ca = { ca_file: pki.ca.certFile };
  const clientCert = { ...ca, cert_file: pki.client.certFile, key_file: pki.client.keyFile };
  const plainUrl = `https://127.0.0.1:${plain.port}`;
  const mutualUrl = `https://127.0.0.1:${mutual.port}`;
  walhook = await WalhookProcess.start(
    config(
      trigger('untrusted', plainUrl, null) +
        trigger('trusted', plainUrl, ca) +
        trigger('no_client_cert', mutualUrl, ca) +
        trigger('client_cert', mutualUrl, clientCert) +
        // The stranger's certificate names localhost too: only its issuer is wrong.
        trigger('stranger', `https://localhost:${stranger.port}`, ca),
    ),
    { DATABASE_URL: db.url, LOG_LEVEL: 'info' },
  );
  for (let id = 1; id <= ROWS; id++)
    await db.query('INSERT INTO orders VALUES ($1, $2)', [id, `order ${id}`]);

  await waitUntil(() => plain.at('/trusted').length >= ROWS, `${ROWS} deliveries with ca_file`);
  await waitUntil(
    () => mutual.at('/client_cert').length >= ROWS,
    `${ROWS} deliveries with a client certificate`,
  );
  assert.ok(
    mutual.at('/client_cert').every((d) => d.clientCn === 'walhook'),
    'the receiver saw our CN',
  );
  assert.equal(plain.at('/untrusted').length, 0, 'nothing sent to a receiver walhook does not trust');
  assert.equal(mutual.at('/no_client_cert').length, 0, 'nothing accepted without a client certificate');
  assert.equal(stranger.at('/stranger').length, 0, "nothing sent to the stranger's receiver");

  const failing = ['untrusted', 'no_client_cert', 'stranger'];
  const letters = async () =>
    (
      await db.query<{ trigger: string; attempts: number; last_error: string }>(
        'SELECT trigger, attempts, last_error FROM walhook.dead_letters ORDER BY trigger, lsn',
      )
    ).rows;
  await waitUntil(
    async () => (await letters().catch(() => [])).length === ROWS * failing.length,
    `${ROWS * failing.length} dead letters`,
  );
  const reasons = {
    untrusted: 'connect: UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate',
    no_client_cert: 'connect: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: tlsv13 alert certificate required',
    stranger: 'connect: UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate',
  };
  for (const row of await letters()) {
    assert.equal(row.attempts, 2, `${row.trigger}: the first attempt and its one retry`);
    assert.equal(row.last_error, reasons[row.trigger as keyof typeof reasons], row.trigger);
  }
  for (const name of failing) {
    const retried: LogLine[] = walhook.logs.filter(
      (l) =>
        l.msg === 'delivery attempt' && l.trigger === name && l.outcome === 'retry' && l.level === 'warn',
    );
    assert.equal(retried.length, ROWS, `${name}: each event's first attempt is logged as retried`);
    assert.equal(retried[0]?.error?.type, 'connect');
  }
  await db.waitForConfirmed(SLOT);
  assert.ok(walhook.assertAlive());
  assert.equal(await walhook.stop(), 0);
  walhook = undefined;
});

test('a ca_file that does not exist stops start-up with one line and exit 2', async () => {
  const missing = join(pki.dir, 'no-such-ca.pem');
  const path = await writeConfig(
    config(trigger('orders', `https://127.0.0.1:${plain.port}`, { ca_file: missing })),
  );
  const result = await runCli(['run', '--config', path], { DATABASE_URL: db.url, PORT: '0' });
  assert.equal(result.code, 2, result.stderr);
  assert.equal(
    result.stderr,
    `walhook: trigger orders: tls.ca_file ${missing}: cannot read file: ENOENT: no such file or directory; fix the path or the file's permissions\n`,
  );
});
