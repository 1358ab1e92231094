import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import type { DeliveryEvent } from '../../src/core/delivery-event.js';
import type { AttemptResult, Delivery, Request } from '../../src/sinks/plugin.js';
import { webhookPlugin } from '../../src/sinks/webhook/plugin.js';
import type { WebhookTarget } from '../../src/sinks/webhook/target.js';
import { renderTransform, TransformError } from '../../src/sinks/webhook/transform.js';
import { requestTransformSchema } from '../../src/sinks/webhook/transform-settings.js';

const BASE_URL = 'http://127.0.0.1:9/hooks';
const HEADERS = {
  'user-agent': 'walhook/1',
  authorization: 'Bearer x',
  'x-legacy': 'old',
  'content-type': 'application/json',
};
// A bigint beyond 2^53: a double would make it ...992.
const PAYLOAD =
  '{"id":"0b6c5ed2-7d0a-5a3c-9b1f-0c3c3c3c3c3c","event":{"session_variables":{"X-Hasura-User-Id":"42"},"op":"INSERT","data":{"old":null,"new":{"id":9007199254740993,"email":"zoë@example.com","price":1.10}}},"delivery_info":{"current_retry":0,"max_retries":0},"trigger":{"name":"users"}}';

const transform = (raw: unknown) => requestTransformSchema.parse(raw);
const render = (raw: unknown, baseUrl = BASE_URL) =>
  renderTransform(transform(raw), PAYLOAD, baseUrl, HEADERS);

test('method, URL and query params are rendered from the event; a null pair is left out', () => {
  const request = render({
    version: 2,
    method: 'patch',
    url: '{{$base_url}}/users/{{$body.event.data.new.id}}',
    query_params: {
      'op-{{$body.event.op}}': '{{$body.event.data.new.email}}',
      gone: 'null',
    },
  });
  assert.equal(request.method, 'PATCH');
  assert.equal(
    request.url,
    'http://127.0.0.1:9/hooks/users/9007199254740993?op-INSERT=zo%C3%AB%40example.com',
  );
  // `$query_params` is the base URL's query; `query_params` replace it.
  assert.equal(
    render({ query_params: { tenant: '{{$query_params.tenant}}', n: '2' } }, `${BASE_URL}?tenant=acme&n=1`)
      .url,
    'http://127.0.0.1:9/hooks?tenant=acme&n=2',
  );
  // No body transform: the payload goes as walhook renders it, byte for byte.
  assert.equal(request.body, PAYLOAD);
  assert.equal(
    render({ version: 2, query_params: 'a={{$body.event.op}}&b=1' }).url,
    'http://127.0.0.1:9/hooks?a=INSERT&b=1',
  );
  assert.equal(render({ url: 'https://other.example.com/x' }).url, 'https://other.example.com/x');
  assert.equal(render({}).method, 'POST');
});

test('a body template keeps every digit, and sees the session variables', () => {
  const request = render({
    version: 2,
    body: {
      action: 'transform',
      template:
        '{"user": {{$body.event.data.new.id}}, "price": {{$body.event.data.new.price}}, "by": {{getSessionVariable("x-hasura-user-id")}}, "raw": {{$session_variables}}}',
    },
  });
  // Compact, keys sorted, as Hasura (aeson) writes JSON.
  assert.equal(
    request.body,
    '{"by":"42","price":1.1,"raw":{"X-Hasura-User-Id":"42"},"user":9007199254740993}',
  );
  assert.equal(request.headers['content-type'], 'application/json');
  // Version 1: the body is the template itself.
  assert.equal(render({ body: '{{$body.event.data.new.id}}' }).body, '9007199254740993');
});

test('form bodies, a removed body and the headers that follow them', () => {
  const form = render({
    version: 2,
    body: {
      action: 'x_www_form_urlencoded',
      form_template: { id: '{{$body.event.data.new.id}}', note: "it's a (test)*" },
    },
  });
  assert.equal(form.body, 'id=9007199254740993&note=it%27s%20a%20%28test%29%2A');
  assert.equal(form.headers['content-type'], 'application/x-www-form-urlencoded');
  const v1 = render({
    body: '{"id": {{$body.event.data.new.id}}, "new": {{$body.event.data.new}}}',
    content_type: 'application/x-www-form-urlencoded',
  });
  assert.equal(
    v1.body,
    'id=9007199254740993&new=%7B%22email%22%3A%22zo%C3%AB%40example.com%22%2C%22id%22%3A9007199254740993%2C%22price%22%3A1.1%7D',
  );
  const removed = render({ version: 2, method: 'DELETE', body: { action: 'remove' } });
  assert.equal(removed.body, null);
  assert.equal(removed.headers['content-type'], undefined);
  const headers = render({
    request_headers: {
      remove_headers: ['X-Legacy', 'Authorization'],
      add_headers: { 'X-User': '{{$body.event.data.new.email}}', 'Content-Type': 'text/plain' },
    },
  }).headers;
  assert.deepEqual(headers, {
    'user-agent': 'walhook/1',
    'content-type': 'text/plain',
    'x-user': 'zoë@example.com',
  });
});

