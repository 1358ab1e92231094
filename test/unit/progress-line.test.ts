import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BackfillReport } from '../../src/backfill/backfills.js';
import { progressLine } from '../../src/commands/progress-line.js';

const running: BackfillReport = {
  trigger: 'orders',
  state: 'running',
  op: 'MANUAL',
  rows_read: 45_000,
  rows_sent: 44_990,
  total_estimate: 100_000,
  remaining: 55_000,
  rate_per_sec: 1234.4,
  eta_sec: 45,
  started_at: '2026-11-28T19:00:00.000Z',
  updated_at: '2026-11-28T19:00:36.000Z',
  finished_at: null,
  error: null,
};

test('a running backfill: bar, rows of the estimate, rate and ETA', () => {
  assert.equal(
    progressLine(running),
    '[##############----------------] 45,000 / ~100,000 rows  1,234 rows/s  ETA 45 s  44990 sent  running',
  );
  assert.match(progressLine({ ...running, eta_sec: 5400 }), /ETA 90 min/);
  assert.match(progressLine({ ...running, eta_sec: 9000 }), /ETA 2\.5 h/);
});

test('without an estimate the bar stays empty; done fills it and drops the ETA', () => {
  assert.match(progressLine({ ...running, total_estimate: null }), /^\[-{30}\] 45,000 rows {2}/);
  const done = progressLine({ ...running, state: 'done', rows_read: 100_212, eta_sec: null });
  assert.equal(done, `[${'#'.repeat(30)}] 100,212 / ~100,212 rows  1,234 rows/s  44990 sent  done`);
});
