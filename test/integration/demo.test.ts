import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/walhook.js';

test('walhook demo exits 0 and shows deliveries, including a change made while walhook was stopped', async () => {
  const result = await runCli(['demo'], {}, 180_000);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /← orders_all +INSERT/);
  assert.match(result.stdout, /← orders_paid +UPDATE/);
  assert.match(result.stdout, /← orders_all +DELETE/);
  assert.match(result.stdout, /restarting walhook[\s\S]*← orders_all +INSERT .*margaret/);
  assert.match(result.stdout, /✓ \d+ deliveries/);
});
