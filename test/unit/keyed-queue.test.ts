import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedQueue, type Run } from '../../src/sinks/keyed-queue.js';
import { seededRandom } from '../helpers/random.js';

interface Item {
  key: string;
  seq: number;
}

const random = seededRandom;

/** A queue whose items finish only when the test says so, recording what ran and how much at once. */
function harness(concurrency?: number) {
  const started: Item[] = [];
  const running: { item: Item; run: Run }[] = [];
  const runningKeys = new Set<string>();
  let maxRunning = 0;
  const queue = new KeyedQueue<Item>(
    (item, run) => {
      assert.ok(!runningKeys.has(item.key), `two items of key ${item.key} ran at once`);
      runningKeys.add(item.key);
      started.push(item);
      running.push({ item, run });
      maxRunning = Math.max(maxRunning, running.length);
    },
    { concurrency },
  );
  const finish = (index: number): void => {
    const [entry] = running.splice(index, 1);
    assert.ok(entry);
    runningKeys.delete(entry.item.key);
    entry.run.done();
  };
  return {
    queue,
    started,
    running,
    finish,
    get maxRunning() {
      return maxRunning;
    },
  };
}

function pushAll(queue: KeyedQueue<Item>, count: number, keys: number, rand: () => number): Item[] {
  const items: Item[] = [];
  for (let seq = 0; seq < count; seq++) {
    const item = { key: `k${Math.floor(rand() * keys)}`, seq };
    items.push(item);
    queue.push(item.key, item);
  }
  return items;
}

test('items of one key start in submission order when completions arrive in random order', () => {
  const rand = random(42);
  const h = harness(8);
  const items = pushAll(h.queue, 500, 10, rand);
  while (h.running.length > 0) h.finish(Math.floor(rand() * h.running.length));

  assert.equal(h.started.length, items.length);
  const byKey = new Map<string, number[]>();
  for (const item of h.started) byKey.set(item.key, [...(byKey.get(item.key) ?? []), item.seq]);
  for (const [key, seqs] of byKey) {
    assert.deepEqual(
      seqs,
      items.filter((item) => item.key === key).map((item) => item.seq),
      `order of ${key}`,
    );
  }
});

test('different keys run in parallel, the same key does not', () => {
  const h = harness();
  for (const key of ['a', 'b', 'c', 'a', 'b']) h.queue.push(key, { key, seq: 0 });
  assert.deepEqual(
    h.started.map((item) => item.key),
    ['a', 'b', 'c'],
  );
  assert.equal(h.queue.running, 3);
  assert.equal(h.queue.pending, 2);
});

test('the concurrency cap is reached and never exceeded', () => {
  const rand = random(7);
  const h = harness(8);
  pushAll(h.queue, 300, 50, rand);
  assert.equal(h.queue.running, 8);
  while (h.running.length > 0) {
    assert.ok(h.queue.running <= 8);
    h.finish(Math.floor(rand() * h.running.length));
  }
  assert.equal(h.maxRunning, 8);
  assert.equal(h.started.length, 300);
});

test('a key that finishes waits behind keys already waiting for a slot', () => {
  const h = harness(1);
  h.queue.push('a', { key: 'a', seq: 0 });
  h.queue.push('a', { key: 'a', seq: 1 });
  h.queue.push('b', { key: 'b', seq: 2 });
  h.queue.push('a', { key: 'a', seq: 3 });
  while (h.running.length > 0) h.finish(0);
  assert.deepEqual(
    h.started.map((item) => item.seq),
    [0, 2, 1, 3],
  );
});

test('no empty per-key state is left behind', () => {
  const rand = random(3);
  const h = harness(4);
  pushAll(h.queue, 200, 1000, rand);
  assert.ok(h.queue.keyCount > 4);
  while (h.running.length > 0) h.finish(Math.floor(rand() * h.running.length));
  assert.equal(h.queue.keyCount, 0);
  assert.equal(h.queue.running, 0);
  assert.equal(h.queue.pending, 0);
});

test('items that finish synchronously inside start still run in order and free their slots', () => {
  const seen: number[] = [];
  const queue = new KeyedQueue<number>(
    (seq, run) => {
      seen.push(seq);
      run.done();
    },
    { concurrency: 2 },
  );
  for (let seq = 0; seq < 5000; seq++) queue.push(`k${seq % 3}`, seq);
  assert.equal(seen.length, 5000);
  assert.deepEqual(
    seen,
    Array.from({ length: 5000 }, (_, seq) => seq),
  );
  assert.equal(queue.keyCount, 0);
  assert.equal(queue.running, 0);
});

