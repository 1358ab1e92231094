import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sinkTarget } from '../../src/sinks/registry.js';
import type { WebhookTarget } from '../../src/sinks/webhook/target.js';
import { parseConfig } from '../helpers/config.js';

const target = (webhook: string, headers = '') => {
  const t = sinkTarget(
    parseConfig(
      `source:\n  connection: postgres://x@h/db\ntriggers:\n  - name: t\n    table: t\n    operations: [insert]\n    webhook: "${webhook}"\n${headers}`,
      'f.yaml',
      {},
    ).triggers[0] as never,
  );
  assert.ok(t.type === 'webhook');
  return t as WebhookTarget;
};

test('credentials in a webhook URL become a Basic Authorization header and leave the URL', () => {
  const t = target('https://hook%40user:p%3Ass@example.com:8443/path?q=1');
  assert.equal(t.url, 'https://example.com:8443/path?q=1');
  assert.equal(t.headers.Authorization, `Basic ${Buffer.from('hook@user:p:ss').toString('base64')}`);
});

test('a configured Authorization header wins over URL credentials', () => {
  const t = target('https://u:p@example.com/', '    headers: { Authorization: "Bearer x" }\n');
  assert.equal(t.url, 'https://example.com/');
  assert.deepEqual(t.headers, { Authorization: 'Bearer x' });
});

test('a URL without credentials is kept as written', () => {
  assert.equal(target('http://127.0.0.1:3000/hooks').url, 'http://127.0.0.1:3000/hooks');
});
