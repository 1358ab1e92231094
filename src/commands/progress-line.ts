import type { BackfillReport } from '../backfill/backfills.js';

const BAR_WIDTH = 30;

/** `[#####-----]  45,000 / ~100,000 rows  1,234 rows/s  ETA 44 s`. */
export function progressLine(report: BackfillReport): string {
  const done = report.rows_read;
  const total = report.state === 'done' ? done : report.total_estimate;
  const ratio = total ? Math.min(1, done / total) : report.state === 'done' ? 1 : 0;
  const filled = Math.round(ratio * BAR_WIDTH);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
  const count = total === null ? `${fmt(done)} rows` : `${fmt(done)} / ~${fmt(total)} rows`;
  const eta =
    report.eta_sec === null || report.state !== 'running' ? '' : `  ETA ${duration(report.eta_sec)}`;
  return `${bar} ${count}  ${fmt(Math.round(report.rate_per_sec))} rows/s${eta}  ${report.rows_sent} sent  ${report.state}`;
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

function duration(sec: number): string {
  if (sec < 120) return `${sec} s`;
  if (sec < 7200) return `${Math.round(sec / 60)} min`;
  return `${(sec / 3600).toFixed(1)} h`;
}
