import { sleep } from '../test/helpers/receiver.js';

/** Often enough that a start or end time found by polling is off by less than a percent of a measure. */
const INTERVAL_MS = 5;

/** Polls `check` until it returns true and resolves with `performance.now()` at that moment. */
export async function pollUntil(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs: number,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(INTERVAL_MS);
  }
  return performance.now();
}
