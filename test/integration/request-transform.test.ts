import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { type Database, startDatabase } from '../helpers/database.js';
import { waitUntil } from '../helpers/receiver.js';
import { runCli, WalhookProcess, writeConfig } from '../helpers/walhook.js';

/*
 * Hasura's request transforms end to end: rows inserted in Postgres, requests as the templates render
 * them on a real HTTP receiver, signatures over the bytes sent, and a template failing on an event
 * dead-lettered with Kriti's message.
 */

/** The parts of the console API's answers (a list of invocations, one's detail) read here. */
interface ConsoleAnswer {
  invocations: { event_id: string }[];
  attempts: {
    request: { method: string; url: string; headers: Record<string, string>; body: string };
    response: { body: string };
  }[];
}

/** What the receiver got: everything a transform can change. */
interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  raw: string;
}

const FAILING = '{"was": {{$body.event.data.old.plan}}}';

let db: Database;
let server: Server;
let receiverUrl: string;
let walhook: WalhookProcess | undefined;
let deadLetters: string;
const received: Received[] = [];
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

const trigger = (name: string, transform: string, extra = '', query = '') => `
  - name: ${name}
    table: accounts
    operations: [insert]
    webhook: \${RECEIVER}/${name}${query}
    headers: { X-Legacy: old, X-Kept: kept }${extra}
    request_transform:
${transform
  .trim()
  .split('\n')
  .map((line) => `      ${line}`)
  .join('\n')}`;

const config = (failingBody: string) => `
source:
  connection: \${DATABASE_URL}
  slot: request_transform
  publication: request_transform
server:
  host: 127.0.0.1
  port: \${PORT}
dead_letter:
  file: \${DEAD_LETTERS}
triggers:${[
  trigger(
    'rest',
    `
version: 2
method: PUT
url: "{{$base_url}}/path/{{$body.event.data.new.id}}"
query_params: { plan: "{{$body.event.data.new.plan}}", skipped: "null" }
request_headers:
  add_headers: { X-Account: "{{$body.event.data.new.id}}", X-Token: "Key tok_live_0123456789" }
  remove_headers: [X-Legacy]
body:
  action: transform
  template: '{"account": {{$body.event.data.new.id}}, "plan": {{$body.event.data.new.plan}}}'
`,
  ),
  trigger(
    'form',
    `
version: 2
query_params: "t={{$query_params.tenant}}&n=1"
body:
  action: x_www_form_urlencoded
  form_template: { id: "{{$body.event.data.new.id}}", plan: "{{$body.event.data.new.plan}}" }
`,
    '',
    '?tenant=acme',
  ),
  trigger(
    'signed',
    `
body: '{"id": {{$body.event.data.new.id}}, "op": {{$body.event.op}}}'
`,
    `\n    secret: ${SECRET}`,
  ),
  trigger(
    'failing',
    `
body: '${failingBody}'
`,
    '\n    retry: { num_retries: 5, interval_sec: 10 }',
  ),
].join('')}
`;

