import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWalhookError } from '../../src/core/errors.js';
import { sinkTarget } from '../../src/sinks/registry.js';
import { targetHeaders } from '../../src/sinks/webhook/client.js';
import type { WebhookTarget } from '../../src/sinks/webhook/target.js';
import { parseConfig } from '../helpers/config.js';

const FILE = 'walhook.yaml';
const SOURCE = 'source:\n  connection: postgres://walhook@localhost/app\n';
const NATS = 'sink: { type: nats, servers: ["nats://127.0.0.1:4222"] }';

/** A file with one trigger on `orders` made of `lines`, and `top` lines at the top level. */
function withTrigger(lines: string[], top = ''): string {
  const trigger = lines.map((line) => `    ${line}\n`).join('');
  return `${SOURCE}${top}triggers:\n  - name: orders\n    table: orders\n    operations: [update]\n${trigger}`;
}

function invalid(text: string, message: string): void {
  assert.throws(
    () => parseConfig(text, FILE, {}),
    (err: unknown) => {
      assert.ok(isWalhookError(err, 'WALHOOK_ERR_CONFIG_INVALID'), String(err));
      assert.equal(err.message, `${FILE}: ${message}`);
      return true;
    },
  );
}

test('Hasura semantics are off by default: throttling Retry-After, every update, replicated changes', () => {
  const config = parseConfig(withTrigger(['webhook: http://h/x', 'retry: { num_retries: 2 }']), FILE, {});
  const [trigger] = config.triggers;
  assert.equal(trigger?.skip_unchanged_updates, false);
  assert.equal(trigger?.trigger_on_replication, true);
  assert.equal(trigger?.retry?.retry_after, 'throttling');
  assert.equal((sinkTarget(trigger as never) as WebhookTarget).retry.retryAfter, 'throttling');
  assert.match(config.user_agent, /^walhook\/\d/);
});

test('the keys the Hasura import writes are accepted and reach the target', () => {
  const config = parseConfig(
    withTrigger(
      [
        'webhook: http://h/x',
        'user_agent: hasura-graphql-engine/v2.48.1',
        'skip_unchanged_updates: true',
        'trigger_on_replication: false',
        'retry: { num_retries: 3, interval_sec: 10, backoff: fixed, retry_after: any_status }',
      ],
      'user_agent: ops-hooks/1\n',
    ),
    FILE,
    {},
  );
  const trigger = config.triggers[0] as (typeof config.triggers)[number];
  assert.equal(trigger.skip_unchanged_updates, true);
  assert.equal(trigger.trigger_on_replication, false);
  assert.equal(config.user_agent, 'ops-hooks/1');
  const target = sinkTarget(trigger) as WebhookTarget;
  assert.equal(target.userAgent, 'hasura-graphql-engine/v2.48.1');
  assert.equal(target.retry.retryAfter, 'any_status');
  assert.equal(target.retry.backoff, 'fixed');
});

test('a webhook sink takes user_agent in the sink; a trigger without one has none of its own', () => {
  const inSink = parseConfig(
    withTrigger(['sink: { type: webhook, url: http://h/x, user_agent: a/1 }']),
    FILE,
    {},
  );
  assert.equal((sinkTarget(inSink.triggers[0] as never) as WebhookTarget).userAgent, 'a/1');
  const plain = parseConfig(withTrigger(['webhook: http://h/x']), FILE, {});
  assert.equal((sinkTarget(plain.triggers[0] as never) as WebhookTarget).userAgent, undefined);
});

test('bad values of the new keys are one-line errors naming the key', () => {
  invalid(
    withTrigger(['webhook: http://h/x', 'retry: { retry_after: always }']),
    'triggers[0].retry.retry_after: expected one of throttling, any_status',
  );
  invalid(
    withTrigger(['webhook: http://h/x', 'skip_unchanged_updates: "yes"']),
    'triggers[0].skip_unchanged_updates: expected a boolean, got a string',
  );
  invalid(
    withTrigger(['webhook: http://h/x', 'trigger_on_replication: 0']),
    'triggers[0].trigger_on_replication: expected a boolean, got a number',
  );
  invalid(
    withTrigger(['webhook: http://h/x', 'user_agent: ""']),
    'triggers[0].user_agent: expected a User-Agent value such as myapp/1.0',
  );
  invalid(
    withTrigger(['webhook: http://h/x'], 'user_agent: "a\\nb"\n'),
    'user_agent: header values cannot contain line breaks',
  );
});

test('user_agent belongs in a webhook sink, and a NATS sink refuses it and retry_after', () => {
  invalid(
    withTrigger(['sink: { type: webhook, url: http://h/x }', 'user_agent: a/1']),
    'triggers[0].user_agent: set it in the sink (sink.user_agent)',
  );
  invalid(withTrigger([NATS, 'user_agent: a/1']), 'triggers[0].user_agent: only for webhook triggers');
  invalid(
    withTrigger([NATS, 'retry: { retry_after: any_status }']),
    'triggers[0].retry.retry_after: not for a nats sink: a broker sends no Retry-After header',
  );
  // The trigger keys mean the same for every sink.
  const nats = parseConfig(
    withTrigger([NATS, 'skip_unchanged_updates: true', 'trigger_on_replication: false']),
    FILE,
    {},
  );
  assert.equal(nats.triggers[0]?.skip_unchanged_updates, true);
  assert.equal(nats.triggers[0]?.trigger_on_replication, false);
});

test("the User-Agent sent: a User-Agent header, else the trigger's user_agent, else the global one", () => {
  const target = (lines: string[]) =>
    sinkTarget(parseConfig(withTrigger(lines), FILE, {}).triggers[0] as never) as WebhookTarget;
  const sent = (lines: string[]) => targetHeaders(target(lines), 'global/1')['user-agent'];
  assert.equal(sent(['webhook: http://h/x']), 'global/1');
  assert.equal(sent(['webhook: http://h/x', 'user_agent: own/2']), 'own/2');
  assert.equal(
    sent(['webhook: http://h/x', 'user_agent: own/2', 'headers: { USER-AGENT: header/3 }']),
    'header/3',
  );
  const headers = targetHeaders(target(['webhook: http://h/x', 'headers: { User-Agent: header/3 }']), 'g/1');
  assert.deepEqual(
    Object.keys(headers).sort(),
    ['content-type', 'user-agent'],
    'one User-Agent, lower-cased',
  );
});
