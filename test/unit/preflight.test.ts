import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { before, test } from 'node:test';
import pino from 'pino';
import { parseConfigs } from '../../src/config/load.js';
import { isWalhookError, WalhookError } from '../../src/core/errors.js';
import { adminToken, tlsFiles } from '../../src/preflight/checks.js';
import { preflight, startChecks } from '../../src/preflight/preflight.js';
import {
  type Check,
  type CheckContext,
  exitCode,
  findingLine,
  runChecks,
} from '../../src/preflight/runner.js';
import { probeWebhook } from '../../src/sinks/webhook/probe.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { parseConfig } from '../helpers/config.js';
import { waitUntil } from '../helpers/receiver.js';

let pki: TestPki;

before(() => {
  pki = makeTestPki();
});

/** A config of one webhook trigger, `extra` added to the trigger and `server` to the top level. */
function config(options: { webhook?: string; trigger?: string; server?: string } = {}) {
  const text = `source:
  connection: postgres://walhook@127.0.0.1:1/app
${options.server ?? ''}triggers:
  - name: orders
    table: orders
    operations: [insert]
    webhook: ${options.webhook ?? 'http://127.0.0.1:1/hooks'}
${options.trigger ?? ''}`;
  return parseConfig(text, 'walhook.yaml', {});
}

function context(cfg = config()): CheckContext {
  return { path: 'walhook.yaml', config: cfg, client: null, probeTimeoutMs: 1_000 };
}

const check = (name: string, run: Check['run'], scope: Check['scope'] = 'pipeline'): Check => ({
  name,
  reach: 'local',
  scope,
  run,
});

test('the runner keeps check order, emits as it goes, and turns a throwing check into an error naming it', async () => {
  const emitted: string[] = [];
  const findings = await runChecks(
    [
      check('first', () => [{ level: 'ok', message: 'one' }]),
      check('broken', () => {
        throw new Error('boom');
      }),
      check('coded', () => {
        throw new WalhookError('WALHOOK_ERR_TLS_FILE', 'trigger t: tls.ca_file x: bad');
      }),
      check('last', async () => [{ level: 'warn', message: 'three', fix: 'do this' }]),
    ],
    context(),
    (f) => emitted.push(`${f.check}: ${f.level} ${findingLine(f)}`),
  );
  assert.deepEqual(emitted, [
    'first: ok one',
    'broken: error the broken check failed: boom',
    'coded: error trigger t: tls.ca_file x: bad',
    'last: warn three; do this',
  ]);
  assert.equal(findings[2]?.code, 'WALHOOK_ERR_TLS_FILE');
  assert.equal(exitCode(findings), 2);
  assert.equal(exitCode(findings.filter((f) => f.level !== 'error')), 0, 'warnings leave it usable');
});

test('several pipelines: the shared settings once and unnamed, each pipeline its own lines, named', async () => {
  const configs = parseConfigs(
    `pipelines:
  - name: a
    source: { connection: "postgres://x@127.0.0.1:1/db", slot: a }
    triggers: [{ name: ta, table: t, operations: [insert], webhook: "http://127.0.0.1:1/" }]
  - name: b
    source: { connection: "postgres://x@127.0.0.1:1/db", slot: b }
    triggers: [{ name: tb, table: t, operations: [insert], webhook: "http://127.0.0.1:1/" }]
`,
    'walhook.yaml',
    {},
  );
  const lines: string[] = [];
  await preflight('walhook.yaml', configs, (f) => lines.push(f.message), [
    check('shared', () => [{ level: 'info', message: 'server' }], 'process'),
    check('own', ({ config: c }) => [{ level: 'ok', message: c.triggers[0]?.name ?? '' }]),
  ]);
  assert.deepEqual(lines, ['server', 'pipeline a: ta', 'pipeline b: tb']);
});

test('admin token: unset is info, short or repetitive is a warning with the way to make one, never quoted', async () => {
  const run = async (server = '') => adminToken.run(context(config({ server })));
  assert.deepEqual(
    (await run()).map((f) => f.level),
    ['info'],
  );
  const cases: [string, string, RegExp][] = [
    ['short-but-16chars', 'warn', /shorter than 32 characters/],
    ['ab'.repeat(20), 'warn', /fewer than 10 distinct characters/],
    ['0f3a9c7e5b1d2468ace0bdf13579ac4e9d8c7b6a', 'ok', /long and varied/],
  ];
  for (const [value, level, message] of cases) {
    const [finding] = await run(`server: { admin_token: "${value}" }\n`);
    assert.ok(finding);
    assert.equal(finding.level, level, value);
    assert.match(finding.message, message);
    assert.ok(!findingLine(finding).includes(value), 'the token is never printed');
    if (level === 'warn') assert.match(finding.fix ?? '', /openssl rand -hex 32/);
  }
});

