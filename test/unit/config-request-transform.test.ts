import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWalhookError } from '../../src/core/errors.js';
import { sinkTarget } from '../../src/sinks/registry.js';
import type { WebhookTarget } from '../../src/sinks/webhook/target.js';
import { parseConfig } from '../helpers/config.js';

const FILE = 'walhook.yaml';

/** A file with one trigger on `orders` made of `lines`. */
function withTrigger(...lines: string[]): string {
  return `source:\n  connection: postgres://walhook@localhost/app\ntriggers:\n  - name: orders\n    table: orders\n    operations: [insert]\n${lines.map((line) => `    ${line}\n`).join('')}`;
}

const WEBHOOK = 'webhook: http://127.0.0.1:3000/orders';

function invalid(text: string, message: string): void {
  assert.throws(
    () => parseConfig(text, FILE, {}),
    (err: unknown) => {
      assert.ok(isWalhookError(err, 'WALHOOK_ERR_CONFIG_INVALID'), String(err));
      assert.equal(err.exitCode, 2);
      assert.equal(err.message, `${FILE}: ${message}`);
      return true;
    },
  );
}

function target(text: string): WebhookTarget {
  const [trigger] = parseConfig(text, FILE, {}).triggers;
  assert.ok(trigger);
  return sinkTarget(trigger) as WebhookTarget;
}

test('a transform is compiled at load, on the shorthand and in a webhook sink alike', () => {
  const transform = [
    'request_transform:',
    '  version: 2',
    '  method: put',
    '  url: "{{$base_url}}/{{$body.event.data.new.id}}"',
    '  query_params: "a={{$body.event.op}}"',
    '  request_headers: { add_headers: { X-Op: "{{$body.event.op}}" }, remove_headers: [User-Agent] }',
    '  body: { action: x_www_form_urlencoded, form_template: { id: "{{$body.event.data.new.id}}" } }',
  ];
  const shorthand = target(withTrigger(WEBHOOK, ...transform)).transform;
  assert.equal(shorthand?.method, 'PUT');
  assert.equal(shorthand?.url?.source, '{{$base_url}}/{{$body.event.data.new.id}}');
  assert.deepEqual(shorthand?.removeHeaders, ['user-agent']);
  assert.equal(shorthand?.body?.kind, 'form');
  const sink = target(
    withTrigger(
      'sink:',
      '  type: webhook',
      '  url: http://127.0.0.1:3000/orders',
      ...transform.map((l) => `  ${l}`),
    ),
  ).transform;
  assert.equal(sink?.method, 'PUT');
  assert.equal(target(withTrigger(WEBHOOK)).transform, undefined);
  // Version 1 is Hasura's default: a body template and a content type.
  const v1 = target(
    withTrigger(
      WEBHOOK,
      'request_transform: { body: "{{$body}}", content_type: application/x-www-form-urlencoded }',
    ),
  );
  assert.deepEqual(v1.transform?.body?.kind === 'json' && v1.transform.body.form, true);
});

test('unknown keys and keys of the other version are refused, one line each', () => {
  invalid(
    withTrigger(WEBHOOK, 'request_transform: { methd: PUT }'),
    'triggers[0].request_transform.methd: unknown key (expected one of version, template_engine, method, url, query_params, request_headers, body, content_type)',
  );
  invalid(
    withTrigger(WEBHOOK, 'request_transform: { version: 2, body: { action: remove, template: x } }'),
    'triggers[0].request_transform.body.template: unknown key (expected one of action)',
  );
  invalid(
    withTrigger(WEBHOOK, 'request_transform: { body: { action: remove } }'),
    'triggers[0].request_transform.body: version 1 takes body as a template; {action: …} needs version: 2',
  );
  invalid(
    withTrigger(WEBHOOK, 'request_transform: { version: 2, body: "{{$body}}" }'),
    'triggers[0].request_transform.body: version 2 takes body as {action: transform, template: …}; a bare template is version 1',
  );
  invalid(
    withTrigger(WEBHOOK, 'request_transform: { query_params: "a=1" }'),
    'triggers[0].request_transform.query_params: version 1 takes query_params as a mapping; one template needs version: 2',
  );
  invalid(
    withTrigger(WEBHOOK, 'request_transform: { method: TRACE }'),
    'triggers[0].request_transform.method: expected one of GET, POST, PUT, PATCH, DELETE',
  );
});

test('a template that is not Kriti names the trigger, the key, the line and the column', () => {
  invalid(
    withTrigger(
      WEBHOOK,
      'request_transform:',
      '  version: 2',
      '  body:',
      '    action: transform',
      '    template: |',
      '      {"id": 1,',
      '       "x": {{ $body. }}}',
    ),
    "triggers[0].request_transform.body.template: trigger orders: line 2 column 17: unexpected '}}' (expected a key name after '.')",
  );
  invalid(
    withTrigger(WEBHOOK, 'request_transform: { url: "{{$base_url}}/{{ if }}" }'),
    "triggers[0].request_transform.url: trigger orders: line 1 column 18: unexpected 'if' (expected a value)",
  );
  invalid(
    withTrigger(
      WEBHOOK,
      'request_transform: { request_headers: { add_headers: { X-A: "{{ $body.x y }}" } } }',
    ),
    "triggers[0].request_transform.request_headers.add_headers.X-A: trigger orders: line 1 column 12: unexpected 'y' (expected '}}' to close the '{{' at line 1 column 1)",
  );
});

test('a transform is refused with batches and for other sinks', () => {
  invalid(
    withTrigger(WEBHOOK, 'batch: { max_events: 10 }', 'request_transform: { method: PUT }'),
    'triggers[0].request_transform: not with batch.max_events above 1: a transform renders the request of one event, and a batch is one POST of many',
  );
  invalid(
    withTrigger(
      'sink: { type: webhook, url: "http://h/x", batch: { max_events: 10 }, request_transform: { method: PUT } }',
    ),
    'triggers[0].sink.request_transform: not with batch.max_events above 1: a transform renders the request of one event, and a batch is one POST of many',
  );
  // One event per POST is no batch.
  assert.ok(
    target(withTrigger(WEBHOOK, 'batch: { max_events: 1 }', 'request_transform: { method: PUT }')).transform,
  );
  invalid(
    withTrigger(
      'sink: { type: nats, servers: ["nats://127.0.0.1:4222"] }',
      'request_transform: { method: PUT }',
    ),
    'triggers[0].request_transform: only for webhook triggers',
  );
  invalid(
    withTrigger('sink: { type: webhook, url: "http://h/x" }', 'request_transform: { method: PUT }'),
    'triggers[0].request_transform: set it in the sink (sink.request_transform)',
  );
});