test('a template failing on an event is a TransformError naming the key, line and column', () => {
  const failing = (raw: unknown, message: string) =>
    assert.throws(
      () => render(raw),
      (err: unknown) => err instanceof TransformError && err.message === message,
    );
  failing(
    { body: '{"old": {{$body.event.data.old.id}}}' },
    'request_transform.body: line 1 column 11: $body.event.data.old: expected an object, got null',
  );
  failing({ url: '{{$body.event.op}}' }, 'request_transform.url: "INSERT" is not an http or https URL');
  failing(
    { request_headers: { add_headers: { 'X-A': 'a{{$body.nope}}' } } },
    'request_transform.request_headers.add_headers.x-a: line 1 column 4: $body.nope: no such key (?. looks up a key that may be missing)',
  );
  failing(
    { body: '"a\\nb"', request_headers: { add_headers: { 'X-A': '{{$body.event.data.new.email}}\n' } } },
    'request_transform.request_headers.add_headers.x-a: the value has a line break',
  );
  failing(
    { body: '[1]', content_type: 'application/x-www-form-urlencoded' },
    'request_transform.body: a form body needs the template to give an object',
  );
});

test('a payload too deep to read fails its event, it does not crash the sink', () => {
  const deep = `{"event":{"data":{"new":{"j":${'['.repeat(200)}${']'.repeat(200)}}}}}`;
  assert.throws(
    () => renderTransform(transform({ method: 'PUT' }), deep, BASE_URL, HEADERS),
    (err: unknown) => err instanceof TransformError && err.message.startsWith('request_transform.$body: '),
  );
});

const secret = `whsec_${randomBytes(32).toString('base64')}`;

function target(raw: unknown, secrets: string[] = []): WebhookTarget {
  return {
    type: 'webhook',
    trigger: 'users',
    url: BASE_URL,
    headers: {},
    retry: {
      numRetries: 3,
      intervalSec: 1,
      timeoutSec: 5,
      backoff: 'fixed',
      maxIntervalSec: 1,
      finalStatuses: [],
      retryAfter: 'throttling',
    },
    ordering: 'row',
    concurrency: 1,
    batch: { maxEvents: 1, maxWaitMs: 0 },
    secrets,
    tls: null,
    transform: transform(raw),
  };
}

function delivery(to: WebhookTarget): Delivery<WebhookTarget> {
  const event = {
    id: '0b6c5ed2-7d0a-5a3c-9b1f-0c3c3c3c3c3c',
    target: to,
    body: () => PAYLOAD,
  } as unknown as DeliveryEvent<WebhookTarget>;
  return { event };
}

test('the webhook transport signs the transformed bytes and dead-letters the payload', async () => {
  const transport = webhookPlugin.open({
    logger: pino({ level: 'silent' }),
    userAgent: 'walhook/1',
    blocked: () => {},
  });
  try {
    const to = target(
      { version: 2, body: { action: 'transform', template: '{"id": {{$body.event.data.new.id}}}' } },
      [secret],
    );
    const request = transport.request(
      [delivery(to)],
      0,
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    ) as Request & {
      letterBody?: string;
    };
    assert.equal(request.body, '{"id":9007199254740993}');
    assert.equal(request.letterBody, PAYLOAD);
    const headers = request.headers as Record<string, string>;
    assert.equal(headers.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    assert.ok(new Webhook(secret).verify(request.body, headers));

    // Evaluation errors are final and send nothing (the target's port would refuse a connection).
    const failing = target({ body: '{{$body.event.data.old.id}}' });
    const result: AttemptResult = await transport.send(transport.request([delivery(failing)], 0, 'tp'));
    assert.equal(result.final, true);
    assert.equal(result.status, null);
    assert.deepEqual(result.error, {
      type: 'transform',
      message: 'request_transform.body: line 1 column 3: $body.event.data.old: expected an object, got null',
    });
  } finally {
    await transport.close();
  }
});
