import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { parseConfig } from '../helpers/config.js';

// deploy/compose.redis.yaml goes on top of deploy/compose.yaml (`-f compose.yaml -f compose.redis.yaml`):
// it must fit the services it extends. test/unit/deploy-files.test.ts checks compose.yaml itself.

const ROOT = resolve(import.meta.dirname, '../..');
const DEPLOY = join(ROOT, 'deploy');
// biome-ignore lint/suspicious/noExplicitAny: compose files are arbitrary YAML, checked key by key
const read = (name: string): any => parse(readFileSync(join(DEPLOY, name), 'utf8'));

test('compose.redis.yaml: a Redis service walhook waits for, and a config whose redis sink reaches it', () => {
  const base = read('compose.yaml').services;
  const { redis, walhook } = read('compose.redis.yaml').services;
  assert.deepEqual(redis.command.slice(0, 3), ['redis-server', '--appendonly', 'yes']);
  assert.equal(walhook.depends_on.redis.condition, 'service_healthy');

  // The overlay's config replaces the base one at the same path, and exists.
  const [source, target] = (walhook.volumes[0] as string).split(':');
  assert.ok(
    base.walhook.volumes.some((v: string) => v.split(':')[1] === target),
    'the same mount path',
  );
  assert.ok(existsSync(resolve(DEPLOY, source as string)));

  const config = parseConfig(
    readFileSync(resolve(DEPLOY, source as string), 'utf8'),
    'walhook.redis.yaml',
    base.walhook.environment,
  );
  const sinks = config.triggers.map((trigger) => trigger.sink);
  const redisSink = sinks.find((sink) => sink.type === 'redis');
  assert.ok(redisSink && 'url' in redisSink && redisSink.url !== undefined);
  assert.equal(new URL(redisSink.url).hostname, 'redis', 'the compose service');
  for (const sink of sinks) {
    if (sink.type === 'webhook') assert.equal(new URL(sink.url).hostname, 'receiver');
  }
});
