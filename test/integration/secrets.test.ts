import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Database, startDatabase } from '../helpers/database.js';
import { type Receiver, startReceiver, waitUntil } from '../helpers/receiver.js';
import { type CliResult, runCli, WalhookProcess } from '../helpers/walhook.js';

/**
 * A run with every kind of secret set, through start-up, deliveries, a receiver that echoes the
 * request back, a dead letter, the CLI commands, the HTTP endpoints, config errors and a refused
 * password; afterwards nothing walhook printed may contain any secret.
 */
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
// Characters that must be percent-encoded in a URL, so both spellings are looked for.
const PASSWORD = `pw-${hex(12)}@:/?#%`;
const WRONG_PASSWORD = `wrong-${hex(12)}`;
const HOOK_TOKEN = `tok-${hex(16)}`;
const FILE_API_KEY = `filekey-${hex(16)}`;
const SIGNING_KEY = randomBytes(32).toString('base64');
const WEBHOOK_SECRET = `whsec_${SIGNING_KEY}`;
const ADMIN_TOKEN = `admin-${hex(16)}`;
const ROLE = 'walhook_secrets';

const SECRETS: Record<string, string> = {
  password: PASSWORD,
  'password, percent-encoded': encodeURIComponent(PASSWORD),
  'password, random part': PASSWORD.slice(3, 27),
  'wrong password': WRONG_PASSWORD,
  'bearer token': HOOK_TOKEN,
  'api key from a file': FILE_API_KEY,
  'webhook secret': WEBHOOK_SECRET,
  'webhook secret, base64 part': SIGNING_KEY,
  'admin token': ADMIN_TOKEN,
};

let db: Database;
let receiver: Receiver;
let echo: { url: string; server: Server; requests: number };
let dir: string;
let configPath: string;
/** Everything walhook and its commands printed or served, labelled by where it came from. */
const printed: { where: string; text: string }[] = [];

function configYaml(apiKeyFile: string): string {
  return `source:
  connection: \${DATABASE_URL}
  slot: secrets_test
  publication: secrets_test
server:
  port: \${PORT:-0}
  admin_token: \${ADMIN_TOKEN}
triggers:
  - name: orders_ok
    table: orders
    operations: [insert]
    webhook: \${RECEIVER}/ok
    headers:
      Authorization: Bearer \${HOOK_TOKEN}
      X-Api-Key: \${file:${apiKeyFile}}
    secret: \${WEBHOOK_SECRET}
  - name: orders_echo
    table: orders
    operations: [insert]
    webhook: \${ECHO}/echo
    headers:
      Authorization: Bearer \${HOOK_TOKEN}
      X-Api-Key: \${file:${apiKeyFile}}
    secret: \${WEBHOOK_SECRET}
    retry: { num_retries: 1, interval_sec: 0 }
`;
}

function env(password = PASSWORD): NodeJS.ProcessEnv {
  const url = new URL(db.url);
  url.username = ROLE;
  url.password = encodeURIComponent(password);
  return {
    DATABASE_URL: url.href,
    RECEIVER: receiver.url,
    ECHO: echo.url,
    HOOK_TOKEN,
    WEBHOOK_SECRET,
    ADMIN_TOKEN,
    LOG_LEVEL: 'debug',
  };
}

/** A receiver that answers 500 with the request's headers and body, as a debugging endpoint might. */
async function startEchoReceiver() {
  const state = { url: '', server: createServer(), requests: 0 };
  state.server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      state.requests++;
      const body = Buffer.concat(chunks).toString('utf8');
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'rejected', headers: req.headers, body }, null, 2));
    });
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

function record(where: string, result: CliResult): CliResult {
  printed.push({ where: `${where} (stdout)`, text: result.stdout });
  printed.push({ where: `${where} (stderr)`, text: result.stderr });
  return result;
}

function recordProcess(where: string, walhook: WalhookProcess): void {
  printed.push({
    where: `${where} (log lines)`,
    text: walhook.logs.map((l) => JSON.stringify(l)).join('\n'),
  });
  printed.push({ where: `${where} (stderr)`, text: walhook.stderr });
}

