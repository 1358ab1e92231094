import { integer, percent, points, seconds, type Table } from './report-table.js';
import type { RunResult, SuiteOptions } from './suite.js';

/** The counting consumer's TPS loss plus this many points is the most walhook's may be. */
const LOSS_OVER_COUNTING = 0.05;

const SETUPS = [
  ['no capture', 'none'],
  ['slot read by the counting consumer', 'slot'],
  ['walhook streaming', 'walhook'],
  ['event-log trigger', 'trigger'],
  ['session capture trigger (hasura.user set)', 'session'],
] as const;

/**
 * What each capture setup costs the source: bulk insert time and single-row TPS, each against no
 * capture, and walhook's TPS loss against the counting consumer's and the event-log trigger's.
 */
export function sourceRows(table: Table, results: RunResult[], options: SuiteOptions): void {
  for (const [label, setup] of SETUPS) {
    table.add(
      `bulk insert of ${integer(options.bulkRows)} rows, ${label}`,
      results.map((r) => r.source[setup].bulkSec),
      seconds,
    );
  }
  for (const [label, setup] of SETUPS.slice(1)) {
    table.add(
      `bulk insert time vs no capture, ${label}`,
      results.map((r) => r.source[setup].bulkSec / r.source.none.bulkSec - 1),
      percent,
    );
  }
  const load = `${options.loadClients} clients of single-row inserts`;
  for (const [label, setup] of SETUPS) {
    table.add(
      `${load}, ${label} (TPS)`,
      results.map((r) => r.source[setup].tps),
      integer,
    );
  }
  for (const [label, setup] of SETUPS.slice(1)) {
    table.add(
      `TPS vs no capture, ${label}`,
      results.map((r) => r.source[setup].tps / r.source.none.tps - 1),
      percent,
    );
  }
  // Losses as fractions of the no-capture TPS of the same run, so the two compared share it.
  const loss = (r: RunResult, setup: 'slot' | 'walhook' | 'trigger') =>
    1 - r.source[setup].tps / r.source.none.tps;
  table.add(
    'TPS loss, walhook streaming minus counting consumer',
    results.map((r) => loss(r, 'walhook') - loss(r, 'slot')),
    points,
    { text: `≤ ${points(LOSS_OVER_COUNTING)}`, pass: (m) => m <= LOSS_OVER_COUNTING },
  );
  table.add(
    'TPS loss, walhook streaming minus event-log trigger',
    results.map((r) => loss(r, 'walhook') - loss(r, 'trigger')),
    points,
    { text: '< 0 points', pass: (m) => m < 0 },
  );
}