before(async () => {
  db = await startDatabase('request_transform');
  await db.query('CREATE TABLE accounts (id bigint PRIMARY KEY, plan text)');
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw });
      // Echoes a credential, as careless receivers do: what walhook keeps of the answer must mask it.
      res.writeHead(200).end(`token ${req.headers['x-token'] ?? 'none'}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  deadLetters = join(await writeConfig(''), '..', 'dead.jsonl');
  walhook = await WalhookProcess.start(config(FAILING), env());
  // 2^63 - 1: a double would turn it into ...808; the templates must carry the digits Postgres wrote.
  await db.query(`INSERT INTO accounts VALUES (9223372036854775807, 'pro')`);
  await waitUntil(() => received.length >= 3, 'three transformed requests', 30_000);
});

after(async () => {
  await walhook?.stop('SIGKILL');
  await new Promise<void>((resolve) => {
    server?.closeAllConnections();
    server?.close(() => resolve());
  });
  await db?.close();
});

const env = () => ({ DATABASE_URL: db.url, RECEIVER: receiverUrl, DEAD_LETTERS: deadLetters });

const at = (path: string) => received.filter((r) => r.url.startsWith(path));

test('method, URL with the event in its path, query params, headers and body are the templates', () => {
  const [request, ...more] = at('/rest');
  assert.equal(more.length, 0);
  assert.equal(request?.method, 'PUT');
  assert.equal(request?.url, '/rest/path/9223372036854775807?plan=pro');
  // The bigint exactly as Postgres wrote it, in a body Hasura's way: compact, keys sorted.
  assert.equal(request?.raw, '{"account":9223372036854775807,"plan":"pro"}');
  assert.equal(request?.headers['content-type'], 'application/json');
  assert.equal(request?.headers['x-account'], '9223372036854775807');
  assert.equal(request?.headers['x-token'], 'Key tok_live_0123456789');
  assert.equal(request?.headers['x-kept'], 'kept');
  assert.equal(request?.headers['x-legacy'], undefined);
  assert.match(request?.headers.traceparent as string, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
});

test('the console shows the request the transform made, its added headers masked, and masks their echo', async () => {
  const get = async (path: string) =>
    (await (await fetch(`http://127.0.0.1:${walhook?.port}${path}`)).json()) as ConsoleAnswer;
  const [summary] = (await get('/console/api/invocations?trigger=rest')).invocations;
  assert.ok(summary);
  const [attempt] = (await get(`/console/api/invocations/${summary.event_id}`)).attempts;
  assert.ok(attempt);
  assert.equal(attempt.request.method, 'PUT');
  assert.equal(attempt.request.url, `${receiverUrl}/rest/path/9223372036854775807?plan=pro`);
  assert.equal(attempt.request.body, at('/rest')[0]?.raw);
  assert.equal(attempt.request.headers['x-token'], '***');
  assert.equal(attempt.request.headers['x-account'], '***');
  assert.equal(attempt.request.headers['x-legacy'], undefined);
  assert.equal(attempt.request.headers['x-kept'], '***');
  assert.equal(attempt.response.body, 'token ***');
  // The other triggers send their usual POST: the console says so.
  const [form] = (await get('/console/api/invocations?trigger=form')).invocations;
  assert.ok(form);
  const [formAttempt] = (await get(`/console/api/invocations/${form.event_id}`)).attempts;
  assert.ok(formAttempt);
  assert.equal(formAttempt.request.method, 'POST');
  assert.equal(formAttempt.request.url, `${receiverUrl}/form?t=acme&n=1`);
  assert.equal(formAttempt.request.headers['content-type'], 'application/x-www-form-urlencoded');
});

test("a form body, and a query string template that reads the URL's own query", () => {
  const [request] = at('/form');
  assert.equal(request?.method, 'POST');
  assert.equal(request?.url, '/form?t=acme&n=1');
  assert.equal(request?.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(request?.raw, 'id=9223372036854775807&plan=pro');
});

test('a signed trigger signs the transformed bytes', () => {
  const [request] = at('/signed');
  assert.equal(request?.raw, '{"id":9223372036854775807,"op":"INSERT"}');
  const headers = request?.headers as Record<string, string>;
  // Throws unless the signature is over exactly these bytes.
  new Webhook(SECRET).verify(request?.raw as string, headers);
  assert.ok(headers['webhook-id']);
  assert.throws(() => new Webhook(SECRET).verify(`${request?.raw} `, headers), /signature/i);
});

test('a template failing on an event is dead-lettered at once with the Kriti error, and counted', async () => {
  const lettersOf = async () =>
    (await readFile(deadLetters, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  await waitUntil(async () => (await lettersOf()).length === 1, 'the dead letter', 30_000);
  const [letter] = await lettersOf();
  assert.equal(letter.trigger, 'failing');
  // Not retried (num_retries 5, interval 10 s): one attempt, nothing sent.
  assert.equal(letter.attempts, 1);
  assert.equal(at('/failing').length, 0);
  assert.equal(
    letter.lastError,
    'transform: request_transform.body: line 1 column 11: $body.event.data.old: expected an object, got null',
  );
  // The letter keeps the event as walhook renders it, for a redelivery to transform again.
  assert.equal(JSON.parse(letter.body).event.op, 'INSERT');
  assert.match(letter.body, /"id":9223372036854775807/);
  const metrics = await (await fetch(`http://127.0.0.1:${walhook?.port}/metrics`)).text();
  assert.match(metrics, /walhook_errors_total\{error_type="transform",stage="sink"\} 1\n/);
  assert.match(metrics, /walhook_errors_total\{error_type="delivery_failed",stage="sink"\} 1\n/);
});

test('dlq redeliver renders the kept payload through the transform as configured then', async () => {
  // The template fixed: the letter's payload goes out transformed, to the trigger's URL.
  const fixed = await writeConfig(config('{"now": {{$body.event.data.new.plan}}}'));
  const result = await runCli(['dlq', 'redeliver', '--all', '--config', fixed], { ...env(), PORT: '0' });
  assert.equal(result.code, 0, result.stderr);
  const [request] = at('/failing');
  assert.equal(request?.raw, '{"now":"pro"}');
  assert.equal(request?.headers['content-type'], 'application/json');
});
