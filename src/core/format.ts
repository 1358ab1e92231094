// Human units for the command line. The console page keeps its own `bytes` (web/console/format.ts): it is
// compiled for the browser apart from src/ and served as flat files, so it cannot import this module.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1023 → "1023 B", 1536 → "1.5 KiB", 5 × 1024² → "5.0 MiB": powers of 1024, one decimal past B. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** 0.2 s, 12 s, 4 m 05 s, 2 h 03 m, 3 d 04 h: the two largest units are enough to read. */
export function formatDuration(sec: number): string {
  if (sec < 10) return `${Math.round(sec * 10) / 10} s`;
  const whole = Math.round(sec);
  if (whole < 60) return `${whole} s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (whole < 3600) return `${Math.floor(whole / 60)} m ${pad(whole % 60)} s`;
  if (whole < 86_400) return `${Math.floor(whole / 3600)} h ${pad(Math.floor(whole / 60) % 60)} m`;
  return `${Math.floor(whole / 86_400)} d ${pad(Math.floor(whole / 3600) % 24)} h`;
}

/** 0.13, 12.3, 5,001: two significant decimals for slow rates, whole numbers with separators from 100. */
export function formatRate(perSec: number): string {
  if (perSec >= 100) return Math.round(perSec).toLocaleString('en-US');
  return perSec.toFixed(perSec >= 10 ? 1 : 2);
}
