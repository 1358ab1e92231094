import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CENSOR,
  headerSecrets,
  logExcerpt,
  maskSecrets,
  redactError,
  redactKeys,
  redactText,
} from '../../src/core/redact.js';

test('a Postgres URL keeps its user and loses its password', () => {
  assert.equal(redactText('postgres://user:secret@host:5432/db'), 'postgres://user:***@host:5432/db');
  assert.equal(
    redactText('postgresql://u:p%40ss@h/db?sslmode=require'),
    'postgresql://u:***@h/db?sslmode=require',
  );
  assert.equal(
    redactText('connect to postgres://u:a@b@c@db.internal/app failed'),
    'connect to postgres://u:***@db.internal/app failed',
  );
  assert.equal(
    redactText('postgres://walhook@host/db'),
    'postgres://walhook@host/db',
    'no password, nothing to hide',
  );
});

test('any other URL loses its whole userinfo', () => {
  assert.equal(redactText('http://hook:s3cret@127.0.0.1:3000/x'), 'http://***@127.0.0.1:3000/x');
  assert.equal(redactText('https://ghp_token123@hooks.example.com/'), 'https://***@hooks.example.com/');
  assert.equal(redactText('"url":"https://a:b@h/p"'), '"url":"https://***@h/p"', 'inside a JSON line');
});

test('text without credentials is unchanged', () => {
  for (const text of [
    'http://127.0.0.1:9187/status',
    'https://example.com/path@v2?x=a@b',
    'mail ops@example.com about host:5432',
    '{"level":"info","msg":"acknowledged to Postgres","confirmed_lsn":"0/1A2B3C"}',
    'passwords are never logged',
  ]) {
    assert.equal(redactText(text), text);
  }
});

test('password-like key=value pairs lose their value', () => {
  assert.equal(
    redactText('host=db port=5432 user=app password=hunter2 dbname=app'),
    'host=db port=5432 user=app password=*** dbname=app',
  );
  assert.equal(redactText("password='with space' sslmode=require"), 'password=*** sslmode=require');
  assert.equal(redactText("password='it\\'s' user=x"), 'password=*** user=x');
  assert.equal(
    redactText('postgres://h/db?user=u&password=pw&sslpassword=k&sslmode=require'),
    'postgres://h/db?user=u&password=***&sslpassword=***&sslmode=require',
  );
  assert.equal(
    redactText('PGPASSWORD=abc HOOK_TOKEN = xyz api_key=1'),
    'PGPASSWORD=*** HOOK_TOKEN = *** api_key=***',
  );
});

test('secret keys are censored at any depth, headers as a whole', () => {
  const input = {
    trigger: 'orders',
    headers: { Authorization: 'Bearer t', 'X-Other': 'v' },
    source: { connection: 'postgres://h/db', password: 'pw', nested: [{ apiKey: 'k', ok: 1 }] },
    hook_token: 'tok',
    empty_secret: null,
  };
  assert.deepEqual(redactKeys(input), {
    trigger: 'orders',
    headers: CENSOR,
    source: { connection: 'postgres://h/db', password: CENSOR, nested: [{ apiKey: CENSOR, ok: 1 }] },
    hook_token: CENSOR,
    empty_secret: null,
  });
  assert.equal(input.source.password, 'pw', 'the input is not modified');
});

test('an object without secrets is returned as is, without a copy', () => {
  const line = { event_id: 'e', error: { type: 'http', message: 'HTTP 500' }, at: new Date(0) };
  assert.equal(redactKeys(line), line);
});

test('a cycle stops at the depth limit instead of overflowing the stack', () => {
  const cycle: Record<string, unknown> = { name: 'a' };
  cycle.self = cycle;
  assert.equal(redactKeys(cycle), cycle);
});

test('a serialized error loses its secret properties, and its cause adds only text', () => {
  const cause = Object.assign(new Error('inner'), { password: 'pw' });
  const err = Object.assign(new TypeError('Invalid URL', { cause }), {
    code: 'ERR_INVALID_URL',
    input: 'postgres://u:pw@h/db',
    secret: 's',
  });
  const serialized = redactError(err);
  assert.equal(serialized.type, 'TypeError');
  assert.equal(serialized.code, 'ERR_INVALID_URL');
  assert.equal(serialized.secret, CENSOR);
  assert.match(String(serialized.stack), /Invalid URL[\s\S]*caused by: Error: inner/);
  assert.ok(!JSON.stringify(serialized).includes('"pw"'), "the cause's password property");
  // The text is left to the line-level redaction, which sees every string of the line.
  assert.equal(serialized.input, 'postgres://u:pw@h/db');
});

test('header secrets: whole values and their long words, longest first, short values left out', () => {
  assert.deepEqual(headerSecrets({ Authorization: 'Bearer abcdefgh1234', 'X-Flag': '1', 'X-Key': 'k3y!' }), [
    'Bearer abcdefgh1234',
    'abcdefgh1234',
    'k3y!',
  ]);
});

test('a log excerpt is one line, cut to length, with secrets masked', () => {
  const secrets = headerSecrets({ Authorization: 'Bearer abcdefgh1234' });
  const body = `denied\n\ttoken abcdefgh1234 is not valid for postgres://u:pw@h/db\r\n${'x'.repeat(500)}`;
  const excerpt = logExcerpt(body, 80, secrets);
  assert.equal(excerpt.length, 80);
  assert.ok(excerpt.endsWith('…'));
  assert.ok(excerpt.startsWith('denied token *** is not valid for postgres://u:***@h/db x'), excerpt);
  assert.equal(logExcerpt('  short\n', 80), 'short');
});

test('a signing secret is masked wherever it appears in text', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw+/9=';
  assert.equal(redactText(`secret: ${secret}`), 'secret: ***');
  assert.equal(redactText(`{"msg":"bad value ${secret}","n":1}`), '{"msg":"bad value ***","n":1}');
  assert.equal(redactText(`["${secret}","${secret}"]`), '["***","***"]');
});

test('a bearer token is masked after its scheme; prose about tokens is left alone', () => {
  assert.equal(redactText('authorization: Bearer eyJhbGciOi.J9.x_y-z'), 'authorization: Bearer ***');
  assert.equal(redactText('{"Authorization":"bearer abcdefgh1234=="}'), '{"Authorization":"bearer ***"}');
  assert.equal(redactText('missing bearer token'), 'missing bearer token');
});

test('maskSecrets masks header values and password-like text but keeps the layout', () => {
  const secrets = headerSecrets({ Authorization: 'Token abcdefgh1234', 'X-Api': 'k3y-value' });
  assert.equal(
    maskSecrets('{"headers":{"authorization":"Token abcdefgh1234",\n"x-api":"k3y-value"}}', secrets),
    '{"headers":{"authorization":"***",\n"x-api":"***"}}',
  );
  assert.equal(maskSecrets('echo abcdefgh1234 password=pw', secrets), 'echo *** password=***');
});