before(async () => {
  db = await startDatabase('secrets');
  // A role with a password, so the password really is checked (the embedded server asks for one).
  await db.query(`CREATE ROLE ${ROLE} LOGIN SUPERUSER PASSWORD '${PASSWORD.replaceAll("'", "''")}'`);
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, note text)');
  receiver = await startReceiver(() => 200);
  echo = await startEchoReceiver();
  dir = await mkdtemp(join(tmpdir(), 'walhook-secrets-'));
  // As Docker and Kubernetes write them: with a trailing newline.
  await writeFile(join(dir, 'api-key'), `${FILE_API_KEY}\n`);
  configPath = join(dir, 'walhook.yaml');
  // The relative form, read from the config file's folder.
  await writeFile(configPath, configYaml('api-key'));
});

after(async () => {
  await receiver?.close();
  echo?.server.closeAllConnections();
  echo?.server.close();
  await db?.close();
});

test('a run with every secret set prints none of them', async () => {
  const walhook = await WalhookProcess.start(configYaml(join(dir, 'api-key')), env());
  try {
    await db.query(`INSERT INTO orders VALUES (1, 'first'), (2, 'second')`);
    const delivered = await receiver.waitFor(2, '/ok');
    // The secrets were in use: the receiver got them, so their absence below means something.
    assert.equal(delivered[0]?.headers.authorization, `Bearer ${HOOK_TOKEN}`);
    assert.equal(delivered[0]?.headers['x-api-key'], FILE_API_KEY, 'read from the file, newline removed');
    assert.match(String(delivered[0]?.headers['webhook-signature']), /^v1,/);

    await walhook.waitForLog(
      (l) => l.code === 'WALHOOK_ERR_DELIVERY_FAILED' && l.trigger === 'orders_echo',
      'a dead letter',
    );
    assert.ok(echo.requests >= 2, 'the echoing receiver answered');
    await waitUntil(
      async () => Number((await db.query('SELECT count(*) AS n FROM walhook.dead_letters')).rows[0]?.n) === 2,
      'two dead letters',
    );
    const echoed = walhook.logs.find((l) => l.trigger === 'orders_echo' && typeof l.response === 'string');
    assert.ok(echoed, `a log line with the echoed response: ${walhook.tail()}`);
    assert.match(echoed.response, /authorization/, 'the excerpt holds the echoed headers, masked');

    const base = `http://127.0.0.1:${walhook.port}`;
    for (const path of ['/status', '/metrics', '/healthz', '/readyz']) {
      const response = await fetch(`${base}${path}`);
      printed.push({ where: `GET ${path}`, text: await response.text() });
    }
    const status = printed.find((p) => p.where === 'GET /status');
    assert.match(status?.text ?? '', /"name": "orders_echo"/, '/status was served');
    // An admin action refused for a token that holds the real one, then allowed: neither is logged.
    const admin = async (path: string, token: string) => {
      const response = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{}',
      });
      printed.push({ where: `POST ${path}`, text: await response.text() });
      return response.status;
    };
    assert.equal(await admin('/pause', `${ADMIN_TOKEN}-and-more`), 401);
    assert.equal(await admin('/pause', ADMIN_TOKEN), 200);
    assert.equal(await admin('/resume', ADMIN_TOKEN), 200);
    record('walhook status', await runCli(['status', '--url', base]));
    record('walhook status --json', await runCli(['status', '--url', base, '--json']));
    const list = record('walhook dlq list', await runCli(['dlq', 'list', '--config', configPath], env()));
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /orders_echo/);
    const json = record(
      'walhook dlq list --json',
      await runCli(['dlq', 'list', '--config', configPath, '--json'], env()),
    );
    assert.match(json.stdout, /"responseSnippet":".*authorization/, 'the echoed response is kept, masked');
    const validate = record('walhook validate', await runCli(['validate', '--config', configPath], env()));
    assert.equal(validate.code, 0, validate.stdout + validate.stderr);
    assert.match(validate.stdout, new RegExp(`role ${ROLE} may replicate`));
  } finally {
    await walhook.stop();
    recordProcess('walhook run', walhook);
  }
  assert.ok(
    walhook.logs.some((l) => l.level === 'debug'),
    'debug lines were written',
  );
});

