import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { type Database, startDatabase } from '../helpers/database.js';
import { connectTo, createStream, NatsServer } from '../helpers/nats.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { type CliResult, runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

const SLOT = 'preflight_test';
const STREAM = 'PREFLIGHT';

let db: Database;
let receiver: Receiver;
let nats: NatsServer;
let nc: NatsConnection;
let pki: TestPki;

before(async () => {
  pki = makeTestPki();
  db = await startDatabase('preflight');
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
  receiver = await startReceiver();
  nats = await NatsServer.start();
  nc = await connectTo([nats]);
});

after(async () => {
  await nc?.close();
  await nats?.destroy();
  await receiver?.close();
  await db?.close();
});

function config(trigger: string, server = ''): string {
  return `
source:
  connection: \${DATABASE_URL}
  slot: ${SLOT}
  publication: ${SLOT}
server:
  host: 127.0.0.1
  port: \${PORT}${server}
triggers:
  - name: orders
    table: orders
    operations: [insert]
${trigger}`;
}

const webhook = (url: string) => `    webhook: ${url}\n`;

async function validate(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(['validate', '--config', await writeConfig(yaml)], {
    DATABASE_URL: db.url,
    PORT: '0',
    ...env,
  });
}

/** The lines validate printed at `warn` or `error`: everything else checked out. */
function problems(result: CliResult): string[] {
  return result.stdout.split('\n').filter((line) => /^(warn|error) /.test(line));
}

/** A port of 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('a TLS file that is no PEM: validate reports the error (exit 2), and run refuses it with the same line', async () => {
  const text = join(pki.dir, 'not-a-ca.pem');
  await writeFile(text, 'not a certificate\n');
  const yaml = config(
    `${webhook(`https://127.0.0.1:${await closedPort()}/orders`)}    tls: { ca_file: ${text} }\n`,
  );
  const expected = `trigger orders: tls.ca_file ${text}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file; give the CA certificate(s) in PEM form`;

  const validated = await validate(yaml);
  assert.equal(validated.code, 2, validated.stdout + validated.stderr);
  assert.ok(validated.stdout.split('\n').includes(`error ${expected}`), validated.stdout);

  const run = await runCli(['run', '--config', await writeConfig(yaml)], { DATABASE_URL: db.url, PORT: '0' });
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.stderr, `walhook: ${expected}\n`);
});

test('a weak admin token is a warning that says how to make one; a strong one is ok', async () => {
  const weak = 'walhook-walhook-walhook';
  const server = `\n  admin_token: \${ADMIN_TOKEN}`;
  const yaml = config(webhook(`${receiver.url}/orders`), server);
  const warned = await validate(yaml, { ADMIN_TOKEN: weak });
  assert.equal(warned.code, 0, warned.stdout + warned.stderr);
  assert.deepEqual(problems(warned), [
    `warn  server.admin_token is weak: shorter than 32 characters; make one with openssl rand -hex 32 and pass it from the environment or a file (\${WALHOOK_ADMIN_TOKEN}, \${file:/run/secrets/walhook-admin})`,
  ]);
  assert.ok(!warned.stdout.includes(weak), 'the token is not printed');

  const strong = await validate(yaml, { ADMIN_TOKEN: 'c2b7e4f09a1d8e3b5f6a7c9d0e1f2a3b4c5d6e7f' });
  assert.equal(strong.code, 0, strong.stdout + strong.stderr);
  assert.deepEqual(problems(strong), []);
  assert.match(strong.stdout, /^ok +server\.admin_token is long and varied$/m);
});

test('a webhook receiver that is down is a warning (exit 0); once up it is ok', async () => {
  const port = await closedPort();
  const down = await validate(config(webhook(`http://127.0.0.1:${port}/orders`)));
  assert.equal(down.code, 0, down.stdout + down.stderr);
  const [line, ...others] = problems(down);
  assert.deepEqual(others, [], down.stdout);
  assert.match(
    line ?? '',
    new RegExp(
      `^warn  triggers\\[0\\] \\(orders\\): webhook 127\\.0\\.0\\.1:${port} not reachable: connect ECONNREFUSED .*; start the receiver`,
    ),
  );

  const up = await validate(config(webhook(`${receiver.url}/orders`)));
  assert.equal(up.code, 0, up.stdout + up.stderr);
  assert.deepEqual(problems(up), []);
  assert.match(
    up.stdout,
    new RegExp(`^ok +triggers\\[0\\] \\(orders\\): webhook ${new URL(receiver.url).host} reachable$`, 'm'),
  );
  assert.equal(receiver.deliveries.length, 0, 'the probe sent no request');
});

test('a NATS stream that does not exist is a warning; once created it is ok', async () => {
  const yaml = config(`    sink: { type: nats, servers: ["${nats.url}"], stream: ${STREAM} }\n`);
  const missing = await validate(yaml);
  assert.equal(missing.code, 0, missing.stdout + missing.stderr);
  assert.deepEqual(problems(missing), [
    `warn  triggers[0] (orders): NATS ${nats.url}: stream ${STREAM} not found; create it with subjects that capture the trigger's sink.subject, or correct sink.stream; until then every publish is refused and retried`,
  ]);

  await createStream(nc, { name: STREAM });
  const present = await validate(yaml);
  assert.equal(present.code, 0, present.stdout + present.stderr);
  assert.deepEqual(problems(present), []);
  assert.match(
    present.stdout,
    new RegExp(
      `^ok +triggers\\[0\\] \\(orders\\): NATS ${nats.url} reachable, stream ${STREAM} exists$`,
      'm',
    ),
  );

  const port = await closedPort();
  const noServer = await validate(
    config(`    sink: { type: nats, servers: ["nats://127.0.0.1:${port}"] }\n`),
  );
  assert.equal(noServer.code, 0, noServer.stdout + noServer.stderr);
  assert.match(
    problems(noServer).join('\n'),
    new RegExp(`^warn  triggers\\[0\\] \\(orders\\): NATS nats://127\\.0\\.0\\.1:${port} not reachable: `),
  );
});

test('run logs a down receiver and a weak admin token once each and streams all the same', async () => {
  const port = await closedPort();
  const walhook = await WalhookProcess.start(
    config(webhook(`http://127.0.0.1:${port}/orders`), `\n  admin_token: \${ADMIN_TOKEN}`),
    { DATABASE_URL: db.url, ADMIN_TOKEN: 'walhook-walhook-walhook' },
  );
  try {
    const probe = await walhook.waitForLog((l) => l.check === 'sinks', 'the sink probe');
    assert.equal(probe.level, 'warn');
    assert.match(
      probe.msg,
      new RegExp(`^triggers\\[0\\] \\(orders\\): webhook 127\\.0\\.0\\.1:${port} not reachable`),
    );
    const token = walhook.logs.filter((l) => l.check === 'admin token');
    assert.deepEqual(
      token.map((l) => [l.level, l.msg.split(';')[0]]),
      [['warn', 'server.admin_token is weak: shorter than 32 characters']],
    );
    assert.ok(!JSON.stringify(walhook.logs).includes('walhook-walhook-walhook'), 'the token is not logged');
  } finally {
    assert.equal(await walhook.stop(), 0);
  }
});
