import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatDuration, formatRate } from '../../src/core/format.js';

test('bytes in powers of 1024, one decimal past bytes', () => {
  assert.deepEqual([0, 1023, 1024, 1536, 5 * 1024 ** 2, 3 * 1024 ** 4, 2048 * 1024 ** 4].map(formatBytes), [
    '0 B',
    '1023 B',
    '1.0 KiB',
    '1.5 KiB',
    '5.0 MiB',
    '3.0 TiB',
    '2048.0 TiB',
  ]);
});

test('durations in their two largest units', () => {
  assert.deepEqual([0.2, 9.96, 12.3, 245, 7380, 273_600].map(formatDuration), [
    '0.2 s',
    '10 s',
    '12 s',
    '4 m 05 s',
    '2 h 03 m',
    '3 d 04 h',
  ]);
});

test('rates: two decimals when slow, whole numbers with separators from 100', () => {
  assert.deepEqual([0, 0.126, 12.34, 99.94, 100, 5000.5].map(formatRate), [
    '0.00',
    '0.13',
    '12.3',
    '99.9',
    '100',
    '5,001',
  ]);
});
