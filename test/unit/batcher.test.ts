import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Batcher, laneOf } from '../../src/sinks/batcher.js';

test('laneOf keeps a key on one lane and spreads keys evenly', () => {
  const counts = new Array<number>(16).fill(0);
  for (let i = 0; i < 16_000; i++) {
    const lane = Number(laneOf(`{"id":${i}}`, 16));
    assert.equal(laneOf(`{"id":${i}}`, 16), String(lane));
    counts[lane] = (counts[lane] ?? 0) + 1;
  }
  for (const count of counts) assert.ok(count > 800 && count < 1200, `uneven lanes: ${counts}`);
  assert.equal(laneOf('anything', 1), '0');
});

test('a batch leaves when full, per lane, and the rest after the wait', async () => {
  const emitted: [string, number[]][] = [];
  const batcher = new Batcher<number>({ maxEvents: 3, maxWaitMs: 10 }, (lane, items) =>
    emitted.push([lane, items]),
  );
  for (let i = 0; i < 7; i++) batcher.add(i % 2 === 0 ? 'even' : 'odd', i);
  assert.deepEqual(emitted, [
    ['even', [0, 2, 4]],
    ['odd', [1, 3, 5]],
  ]);
  await sleep(30);
  assert.deepEqual(emitted, [
    ['even', [0, 2, 4]],
    ['odd', [1, 3, 5]],
    ['even', [6]],
  ]);
});

test('clear drops open batches and their timers', async () => {
  const emitted: number[][] = [];
  const batcher = new Batcher<number>({ maxEvents: 5, maxWaitMs: 5 }, (_lane, items) => emitted.push(items));
  batcher.add('', 1);
  batcher.clear();
  await sleep(20);
  assert.deepEqual(emitted, []);
});