test('a second done call for the same item changes nothing', () => {
  const h = harness(1);
  h.queue.push('a', { key: 'a', seq: 0 });
  h.queue.push('b', { key: 'b', seq: 1 });
  h.queue.push('c', { key: 'c', seq: 2 });
  const [first] = h.running;
  h.finish(0);
  first?.run.done();
  assert.equal(h.queue.running, 1);
  assert.equal(h.started.length, 2);
});

test('clear drops queued items and ignores completions of items started before it', () => {
  const h = harness(2);
  for (let seq = 0; seq < 6; seq++) h.queue.push(`k${seq % 3}`, { key: `k${seq % 3}`, seq });
  h.queue.clear();
  assert.equal(h.queue.keyCount, 0);
  assert.equal(h.queue.pending, 0);
  while (h.running.length > 0) h.finish(0);
  assert.equal(h.started.length, 2);
  assert.equal(h.queue.running, 0);
});

test('a paused item frees its slot for other keys but keeps its own key blocked', () => {
  const h = harness(1);
  h.queue.push('a', { key: 'a', seq: 0 });
  h.queue.push('a', { key: 'a', seq: 1 });
  h.queue.push('b', { key: 'b', seq: 2 });
  h.queue.push('c', { key: 'c', seq: 3 });
  const [a] = h.running;
  assert.ok(a);
  a.run.pause();
  assert.deepEqual(
    h.started.map((item) => item.seq),
    [0, 2],
  );
  assert.equal(h.queue.running, 1);
  h.finish(1);
  assert.deepEqual(
    h.started.map((item) => item.seq),
    [0, 2, 3],
    'the second item of a paused key started',
  );
});

test('a resumed item takes the next free slot ahead of items not yet started', () => {
  const h = harness(1);
  h.queue.push('a', { key: 'a', seq: 0 });
  h.queue.push('b', { key: 'b', seq: 1 });
  h.queue.push('c', { key: 'c', seq: 2 });
  const [a] = h.running;
  assert.ok(a);
  a.run.pause();
  let resumed = 0;
  a.run.resume(() => resumed++);
  a.run.resume(() => resumed++);
  assert.equal(resumed, 0, 'resumed while every slot was taken');
  h.finish(1);
  assert.equal(resumed, 1);
  assert.equal(h.queue.running, 1);
  assert.deepEqual(
    h.started.map((item) => item.seq),
    [0, 1],
  );
  h.finish(0);
  assert.deepEqual(
    h.started.map((item) => item.seq),
    [0, 1, 2],
  );
  assert.equal(h.queue.running, 1);
});

test('resume is immediate with a free slot; done while waiting for one never takes or frees a slot twice', () => {
  const h = harness(2);
  h.queue.push('a', { key: 'a', seq: 0 });
  const [a] = h.running;
  assert.ok(a);
  a.run.pause();
  let resumed = false;
  a.run.resume(() => {
    resumed = true;
  });
  assert.equal(resumed, true);
  assert.equal(h.queue.running, 1);

  h.queue.push('b', { key: 'b', seq: 1 });
  h.queue.push('c', { key: 'c', seq: 2 });
  const b = h.running[1];
  assert.ok(b);
  b.run.pause();
  a.run.pause();
  // c took the slot b gave back; a's pause freed the other.
  assert.equal(h.queue.running, 1);
  h.queue.push('d', { key: 'd', seq: 3 });
  assert.equal(h.queue.running, 2);
  let bResumed = false;
  b.run.resume(() => {
    bResumed = true;
  });
  b.run.done();
  h.finish(h.running.findIndex((entry) => entry.item.key === 'c'));
  assert.equal(bResumed, false, 'a finished item was given a slot');
  assert.equal(h.queue.running, 1);
  a.run.done();
  assert.equal(h.queue.running, 1, 'done of a paused item freed a slot it did not hold');
});

test('concurrency must be a positive integer', () => {
  assert.throws(() => new KeyedQueue(() => {}, { concurrency: 0 }), RangeError);
  assert.throws(() => new KeyedQueue(() => {}, { concurrency: 1.5 }), RangeError);
});
