import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { HistogramFamily } from '../../src/core/metrics/histogram-family.js';
import { seededRandom } from '../helpers/random.js';

test("exposes exactly what prom-client's histogram exposes for the same observations", async () => {
  const bounds = [0.01, 0.1, 1, 10];
  const ours = new Registry();
  const theirs = new Registry();
  const family = new HistogramFamily(ours, 'x_seconds', 'Help text.', ['trigger'], bounds);
  const reference = new Histogram({
    name: 'x_seconds',
    help: 'Help text.',
    labelNames: ['trigger'],
    buckets: bounds,
    registers: [theirs],
  });
  const random = seededRandom(11);
  for (const trigger of ['a', 'b "quoted"']) {
    const child = family.labels(trigger);
    const referenceChild = reference.labels(trigger);
    for (let i = 0; i < 500; i++) {
      // Bounds themselves included: a value equal to a bound falls in that bound's bucket.
      const value = i % 10 === 0 ? (bounds[i % 4] as number) : random() ** 4 * 30;
      child.observe(value);
      referenceChild.observe(value);
    }
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
});