test('tls files: a file that is no PEM is the one-line WALHOOK_ERR_TLS_FILE; good files are ok', async () => {
  const text = join(pki.dir, 'preflight-text.pem');
  writeFileSync(text, 'not a certificate\n');
  const bad = await tlsFiles.run(
    context(config({ webhook: 'https://127.0.0.1:1/', trigger: `    tls: { ca_file: ${text} }\n` })),
  );
  assert.equal(bad.length, 1);
  assert.equal(bad[0]?.level, 'error');
  assert.equal(bad[0]?.code, 'WALHOOK_ERR_TLS_FILE');
  assert.match(
    bad[0]?.message ?? '',
    /^trigger orders: tls\.ca_file .*preflight-text\.pem: no PEM certificate .*; give the CA certificate\(s\) in PEM form$/,
  );
  const good = await tlsFiles.run(
    context(
      config({
        webhook: 'https://127.0.0.1:1/',
        trigger: `    tls: { ca_file: ${pki.ca.certFile}, cert_file: ${pki.client.certFile}, key_file: ${pki.client.keyFile} }\n`,
      }),
    ),
  );
  assert.deepEqual(
    good.map((f) => [f.level, f.message]),
    [['ok', 'triggers[0] (orders): tls.ca_file, tls.cert_file, tls.key_file readable, valid PEM']],
  );
});

/** A pino logger writing its JSON lines into an array. */
function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

test('run start: a bad TLS file is thrown as its coded error; a weak token is logged once; a down sink does not wait', async () => {
  const text = join(pki.dir, 'preflight-run.pem');
  writeFileSync(text, 'not a certificate\n');
  const { logger, lines } = memoryLogger();
  await assert.rejects(
    startChecks(
      config({ webhook: 'https://127.0.0.1:1/', trigger: `    tls: { ca_file: ${text} }\n` }),
      logger,
    ),
    (err: unknown) => isWalhookError(err, 'WALHOOK_ERR_TLS_FILE') && /preflight-run\.pem/.test(err.message),
  );
  const down = await closedPort();
  const weak = config({
    webhook: `http://127.0.0.1:${down}/`,
    server: 'server: { admin_token: "0123456789abcdef" }\n',
  });
  const started = Date.now();
  await startChecks(weak, logger);
  await startChecks(weak, logger);
  assert.ok(Date.now() - started < 500, 'start does not wait for the sink probes');
  const warnings = () => lines.filter((l) => l.level === 40).map((l) => String(l.msg));
  await waitUntil(() => warnings().some((m) => m.includes('not reachable')), 'the sink warning');
  assert.deepEqual(
    warnings().map((m) => m.split(':')[0]),
    ['server.admin_token is weak', `triggers[0] (orders)`],
    'each warning once, though two pipelines started',
  );
});

/** A port nothing listens on: taken, then freed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

test('webhook probe: TCP up and down, an https handshake with and without the CA, mutual TLS without a client certificate', async () => {
  const seen: string[] = [];
  const tcp = createServer((socket) => {
    socket.on('data', (d) => seen.push(String(d)));
    socket.on('error', () => {});
  });
  const https = createHttpsServer({ cert: pki.server.cert, key: pki.server.key }, (_req, res) => {
    seen.push('request');
    res.end();
  });
  const mutual = createHttpsServer({
    cert: pki.server.cert,
    key: pki.server.key,
    ca: pki.ca.cert,
    requestCert: true,
    rejectUnauthorized: true,
  });
  mutual.on('tlsClientError', () => {});
  https.on('tlsClientError', () => {});
  const [tcpPort, httpsPort, mutualPort, downPort] = [
    await listen(tcp),
    await listen(https),
    await listen(mutual),
    await closedPort(),
  ];
  const ca = { caFile: pki.ca.certFile };
  const probe = (url: string, tls: typeof ca | null = null) =>
    probeWebhook({ trigger: 'orders', url, tls }, 1_000);
  try {
    const up = await probe(`http://127.0.0.1:${tcpPort}/hooks`);
    assert.deepEqual(up, { level: 'ok', message: `webhook 127.0.0.1:${tcpPort} reachable` });
    const down = await probe(`http://127.0.0.1:${downPort}/hooks`);
    assert.equal(down.level, 'warn');
    assert.match(
      down.message,
      new RegExp(`^webhook 127\\.0\\.0\\.1:${downPort} not reachable: .*ECONNREFUSED`),
    );
    assert.match(down.fix ?? '', /start the receiver/);
    const trusted = await probe(`https://localhost:${httpsPort}/`, ca);
    assert.deepEqual(trusted, {
      level: 'ok',
      message: `webhook localhost:${httpsPort} reachable, TLS handshake ok`,
    });
    const untrusted = await probe(`https://localhost:${httpsPort}/`);
    assert.equal(untrusted.level, 'warn');
    assert.match(untrusted.message, /certificate does not verify/);
    assert.match(untrusted.fix ?? '', /tls\.ca_file/);
    const refused = await probe(`https://localhost:${mutualPort}/`, ca);
    assert.equal(refused.level, 'warn', JSON.stringify(refused));
    assert.match(refused.fix ?? '', /tls\.cert_file and tls\.key_file/);
    const accepted = await probeWebhook(
      {
        trigger: 'orders',
        url: `https://localhost:${mutualPort}/`,
        tls: { ...ca, certFile: pki.client.certFile, keyFile: pki.client.keyFile },
      },
      1_000,
    );
    assert.equal(accepted.level, 'ok', JSON.stringify(accepted));
    assert.deepEqual(seen, [], 'no request was sent');
  } finally {
    for (const server of [tcp, https, mutual]) server.close();
  }
});