test('dead letters keep the body but no header value', async () => {
  const { rows } = await db.query<{ body: string; response_snippet: string | null }>(
    'SELECT body, response_snippet FROM walhook.dead_letters',
  );
  assert.equal(rows.length, 2);
  for (const row of rows) {
    assert.match(row.body, /"note":"(first|second)"/, 'the body is the user data, kept whole');
    assert.match(String(row.response_snippet), /"authorization": "\*\*\*"/);
    for (const [what, secret] of Object.entries(SECRETS)) {
      assert.ok(!JSON.stringify(row).includes(secret), `the dead letter stores the ${what}`);
    }
  }
});

test('config errors about secret-bearing keys do not quote the secret', async () => {
  const cases: [string, NodeJS.ProcessEnv, RegExp][] = [
    [
      configYaml('api-key').replace(
        `Authorization: Bearer \${HOOK_TOKEN}`,
        `Authorization: "Bearer \${HOOK_TOKEN}\\nX-Injected: 1"`,
      ),
      env(),
      /triggers\[0\]\.headers\.Authorization: header values cannot contain line breaks$/,
    ],
    [
      configYaml('api-key'),
      { ...env(), WEBHOOK_SECRET: `${WEBHOOK_SECRET}!` },
      /triggers\[0\]\.secret: expected whsec_ followed by the base64/,
    ],
    [
      configYaml('api-key').replace(
        `secret: \${WEBHOOK_SECRET}\n`,
        `secret: ["\${WEBHOOK_SECRET}", "\${WEBHOOK_SECRET}"]\n`,
      ),
      env(),
      /triggers\[0\]\.secret\[1\]: duplicate secret \(also secret\[0\]\)$/,
    ],
    [
      configYaml('api-key'),
      { ...env(), ADMIN_TOKEN: HOOK_TOKEN.slice(0, 10) },
      /server\.admin_token: needs at least 16 characters$/,
    ],
    [
      configYaml('api-key').replace(`webhook: \${RECEIVER}/ok`, `webhook: \${HOOK_TOKEN}`),
      env(),
      /triggers\[0\]\.webhook: expected an http or https URL$/,
    ],
    [
      configYaml('missing-key'),
      env(),
      /triggers\[0\]\.headers\.X-Api-Key: cannot read secret file .*missing-key: no such file/,
    ],
  ];
  for (const [i, [yaml, caseEnv, expected]] of cases.entries()) {
    const path = join(dir, `invalid-${i}.yaml`);
    await writeFile(path, yaml);
    for (const command of ['validate', 'run']) {
      const result = record(
        `walhook ${command} (bad config ${i})`,
        await runCli([command, '--config', path], caseEnv),
      );
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr.trim(), expected);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }
  }
});

test('a refused password at start-up is reported without the password', async () => {
  const validate = record(
    'walhook validate (wrong password)',
    await runCli(['validate', '--config', configPath], env(WRONG_PASSWORD)),
  );
  assert.match(
    validate.stdout,
    /^error +Postgres at .* refused the connection: password authentication failed/m,
  );
  const walhook = await WalhookProcess.start(configYaml(join(dir, 'api-key')), env(WRONG_PASSWORD), {
    waitReady: false,
  });
  try {
    const line = await walhook.waitForLog((l) => l.level === 'error', 'the refused connection');
    assert.match(JSON.stringify(line), /password authentication failed/);
  } finally {
    await walhook.stop();
    recordProcess('walhook run (wrong password)', walhook);
  }
});

test('nothing printed contains a secret', () => {
  assert.ok(printed.length > 20, 'every earlier test recorded its output');
  const leaks: string[] = [];
  for (const { where, text } of printed) {
    for (const [what, secret] of Object.entries(SECRETS)) {
      if (text.includes(secret)) leaks.push(`${where}: the ${what}`);
    }
  }
  assert.deepEqual(leaks, []);
});
